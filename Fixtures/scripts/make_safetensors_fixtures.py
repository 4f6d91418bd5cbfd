#!/usr/bin/env python3
"""Generate safetensors format fixtures for LayerPack's tests.

Run from the repository root:  python Fixtures/scripts/make_safetensors_fixtures.py

Writes into Fixtures/safetensors/:
  dtypes.safetensors       one small tensor per dtype the installed safetensors package can write,
                           plus a scalar (shape []) and a zero-sized (shape [0, 4]) tensor. Written by
                           the safetensors package itself (safetensors.serialize_file, fed through
                           safetensors.torch's own TensorSpec flattening).
  dtypes.expected.json     what the peer reads back: header as json.loads sees it, and every tensor's
                           values as decoded by safetensors' torch loader (safe_open(framework="pt"))
                           converted to float64.
  f6-handmade.safetensors  F6_E2M3 / F6_E3M2 tensors. The safetensors Python writer refuses these dtypes
                           (TensorSpec only knows torch dtype names), so the file is assembled here by
                           hand; safetensors.deserialize accepts it (checked below) but no peer decodes
                           the values, so the expected file gives raw bytes only.
  f6-handmade.expected.json

Everything is deterministic (fixed bit patterns, seeded RNG).
"""
from __future__ import annotations

import json
import math
import os
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import ml_dtypes
import safetensors
import safetensors.torch as st
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "safetensors"

METADATA = {"format": "pt", "producer": "layerpack-fixtures"}


def fnum(x: float):
    """float64 -> JSON value; NaN/inf as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def bits(dtype, pattern, shape):
    """Build a torch tensor of `dtype` from raw little-endian bit patterns."""
    width = torch.empty((), dtype=dtype).element_size()
    np_uint = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[width]
    raw = np.array(pattern, dtype=np_uint).reshape(shape)
    return torch.from_numpy(raw.view(np.uint8).copy()).view(dtype).reshape(shape)


def build_tensors() -> tuple[dict[str, torch.Tensor], list[str]]:
    t: dict[str, torch.Tensor] = {}
    notes: list[str] = []
    t["bool"] = torch.tensor([[True, False, True], [True, False, False]])
    t["u8"] = torch.tensor([[0, 1, 127], [128, 254, 255]], dtype=torch.uint8)
    t["i8"] = torch.tensor([[-128, -1, 0], [1, 100, 127]], dtype=torch.int8)
    t["i16"] = torch.tensor([[-32768, -1, 0], [1, 12345, 32767]], dtype=torch.int16)
    t["i32"] = torch.tensor([[-2**31, -1, 0], [1, 123456789, 2**31 - 1]], dtype=torch.int32)
    t["i64"] = torch.tensor([[-2**63, -1, 0], [1, 2**53 + 1, 2**63 - 1]], dtype=torch.int64)
    if hasattr(torch, "uint16"):
        t["u16"] = bits(torch.uint16, [0, 1, 255, 256, 40000, 65535], (2, 3))
        t["u32"] = bits(torch.uint32, [0, 1, 65536, 2**31, 3000000000, 2**32 - 1], (2, 3))
        t["u64"] = bits(torch.uint64, [0, 1, 2**32, 2**63, 2**53 + 1, 2**64 - 1], (2, 3))
    else:
        notes.append("U16/U32/U64 skipped: torch too old")
    # F16: +0, -0, 1, -2.5, max 65504, min subnormal, max subnormal, min normal, inf, -inf, nan, 1/3
    t["f16"] = bits(torch.float16, [0x0000, 0x8000, 0x3C00, 0xC100, 0x7BFF, 0x0001,
                                    0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0x3555], (2, 6))
    # BF16: +0, -0, 1, -1.5, max, min subnormal, max subnormal, min normal, inf, -inf, nan, pi
    t["bf16"] = bits(torch.bfloat16, [0x0000, 0x8000, 0x3F80, 0xBFC0, 0x7F7F, 0x0001,
                                      0x007F, 0x0080, 0x7F80, 0xFF80, 0x7FC0, 0x4049], (2, 6))
    t["f32"] = bits(torch.float32, [0x00000000, 0x80000000, 0x3F800000, 0xC0200000, 0x7F7FFFFF,
                                    0x00000001, 0x007FFFFF, 0x00800000, 0x7F800000, 0xFF800000,
                                    0x7FC00000, 0x3EAAAAAB], (2, 6))
    t["f64"] = bits(torch.float64, [0x0, 0x8000000000000000, 0x3FF0000000000000, 0xC004000000000000,
                                    0x7FEFFFFFFFFFFFFF, 0x1, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
                                    0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,
                                    0x3FD5555555555555], (2, 6))
    f8 = {
        # e4m3fn: 0, -0, min sub 2^-9, max sub, min normal, 1, -1, 448, -448, nan(0x7F), nan(0xFF), 0.1875
        "F8_E4M3": ("float8_e4m3fn", [0x00, 0x80, 0x01, 0x07, 0x08, 0x38, 0xB8, 0x7E, 0xFE, 0x7F, 0xFF, 0x1C]),
        # e5m2: 0, -0, min sub 2^-16, 1, -1, max 57344, -max, inf, -inf, nan, nan, 0.75
        "F8_E5M2": ("float8_e5m2", [0x00, 0x80, 0x01, 0x3C, 0xBC, 0x7B, 0xFB, 0x7C, 0xFC, 0x7E, 0xFF, 0x3A]),
        # e4m3fnuz: 0, nan(0x80), min sub, 1(0x40), -1, max 240, -240, 0.5, 2, 0x01.., 0x08, 0x88
        "F8_E4M3FNUZ": ("float8_e4m3fnuz", [0x00, 0x80, 0x01, 0x40, 0xC0, 0x7F, 0xFF, 0x38, 0x48, 0x07, 0x08, 0x88]),
        # e5m2fnuz: 0, nan(0x80), min sub, 1(0x40), -1, max 57344, -max, 0.5, 2, max sub, min normal, -min sub
        "F8_E5M2FNUZ": ("float8_e5m2fnuz", [0x00, 0x80, 0x01, 0x40, 0xC0, 0x7F, 0xFF, 0x3C, 0x44, 0x03, 0x04, 0x81]),
        # e8m0fnu: 2^-127, 2^-126, 0.5, 1, 2, 2^127, nan(0xFF), 2^10, 2^-10, 0x01.., 0x7D, 0xFE
        "F8_E8M0": ("float8_e8m0fnu", [0x00, 0x01, 0x7E, 0x7F, 0x80, 0xFE, 0xFF, 0x89, 0x75, 0x02, 0x7D, 0x81]),
    }
    for code, (tname, pattern) in f8.items():
        dt = getattr(torch, tname, None)
        if dt is None:
            notes.append(f"{code} skipped: torch has no {tname}")
            continue
        t[code.lower()] = bits(dt, pattern, (2, 6))
    # F4 (e2m1) packed two per byte; all 16 codes. torch storage shape [2, 4] bytes -> header shape [2, 8].
    if hasattr(torch, "float4_e2m1fn_x2"):
        packed = np.array([0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE], dtype=np.uint8).reshape(2, 4)
        t["f4"] = torch.from_numpy(packed).view(torch.float4_e2m1fn_x2)
    else:
        notes.append("F4 skipped: torch has no float4_e2m1fn_x2")
    t["c64"] = torch.tensor([1 + 2j, -3.5j, complex(float("inf"), float("nan"))], dtype=torch.complex64)
    t["scalar_f32"] = torch.tensor(3.14159265, dtype=torch.float32)
    t["empty_f32_0x4"] = torch.empty((0, 4), dtype=torch.float32)
    # a seeded random BF16 matrix with a non-trivial shape (row-major check)
    g = torch.Generator().manual_seed(1234)
    t["rand_bf16_3x5"] = torch.randn((3, 5), generator=g).to(torch.bfloat16)
    return t, notes


def decode_values(name: str, dtype_code: str, raw: bytes, loaded: torch.Tensor | None):
    """Return (values, decoder) as float64 JSON-ready lists, row-major."""
    if dtype_code == "F4":
        # torch cannot convert float4_e2m1fn_x2 to anything; decode with ml_dtypes, low nibble = even element.
        b = np.frombuffer(raw, dtype=np.uint8)
        nib = np.stack([b & 0x0F, b >> 4], axis=-1).reshape(-1)
        vals = nib.view(ml_dtypes.float4_e2m1fn).astype(np.float64)
        return [fnum(v) for v in vals], "ml_dtypes.float4_e2m1fn (low nibble = element 2i, high nibble = element 2i+1)"
    assert loaded is not None
    if dtype_code == "C64":
        c = loaded.reshape(-1)
        vals = torch.view_as_real(c).to(torch.float64).reshape(-1).tolist()
        return [fnum(v) for v in vals], "safetensors safe_open(pt) -> torch.view_as_real -> float64 (interleaved re, im)"
    if dtype_code == "BOOL":
        return [1.0 if v else 0.0 for v in loaded.reshape(-1).tolist()], "safetensors safe_open(pt) bool -> 0/1"
    if dtype_code in ("U16", "U32", "U64"):
        # torch's uint16/32/64 support few ops; reinterpret the same bytes via numpy
        npdt = {"U16": np.uint16, "U32": np.uint32, "U64": np.uint64}[dtype_code]
        ints = np.frombuffer(raw, dtype=npdt)
        assert ints.size == loaded.numel()
        return [float(int(v)) for v in ints], "raw bytes via numpy (torch uintN lacks conversion ops)"
    vals = loaded.reshape(-1).to(torch.float64).tolist()
    return [fnum(v) for v in vals], "safetensors safe_open(pt) -> torch .to(float64)"


def make_dtypes(notes: list[str]) -> None:
    tensors, more_notes = build_tensors()
    notes.extend(more_notes)
    path = OUT / "dtypes.safetensors"
    # safetensors serializes __metadata__ from a Rust HashMap, so its key order changes from call to call.
    # For a byte-for-byte reproducible fixture, write with the package until the keys come out sorted.
    want_prefix = b'{"__metadata__":' + json.dumps(dict(sorted(METADATA.items())), separators=(",", ":")).encode()
    for attempt in range(200):
        st.save_file(tensors, str(path), metadata=METADATA)
        if path.read_bytes()[8:8 + len(want_prefix)] == want_prefix:
            break
    else:
        raise RuntimeError("safetensors never wrote __metadata__ keys in sorted order")
    if attempt:
        notes.append(f"__metadata__ key order is random per write (Rust HashMap); took {attempt + 1} writes to get sorted keys")
    os.chmod(path, 0o644)

    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    assert header.get("__metadata__") == METADATA

    # The peer's own view of the file
    peer = {k: v for k, v in safetensors.deserialize(blob)}
    out_tensors = {}
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == METADATA
        for name in sorted(k for k in header if k != "__metadata__"):
            info = header[name]
            b, e = info["data_offsets"]
            raw = data[b:e]
            assert bytes(peer[name]["data"]) == raw and peer[name]["dtype"] == info["dtype"]
            assert list(peer[name]["shape"]) == info["shape"]
            loaded = f.get_tensor(name)
            values, decoder = decode_values(name, info["dtype"], raw, loaded)
            entry = {
                "dtype": info["dtype"],
                "shape": info["shape"],
                "data_offsets": [b, e],
                "values": values,
                "decoder": decoder,
                "raw_hex": raw.hex(),
            }
            if info["dtype"] in ("U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64"):
                npdt = {"U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
                        "I32": np.int32, "U64": np.uint64, "I64": np.int64}[info["dtype"]]
                entry["ints"] = [int(v) for v in np.frombuffer(raw, dtype=npdt)]
            out_tensors[name] = entry

    expected = {
        "file": "dtypes.safetensors",
        "safetensors_version": safetensors.__version__,
        "torch_version": torch.__version__,
        "header_length": n,
        "data_start": 8 + n,
        "file_size": len(blob),
        "metadata": header["__metadata__"],
        "tensor_order_in_buffer": [k for k, _ in sorted(((k, v["data_offsets"][0]) for k, v in header.items()
                                                         if k != "__metadata__"), key=lambda kv: kv[1])],
        "tensors": out_tensors,
        "notes": [
            "values: row-major, float64 as decoded by the peer; bool as 0/1; NaN as \"nan\", infinities as \"inf\"/\"-inf\".",
            "C64 values are interleaved (re, im) pairs, so len(values) == 2 * element count.",
            "F4 is not decoded by any peer loader (torch float4_e2m1fn_x2 has no casts); values follow ml_dtypes "
            "float4_e2m1fn with the low nibble holding the even element. Header shape counts F4 elements "
            "(torch storage shape [2,4] bytes -> header [2,8]).",
            "ints: exact integer values for integer dtypes (float64 loses precision past 2^53).",
            "raw_hex: the tensor's exact bytes from the data buffer.",
        ],
    }
    (OUT / "dtypes.expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(blob)} bytes), {len(out_tensors)} tensors: "
          + ", ".join(f"{k}:{v['dtype']}" for k, v in out_tensors.items()))


def make_f6(notes: list[str]) -> None:
    """F6 dtypes: the Rust core knows them but the Python writer refuses them; build the file by hand."""
    from safetensors import TensorSpec
    refused = []
    for code in ("F6_E2M3", "F6_E3M2"):
        try:
            TensorSpec(dtype=code, shape=[4], data_ptr=0, data_len=3)
        except Exception as exc:  # expected with 0.8.0
            refused.append(f"{code}: {exc}".split(". Supported")[0])
    if not refused:
        notes.append("NOTE: this safetensors version accepts F6 dtype names in TensorSpec; consider writing them via the package")
    rng = np.random.default_rng(6)
    entries = [("f6_e2m3", "F6_E2M3", [2, 4]), ("f6_e3m2", "F6_E3M2", [4])]
    header: dict = {"__metadata__": {"producer": "layerpack-fixtures", "note": "hand-built; F6 not writable via safetensors python"}}
    data = b""
    for name, code, shape in entries:
        nbits = int(np.prod(shape)) * 6
        assert nbits % 8 == 0
        raw = rng.integers(0, 256, nbits // 8, dtype=np.uint8).tobytes()
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    blob = struct.pack("<Q", len(hb)) + hb + data
    path = OUT / "f6-handmade.safetensors"
    path.write_bytes(blob)
    # The peer must accept it (header + sizes) even though it cannot decode the values.
    peer = {k: v for k, v in safetensors.deserialize(blob)}
    with safe_open(str(path), framework="pt") as f:
        slices = {k: (f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()}
        try:
            f.get_tensor("f6_e2m3")
            decodes = True
        except Exception as exc:
            decodes = f"no: {exc}"
    tensors = {}
    for name, code, shape in entries:
        b, e = header[name]["data_offsets"]
        assert bytes(peer[name]["data"]) == data[b:e] and slices[name] == (code, shape)
        tensors[name] = {"dtype": code, "shape": shape, "data_offsets": [b, e], "values": None,
                         "raw_hex": data[b:e].hex()}
    expected = {
        "file": "f6-handmade.safetensors",
        "safetensors_version": safetensors.__version__,
        "header_length": len(hb),
        "data_start": 8 + len(hb),
        "file_size": len(blob),
        "metadata": header["__metadata__"],
        "tensors": tensors,
        "peer_accepts_header": True,
        "peer_decodes_values": decodes,
        "writer_refused": refused,
        "notes": ["F6 byte size = ceil(elements * 6 / 8); values are null because no peer decodes F6 (bit order "
                  "of packing is not defined by any reader we can test against)."],
    }
    (OUT / "f6-handmade.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    notes.append("F6_E2M3/F6_E3M2: python writer refused (" + "; ".join(refused) + "); hand-built file accepted by "
                 f"safetensors.deserialize/safe_open header parsing; get_tensor decodes: {decodes}")
    print(f"wrote {path.relative_to(ROOT)} ({len(blob)} bytes)")


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    print(f"safetensors {safetensors.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"ml_dtypes {ml_dtypes.__version__}, python {sys.version.split()[0]}")
    make_dtypes(notes)
    make_f6(notes)
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()
