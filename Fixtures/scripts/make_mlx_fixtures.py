#!/usr/bin/env python3
"""Generate small MLX-LM quantized checkpoints of the tiny Gemma models, with MLX's own logits.

Run from the repository root with the MLX venv (mlx[cpu] 0.32.4 and mlx-lm 0.32.2; nothing is downloaded):

    ~/.cache/layerpack/venv-mlx/bin/python Fixtures/scripts/make_mlx_fixtures.py [NAME ...]
    ~/.cache/layerpack/venv-mlx/bin/python Fixtures/scripts/make_mlx_fixtures.py --list

Without names every variant in VARIANTS is written except the extras (tiny-gemma3-affine2-g32, tiny-gemma3-affine5-g32,
left out to keep Fixtures/mlx under 10 MB); with names only those. Each directory is removed and rewritten.
Fixtures/mlx/README.md is rewritten every time from the reference.json files that are present. The exit status is 1
when a check below fails (reload, unquantized tensors, numpy_reference, MLX vs transformers above 1e-4).

Sources are the transformers checkpoints in Fixtures/models/ (tiny-gemma3-f32, tiny-gemma3-bf16, tiny-gemma4-f32,
tiny-gemma3n-f32). Each variant is quantized by mlx-lm itself: mlx_lm.convert.convert(src, dst, quantize=True,
q_group_size, q_bits, quant_predicate), which loads with mlx_lm.utils.load, quantizes with
mlx_lm.utils.quantize_model (nn.quantize -> mx.quantize) and writes with mlx_lm.utils.save. When mlx-lm cannot
read the transformers config.json as it stands, convert reads a patched copy in a temporary directory (see
SOURCE_PATCHES and reference.json "source_patches"). The patches change no weight value:

  gemma3   + "sliding_window_pattern": 3. mlx-lm's gemma3_text ignores layer_types and puts full attention at
             layer i iff i % sliding_window_pattern == pattern - 1, with a default of 6. The tiny model's layer_types is
             [S, S, F, S, S, F], which is pattern 3. The config's "_sliding_window_pattern": 6 is a transformers
             leftover that mlx-lm does not read; with the default of 6, MLX's logits differ from transformers' by 0.56.
  gemma4   + "global_head_dim": 32. mlx-lm reads the head size of full-attention layers from global_head_dim,
             default 512. The tiny config gives it as per_layer_config {"2": {"head_dim": 32}, "4": ...}.
  gemma3n  mlx-lm 0.32.2 has no gemma3n_text module. Its gemma3n module reads the layout of the released
             multimodal checkpoints, so the copy uses that layout: config {"model_type": "gemma3n",
             "architectures": ["Gemma3nForConditionalGeneration"], "text_config": <the tiny config +
             "rope_theta": 1e6, "rope_local_base_freq": 1e4>}, with tensors renamed model.X -> model.language_model.X.
             mlx-lm builds k_proj, v_proj and k_norm for the KV-shared layers too, and the transformers checkpoint
             has none there, so the copy adds all-zero ones (listed under "filler_tensors"). They are never used
             when the model runs with a cache (below).

Writes Fixtures/mlx/<name>/:

  config.json, model.safetensors, model.safetensors.index.json, generation_config.json, README.md
        exactly as mlx_lm.convert writes them (safetensors metadata {"format": "mlx"}; config with "quantization" and
        "quantization_config"; README.md is mlx-lm's model card). No tokenizer files: the tiny models have none, and
        mlx_lm.utils.load_tokenizer is replaced by a stub (install_no_tokenizer). Left alone, transformers'
        AutoTokenizer invents a 5-token placeholder GemmaTokenizer for gemma3_text, which convert saves as
        tokenizer.json, and it raises for gemma4_text and gemma3n.
  logits.npy
        float32 [12, vocab]: MLX's forward of the checkpoint, reloaded with mlx_lm.load, over reference.json's tokens in
        one call, model(tokens[None]). It runs quantized_matmul / QuantizedEmbedding on the packed weights. The
        activation dtype is the dtype of the unquantized parameters: float32 for the f32 sources, bfloat16 for
        tiny-gemma3-bf16-* (those logits are bf16, cast to f32). For gemma3n the call passes cache=model.make_cache(),
        a fresh cache. Without a cache mlx-lm's gemma3n has KV-shared layers compute K/V with their own (here zero)
        k_proj/v_proj instead of reading the producer layer's. reference.json records that difference too.
  logits-dequantized-f32.npy
        float32 [12, vocab]: the same reloaded model after every quantized module is replaced by a float module whose
        weight is mx.dequantize(weight, scales.astype(f32), biases.astype(f32), group_size, bits). This uses
        mlx_lm.utils.dequantize_model after casting scales and biases to float32. Every other parameter is cast to
        float32 and the forward runs in float32. The difference from logits.npy is what MLX's quantized kernels (and,
        for bf16, bf16 activations) add on top of exact float32 math on the dequantized values.
  dequantized.safetensors
        every quantized weight as that float32 mx.dequantize output, under the transformers tensor name (for gemma3n
        model.language_model.X is named back to model.X; filler tensors are left out). Header metadata: format "pt",
        producer, and "quantization" (JSON: name -> group_size, bits, mode). The script writes this file itself
        (write_safetensors_f32), because safetensors' save_file writes the metadata in a different order each run.
  reference.json
        tokens; producer versions; the quantization block; source and patches; activation dtype; per-tensor
        quantization parameters and their max |dequantized - source|; max_abs_diff_quantized_vs_dequantized_f32
        (logits.npy vs logits-dequantized-f32.npy); max_abs_diff_reload_vs_in_memory (a second, in-memory
        quantization of the source by quantize_model vs the reloaded checkpoint, logits and every array);
        max_abs_diff_mlx_unquantized_vs_transformers (MLX on the unquantized source vs transformers' own logits in
        Fixtures/models; for the bf16 source this is a float32 forward against logits-f32compute.npy); and
        numpy_reference (below).

numpy_reference re-quantizes every quantized tensor with an independent numpy implementation of MLX's affine scheme
(np_affine_quantize). It uses float32 math, the bias is whichever extreme has the larger magnitude, the scale can be
negative, and q is computed with the unrounded scale. Codes are packed as one LSB-first
bitstream per row, and scales and biases are rounded to the weight dtype (bf16: round to nearest even). The check
compares the packed words, scales and biases with MLX's bit for bit, and float32 scale * q + bias with
mx.dequantize's output.

Deterministic: mlx's CPU backend, no random numbers reach the output, and every directory is rewritten. Two
consecutive runs gave identical bytes (sha256) for every file.
"""
from __future__ import annotations

import time

T0 = time.time()

import hashlib
import json
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import mlx_lm.utils
import numpy as np
import safetensors
from mlx.utils import tree_flatten, tree_map
from mlx_lm.convert import convert, mixed_quant_predicate_builder
from mlx_lm.utils import compute_bits_per_weight, dequantize_model, load_model, quantize_model
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "Fixtures" / "models"
OUT = ROOT / "Fixtures" / "mlx"


# ---------------------------------------------------------------------------------------------------------------
# Variants


def gemma3_mixed_predicate(path: str, module: nn.Module):
    """3 bits group 64 by default (True), with per-module overrides that cover every affine width and group size.

    mlx-lm records a dict answer under config["quantization"][path]. A False answer leaves the module unquantized and
    writes no entry, and a True answer writes none either (the default applies).
    """
    if path == "model.embed_tokens":  # the tied embedding, so also the output head
        return {"group_size": 32, "bits": 8, "mode": "affine"}
    if path in ("model.layers.0.mlp.down_proj", "model.layers.5.mlp.down_proj"):  # in = 128
        return {"group_size": 128, "bits": 6, "mode": "affine"}
    if path in ("model.layers.0.self_attn.v_proj", "model.layers.5.self_attn.v_proj"):
        return {"group_size": 64, "bits": 6, "mode": "affine"}
    if path == "model.layers.2.mlp.gate_proj":
        return {"group_size": 32, "bits": 5, "mode": "affine"}
    if path == "model.layers.3.mlp.up_proj":
        return {"group_size": 32, "bits": 2, "mode": "affine"}
    if path == "model.layers.4.self_attn.o_proj":  # no "mode": old configs and Gemma 4's router entry look like this
        return {"group_size": 64, "bits": 4}
    if path == "model.layers.1.self_attn.k_proj":  # an explicit entry equal to the default
        return {"group_size": 64, "bits": 3, "mode": "affine"}
    if path == "model.layers.1.self_attn.q_proj":  # stays float32: no .scales, no config entry
        return False
    return True


@dataclass
class Variant:
    name: str
    source: str  # directory under Fixtures/models
    arch: str  # gemma3 | gemma3n | gemma4
    bits: int
    group_size: int
    predicate: Optional[Callable] = None  # a callable, or the name of an mlx-lm recipe ("mixed_3_6")
    predicate_doc: str = ""
    what: str = ""
    extra: bool = False  # written only when named on the command line (keeps Fixtures/mlx under 10 MB)


VARIANTS = [
    Variant("tiny-gemma3-affine4-g32", "tiny-gemma3-f32", "gemma3", 4, 32,
            what="4 bits, group 32, everything mlx-lm quantizes by default (every Linear and the tied embedding)"),
    Variant("tiny-gemma3-affine3-g64-mixed", "tiny-gemma3-f32", "gemma3", 3, 64, gemma3_mixed_predicate,
            "gemma3_mixed_predicate in make_mlx_fixtures.py",
            "3 bits group 64 by default, per-module overrides via quant_predicate: embedding 8 bits g32, "
            "down_proj of layers 0/5 6 bits g128, v_proj of layers 0/5 6 bits g64, layer 2 gate_proj 5 bits g32, "
            "layer 3 up_proj 2 bits g32, layer 4 o_proj 4 bits g64 (entry without \"mode\"), layer 1 k_proj an "
            "explicit 3/64 entry, layer 1 q_proj left float32"),
    Variant("tiny-gemma3-mixed_3_6-g64", "tiny-gemma3-f32", "gemma3", 3, 64, "mixed_3_6",
            "mlx-lm recipe mixed_3_6 (convert --quant-predicate mixed_3_6)",
            "mlx-lm's own recipe mixed_3_6 as the CLI runs it: a per-module entry for every quantized module, "
            "v_proj and down_proj of layers 2 and 5 at 6 bits, everything else (embedding included) 3 bits, group 64"),
    Variant("tiny-gemma3-affine8-g64", "tiny-gemma3-f32", "gemma3", 8, 64, what="8 bits, group 64"),
    Variant("tiny-gemma3-affine2-g32", "tiny-gemma3-f32", "gemma3", 2, 32, what="2 bits, group 32", extra=True),
    Variant("tiny-gemma3-affine5-g32", "tiny-gemma3-f32", "gemma3", 5, 32, what="5 bits, group 32 (bitstream packing)",
            extra=True),
    Variant("tiny-gemma3-bf16-affine4-g64", "tiny-gemma3-bf16", "gemma3", 4, 64,
            what="mlx-lm's defaults (4 bits, group 64) on the bf16 checkpoint: scales and biases are bfloat16, as in "
                 "published MLX checkpoints; MLX's forward runs in bf16"),
    Variant("tiny-gemma4-affine4-g32", "tiny-gemma4-f32", "gemma4", 4, 32,
            what="Gemma 4, 4 bits, group 32 (mlx-lm's Gemma 4 quant_predicate: everything; embed_tokens_per_layer "
                 "[512, 80] is not a whole number of groups and stays float32)"),
    Variant("tiny-gemma3n-affine4-g32", "tiny-gemma3n-f32", "gemma3n", 4, 32,
            what="Gemma 3n in the multimodal layout mlx-lm reads, 4 bits, group 32 (tensors whose rows are not a "
                 "whole number of groups stay float32)"),
]
BY_NAME = {v.name: v for v in VARIANTS}

SOURCE_PATCHES = {
    "gemma3": {"sliding_window_pattern": 3},
    "gemma4": {"global_head_dim": 32},
    "gemma3n": {"text_config": {"rope_theta": 1000000.0, "rope_local_base_freq": 10000.0}},
}


class NoTokenizer:
    """Stands in for mlx-lm's tokenizer: the tiny models have none (see install_no_tokenizer)."""

    def save_pretrained(self, path):
        pass


def install_no_tokenizer():
    """mlx_lm.utils.load (used by convert and mlx_lm.load) always loads a tokenizer through transformers'
    AutoTokenizer. Without tokenizer files AutoTokenizer invents a 5-token placeholder GemmaTokenizer for gemma3_text,
    which convert would then save as tokenizer.json and tokenizer_config.json, and raises for gemma4_text and gemma3n.
    Replace mlx_lm.utils.load_tokenizer with a stub, so that nothing about tokenizers is loaded or written."""
    mlx_lm.utils.load_tokenizer = lambda *args, **kwargs: NoTokenizer()


# ---------------------------------------------------------------------------------------------------------------
# Source preparation


def prepare_source(v: Variant, tmp: Path):
    """A directory mlx-lm can convert, and a map from MLX parameter prefixes back to transformers names."""
    src = MODELS / v.source
    cfg = json.loads((src / "config.json").read_text())
    d = tmp / v.source
    d.mkdir(parents=True)
    shutil.copy(src / "generation_config.json", d)  # convert's save() copies it from the source
    fillers = []
    if v.arch in ("gemma3", "gemma4"):
        cfg.update(SOURCE_PATCHES[v.arch])
        shutil.copy(src / "model.safetensors", d)
        to_hf = lambda name: name  # noqa: E731
    elif v.arch == "gemma3n":
        text = dict(cfg)
        text.update(SOURCE_PATCHES["gemma3n"]["text_config"])
        cfg = {"architectures": ["Gemma3nForConditionalGeneration"], "model_type": "gemma3n", "text_config": text}
        w = mx.load(str(src / "model.safetensors"))
        out = {"model.language_model." + k.removeprefix("model."): a for k, a in w.items()}
        first_shared = text["num_hidden_layers"] - text["num_kv_shared_layers"]
        for i in range(first_shared, text["num_hidden_layers"]):
            for s in ("k_proj.weight", "v_proj.weight", "k_norm.weight"):
                name = f"model.language_model.layers.{i}.self_attn.{s}"
                assert name not in out, name
                out[name] = mx.zeros_like(out[f"model.language_model.layers.0.self_attn.{s}"])
                fillers.append(name)
        mx.save_safetensors(str(d / "model.safetensors"), dict(sorted(out.items())), metadata={"format": "pt"})
        to_hf = lambda name: "model." + name.removeprefix("model.language_model.")  # noqa: E731
    else:
        raise ValueError(v.arch)
    (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return d, to_hf, sorted(fillers)


# ---------------------------------------------------------------------------------------------------------------
# Forward passes


def forward(model, tokens, arch: str, use_cache: Optional[bool] = None) -> np.ndarray:
    if use_cache is None:
        use_cache = arch == "gemma3n"
    x = mx.array(tokens, dtype=mx.int32)[None]
    out = model(x, cache=model.make_cache()) if use_cache else model(x)
    out = out[0].astype(mx.float32)
    mx.eval(out)
    return np.array(out)


def float_dtype_of(model) -> str:
    dts = {str(a.dtype) for _, a in tree_flatten(model.parameters()) if mx.issubdtype(a.dtype, mx.floating)}
    return ",".join(sorted(d.removeprefix("mlx.core.") for d in dts))


def quantized_modules(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding))]


def dequantize_to_f32(model):
    """mlx_lm.utils.dequantize_model after casting scales/biases to f32, then every float parameter to f32."""
    for _, m in quantized_modules(model):
        assert m.mode == "affine", m.mode
        m.scales = m.scales.astype(mx.float32)
        m.biases = m.biases.astype(mx.float32)
    model = dequantize_model(model)
    model.update(tree_map(lambda a: a.astype(mx.float32) if mx.issubdtype(a.dtype, mx.floating) else a,
                          model.parameters()))
    mx.eval(model.parameters())
    return model


def cast_f32(model):
    model.update(tree_map(lambda a: a.astype(mx.float32) if mx.issubdtype(a.dtype, mx.floating) else a,
                          model.parameters()))
    mx.eval(model.parameters())
    return model


# ---------------------------------------------------------------------------------------------------------------
# Independent numpy affine quantizer (interop.md section 4.1)


def bf16_round_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even (finite inputs)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def mx_to_np(a: mx.array) -> np.ndarray:
    """Exact numpy copy; bfloat16 comes back as its uint16 bit patterns."""
    if a.dtype == mx.bfloat16:
        return np.array(a.view(mx.uint16))
    return np.array(a)


def np_affine_quantize(w: np.ndarray, group_size: int, bits: int):
    """w: float32 [rows, cols]. Returns (q uint32 codes [rows, cols], scale f32 [rows, groups], bias f32)."""
    rows, cols = w.shape
    g = w.reshape(rows, cols // group_size, group_size).astype(np.float32)
    n_bins = np.float32(2**bits - 1)
    eps = np.float32(1e-7)
    wmax = g.max(-1)
    wmin = g.min(-1)
    mask = np.abs(wmin) > np.abs(wmax)
    scale = np.maximum((wmax - wmin) / n_bins, eps).astype(np.float32)
    scale = np.where(mask, scale, -scale).astype(np.float32)
    edge = np.where(mask, wmin, wmax).astype(np.float32)
    q0 = np.rint(edge / scale).astype(np.float32)
    nz = q0 != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nz, edge / q0, scale).astype(np.float32)
    bias = np.where(nz, edge, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint((g - bias[..., None]) / scale[..., None]), 0, n_bins).astype(np.uint32)
    return q.reshape(rows, cols), scale, bias


def np_pack(q: np.ndarray, bits: int) -> np.ndarray:
    """Codes [rows, cols] -> uint32 [rows, cols*bits/32]: one little-endian, LSB-first bitstream per row."""
    rows, cols = q.shape
    bitplanes = ((q[..., None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    stream = np.packbits(bitplanes.reshape(rows, cols * bits), axis=-1, bitorder="little")
    return np.ascontiguousarray(stream).view("<u4").reshape(rows, cols * bits // 32)


def np_unpack(packed: np.ndarray, bits: int, cols: int) -> np.ndarray:
    rows = packed.shape[0]
    stream = np.unpackbits(np.ascontiguousarray(packed.astype("<u4")).view(np.uint8).reshape(rows, -1),
                           axis=-1, bitorder="little")
    planes = stream[:, : cols * bits].reshape(rows, cols, bits).astype(np.uint32)
    return (planes << np.arange(bits, dtype=np.uint32)).sum(-1).astype(np.uint32)


@dataclass
class QSnap:
    weight: mx.array
    scales: mx.array
    biases: mx.array
    group_size: int
    bits: int
    mode: str
    is_embedding: bool


def check_against_numpy(source_w: mx.array, qm: QSnap, dequantized_f32: np.ndarray) -> dict:
    """Re-quantize one tensor in numpy and compare with MLX's arrays bit for bit."""
    w32 = np.array(source_w.astype(mx.float32))
    gs, bits = qm.group_size, qm.bits
    q, scale, bias = np_affine_quantize(w32, gs, bits)
    packed = np_pack(q, bits)
    mlx_packed = np.array(qm.weight)
    mlx_scales = mx_to_np(qm.scales)
    mlx_biases = mx_to_np(qm.biases)
    if qm.scales.dtype == mx.bfloat16:
        ours_s, ours_b = bf16_round_bits(scale), bf16_round_bits(bias)
        s_f32, b_f32 = bf16_to_f32(mlx_scales), bf16_to_f32(mlx_biases)
        same_s = np.array_equal(ours_s, mlx_scales)
        same_b = np.array_equal(ours_b, mlx_biases)
    else:
        s_f32, b_f32 = mlx_scales, mlx_biases
        same_s = np.array_equal(scale.view(np.uint32), mlx_scales.view(np.uint32))
        same_b = np.array_equal(bias.view(np.uint32), mlx_biases.view(np.uint32))
    rows, cols = w32.shape
    codes = np_unpack(mlx_packed, bits, cols)
    assert np.array_equal(np_pack(codes, bits), mlx_packed), "unpack/pack round trip"
    # float32 scale * q + bias from MLX's own stored arrays, no fused multiply-add
    deq = (s_f32[..., None] * codes.reshape(rows, cols // gs, gs).astype(np.float32)
           + b_f32[..., None]).astype(np.float32).reshape(rows, cols)
    diff_bits = deq.view(np.uint32) != dequantized_f32.view(np.uint32)
    return {
        "packed_equal": bool(np.array_equal(packed, mlx_packed)),
        "codes_differing": int((np_unpack(packed, bits, cols) != codes).sum()),
        "scales_equal": bool(same_s),
        "biases_equal": bool(same_b),
        "dequant_bitexact": bool(not diff_bits.any()),
        "dequant_elements_differing": int(diff_bits.sum()),
        "dequant_max_abs_diff": float(np.abs(deq - dequantized_f32).max()),
    }


# ---------------------------------------------------------------------------------------------------------------
# One variant


def write_safetensors_f32(path: Path, tensors: dict, metadata: dict) -> None:
    """A float32 safetensors file with a deterministic header: safetensors.numpy.save_file writes the metadata in
    hash-map order, which changes from run to run. Tensors and keys are sorted; the header is padded to 8 bytes."""
    header, offset, blobs = {"__metadata__": dict(sorted(metadata.items()))}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def build_variant(v: Variant) -> dict:
    dst = OUT / v.name
    if dst.exists():
        shutil.rmtree(dst)
    src_dir = MODELS / v.source
    src_ref = json.loads((src_dir / "reference.json").read_text())
    tokens = src_ref["tokens"]

    with tempfile.TemporaryDirectory(prefix="lpk-mlx-") as tmp:
        tmp = Path(tmp)
        prepared, to_hf, fillers = prepare_source(v, tmp)

        # 1. mlx-lm converts and writes the checkpoint.
        convert(str(prepared), str(dst), quantize=True, q_group_size=v.group_size, q_bits=v.bits,
                q_mode="affine", quant_predicate=v.predicate)

        # 2. MLX's logits from the reloaded checkpoint (the public loader).
        model, _tok, cfg = mlx_lm.load(str(dst), return_config=True)
        act_dtype = float_dtype_of(model)
        logits = forward(model, tokens, v.arch)
        bpw = compute_bits_per_weight(model)
        reloaded = dict(tree_flatten(model.parameters()))
        # Snapshot of the quantized modules (dequantize_to_f32 below changes them in place).
        qmods = {n: QSnap(m.weight, m.scales, m.biases, m.group_size, m.bits, m.mode,
                          isinstance(m, nn.QuantizedEmbedding)) for n, m in quantized_modules(model)}
        logits_nocache = forward(model, tokens, v.arch, use_cache=False) if v.arch == "gemma3n" else None

        # 3. An in-memory quantization of the same source must give the same arrays and logits.
        mem, mem_cfg = load_model(prepared)
        pred = v.predicate
        if isinstance(pred, str):
            pred = mixed_quant_predicate_builder(pred, mem, v.group_size)
        mem, mem_qcfg = quantize_model(mem, mem_cfg, v.group_size, v.bits, mode="affine", quant_predicate=pred)
        mem_params = dict(tree_flatten(mem.parameters()))
        assert set(mem_params) == set(reloaded), set(mem_params) ^ set(reloaded)
        arrays_identical = all(
            mem_params[k].dtype == reloaded[k].dtype and np.array_equal(mx_to_np(mem_params[k]), mx_to_np(reloaded[k]))
            for k in reloaded)
        assert mem_qcfg["quantization"] == cfg["quantization"], (mem_qcfg["quantization"], cfg["quantization"])
        logits_mem = forward(mem, tokens, v.arch)
        del mem

        # 4. MLX on the unquantized source, against transformers' own logits.
        unq, _ = load_model(prepared)
        if v.source.endswith("-bf16"):
            unq = cast_f32(unq)
            hf_name = "logits-f32compute.npy"
        else:
            hf_name = "logits.npy"
        hf_logits = np.load(src_dir / hf_name)
        logits_unq = forward(unq, tokens, v.arch)
        del unq
        source_weights = mx.load(str(prepared / "model.safetensors"))

        # 5. Dequantize in float32 and run in float32.
        deq_model = dequantize_to_f32(model)
        logits_deq = forward(deq_model, tokens, v.arch)
        deq_params = dict(tree_flatten(deq_model.parameters()))

    # Per-tensor records, dequantized.safetensors and the numpy cross-check.
    tensors, deq_out, qparams = {}, {}, {}
    checks = []
    for path, qm in sorted(qmods.items()):
        mlx_name = f"{path}.weight"
        w_deq = np.array(deq_params[mlx_name])
        assert w_deq.dtype == np.float32
        src_w = source_weights[mlx_name]
        err = float(np.abs(w_deq - np.array(src_w.astype(mx.float32))).max())
        chk = check_against_numpy(src_w, qm, w_deq)
        checks.append(chk)
        rec = {
            "mlx_name": path,
            "bits": qm.bits,
            "group_size": qm.group_size,
            "mode": qm.mode,
            "kind": "embedding" if qm.is_embedding else "linear",
            "shape": list(w_deq.shape),
            "packed_shape": list(qm.weight.shape),
            "scales_dtype": str(qm.scales.dtype).removeprefix("mlx.core."),
            "max_abs_err_vs_source": err,
        }
        if mlx_name in fillers:
            rec["filler"] = True
        else:
            hf = to_hf(mlx_name)
            deq_out[hf] = w_deq
            qparams[hf] = {"group_size": qm.group_size, "bits": qm.bits, "mode": qm.mode}
        tensors[to_hf(mlx_name) if mlx_name not in fillers else mlx_name] = rec

    write_safetensors_f32(dst / "dequantized.safetensors", deq_out, {
        "format": "pt",
        "producer": f"mx.dequantize in float32 (mlx {mx.__version__}, mlx-lm {mlx_lm.__version__})",
        "quantization": json.dumps(qparams, sort_keys=True, separators=(",", ":")),
    })
    assert all(np.array_equal(a, deq_out[k]) for k, a in load_file(str(dst / "dequantized.safetensors")).items())
    np.save(dst / "logits.npy", logits.astype(np.float32))
    np.save(dst / "logits-dequantized-f32.npy", logits_deq.astype(np.float32))

    # Unquantized tensors must be the source's, unchanged.
    unquantized = sorted(k for k in reloaded if not any(k.startswith(p + ".") for p in qmods))
    unq_identical = all(
        reloaded[k].dtype == source_weights[k].dtype
        and np.array_equal(mx_to_np(reloaded[k]), mx_to_np(source_weights[k])) for k in unquantized)
    dropped = sorted(set(source_weights) - set(reloaded) - {f"{p}.weight" for p in qmods})

    def agg(key):
        return all(c[key] for c in checks)

    ref = {
        "name": v.name,
        "what": v.what,
        "tokens": tokens,
        "source": f"Fixtures/models/{v.source}",
        "arch": v.arch,
        "source_patches": SOURCE_PATCHES[v.arch],
        "filler_tensors": fillers,
        "producer": {
            "mlx": mx.__version__,
            "mlx_lm": mlx_lm.__version__,
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
            "python": platform.python_version(),
            "device": str(mx.default_device()),
        },
        "command": (f"mlx_lm.convert.convert(<source>, <dir>, quantize=True, q_group_size={v.group_size}, "
                    f"q_bits={v.bits}, q_mode='affine', quant_predicate="
                    f"{v.predicate_doc or None})"),
        "quantization": cfg["quantization"],
        "bits_per_weight": round(float(bpw), 4),
        "activation_dtype": act_dtype,
        "forward": ("model(tokens[None], cache=model.make_cache())" if v.arch == "gemma3n"
                    else "model(tokens[None])"),
        "logits_shape": list(logits.shape),
        "logits_std": float(logits.std()),
        "logits_max_abs": float(np.abs(logits).max()),
        "max_abs_diff_quantized_vs_dequantized_f32": float(np.abs(logits - logits_deq).max()),
        "max_abs_diff_reload_vs_in_memory": float(np.abs(logits - logits_mem).max()),
        "arrays_identical_reload_vs_in_memory": bool(arrays_identical),
        "max_abs_diff_mlx_unquantized_vs_transformers": float(np.abs(logits_unq - hf_logits).max()),
        "transformers_reference": f"Fixtures/models/{v.source}/{hf_name}",
        "max_abs_diff_quantized_vs_transformers_unquantized": float(np.abs(logits - hf_logits).max()),
        "max_abs_diff_dequantized_f32_vs_transformers_unquantized": float(np.abs(logits_deq - hf_logits).max()),
        "greedy_next": [int(t) for t in logits.argmax(-1)],
        "greedy_next_dequantized_f32": [int(t) for t in logits_deq.argmax(-1)],
        "greedy_agree_dequantized_f32": int((logits.argmax(-1) == logits_deq.argmax(-1)).sum()),
        "greedy_agree_with_transformers_unquantized": int((logits.argmax(-1) == hf_logits.argmax(-1)).sum()),
        "unquantized_tensors": unquantized,
        "unquantized_tensors_identical_to_source": bool(unq_identical),
        "source_tensors_not_in_checkpoint": dropped,
        "numpy_reference": {
            "tensors": len(checks),
            "packed_equal": agg("packed_equal"),
            "scales_equal": agg("scales_equal"),
            "biases_equal": agg("biases_equal"),
            "dequant_bitexact": agg("dequant_bitexact"),
            "codes_differing": sum(c["codes_differing"] for c in checks),
            "dequant_elements_differing": sum(c["dequant_elements_differing"] for c in checks),
            "dequant_max_abs_diff": max(c["dequant_max_abs_diff"] for c in checks),
        },
        "tensors": tensors,
    }
    if logits_nocache is not None:
        ref["max_abs_diff_without_cache"] = float(np.abs(logits_nocache - logits).max())
    (dst / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")
    files = {p.name: sha256(p) for p in sorted(dst.iterdir())}
    print(f"[{v.name}] act {act_dtype}, bpw {bpw:.3f}, q-vs-deqf32 {ref['max_abs_diff_quantized_vs_dequantized_f32']:.3g}, "
          f"reload-vs-mem {ref['max_abs_diff_reload_vs_in_memory']:.3g}, "
          f"mlx-vs-hf {ref['max_abs_diff_mlx_unquantized_vs_transformers']:.3g}, numpy {ref['numpy_reference']}")
    return {"ref": ref, "files": files}


# ---------------------------------------------------------------------------------------------------------------
# README


README_HEAD = """# Tiny MLX-LM quantized checkpoints with MLX's own logits

Made by `Fixtures/scripts/make_mlx_fixtures.py`. Its docstring gives every detail. To regenerate, run it from the
repository root with the MLX venv:

    ~/.cache/layerpack/venv-mlx/bin/python Fixtures/scripts/make_mlx_fixtures.py [NAME ...]

- **Producer.** mlx {mlx} (`mlx[cpu]`, CPU backend) and mlx-lm {mlx_lm}, with numpy {numpy}, safetensors
  {safetensors} and Python {python}. Nothing is downloaded. To recreate the venv: `python3 -m venv
  ~/.cache/layerpack/venv-mlx && ~/.cache/layerpack/venv-mlx/bin/pip install "mlx[cpu]==0.32.4" mlx-lm==0.32.2`.
  mlx-lm also installs transformers, 5.24.0 here, which it uses only for tokenizers; the script stubs those out.
- **How it was made.** Each directory was written by `mlx_lm.convert.convert(src, dst, quantize=True, q_group_size,
  q_bits, quant_predicate)` from a checkpoint in `Fixtures/models/`. That is the code behind `mlx_lm.convert -q`.
  The files are the ones mlx-lm writes: `config.json` with `quantization` and `quantization_config`,
  `model.safetensors` with metadata `{{"format": "mlx"}}`, and `model.safetensors.index.json`, which is written even
  for one shard. Convert also writes `generation_config.json` (copied) and `README.md` (its model card). The
  script adds `logits.npy`, `logits-dequantized-f32.npy`, `dequantized.safetensors` and `reference.json`.
- **Deterministic.** Two consecutive runs gave identical bytes for every file; this was checked with sha256.
- **Runtime.** About 4 s on 2 cores.
- **Extras.** `tiny-gemma3-affine2-g32` and `tiny-gemma3-affine5-g32` (whole-model 2- and 5-bit) are written only
  when named, to keep this directory under 10 MB. The mixed directory already has 2-, 5- and 6-bit tensors.

## Directories

| dir | quantization (default, per-module entries) | bpw | act. dtype | size | quantized vs dequantized-f32 logits | MLX unquantized vs transformers | quantized vs transformers unquantized | greedy = deq-f32 |
|---|---|---|---|---|---|---|---|---|
"""

README_TAIL = """
What each directory holds:

{what}

## Files

- `logits.npy` holds float32 `[12, vocab]` logits. The checkpoint is reloaded with `mlx_lm.load` and run in one
  call on the whole sequence, `model(tokens[None])`. For gemma3n the call is `model(tokens[None],
  cache=model.make_cache())`; see below. The quantized weights go through `quantized_matmul` and
  `QuantizedEmbedding`. Activations are float32 for the f32 sources. `tiny-gemma3-bf16-affine4-g64` runs in
  bfloat16, as MLX runs a bf16 checkpoint, and its logits are cast to f32.
- `logits-dequantized-f32.npy` is the same model with every quantized module dequantized (`mx.dequantize` with scales
  and biases cast to float32, through `mlx_lm.utils.dequantize_model`). Every other parameter is cast to float32 and
  the forward runs in float32. This is the tight reference for an implementation that dequantizes exactly and
  computes in float32. `max_abs_diff_quantized_vs_dequantized_f32` (the table) is how far MLX's own quantized kernels
  are from that.
- `dequantized.safetensors` holds every quantized weight as that float32 `mx.dequantize` output, under the
  transformers tensor name (`model.layers.N.mlp.down_proj.weight`, `model.embed_tokens.weight`, ...). The header
  metadata `quantization` is JSON giving `name -> {{group_size, bits, mode}}`. Compare a dequantizer against it bit
  for bit.
- `reference.json` has the tokens, versions, the quantization block, the patches applied to the source config,
  per-tensor parameters (`tensors`: bits, group size, packed shape, scales dtype, max |dequantized - source|), the
  diffs in the table, greedy tokens, and `numpy_reference`.

## Checks (all passed, for every directory)

- **Reload.** The checkpoint reloaded with `mlx_lm.load` has the same arrays, bit for bit, and the same config
  `quantization` block as a second quantization of the source in memory (`mlx_lm.utils.load_model` +
  `quantize_model`). The two give identical logits (`max_abs_diff_reload_vs_in_memory` = 0).
- **Unquantized tensors.** Norms, `layer_scalar`, and the matrices that are not quantized are the source tensors
  unchanged (same dtype, same bits). mlx-lm stores the Gemma 3 norm weights raw, without the +1 that `RMSNorm` adds
  at run time (`mx.fast.rms_norm(x, 1.0 + weight)`). Gemma 3n and Gemma 4 use plain `nn.RMSNorm` with no shift.
- **numpy_reference.** An independent numpy implementation of MLX's affine scheme (`np_affine_quantize`) reproduces every
  packed `uint32` word, every scale and every bias bit for bit: {numpy_summary}. Its details: float32 math; the
  bias is the extreme of larger magnitude, so the scale can be negative; q is computed with the unrounded scale;
  for bf16, scale and bias are rounded to nearest even afterwards. The codes form one LSB-first bitstream per row
  (3, 5 and 6 bits cross byte and word boundaries). Float32 `scale * q + bias`, with no fused multiply-add, equals
  `mx.dequantize`'s float32 output bit for bit.
- **MLX vs transformers.** MLX on the unquantized source agrees with transformers' own logits in `Fixtures/models/`
  to within the column above (float32 rounding, ~1e-5). The MLX graph is therefore the same model, and the other
  columns measure quantization only.

## What mlx-lm does that a reader must know

- **Tied embedding, no lm_head.** All three sources have tied embeddings. Gemma 3's `sanitize` sees no
  `lm_head.weight`, sets `tie_word_embeddings` and deletes the `lm_head` module. The checkpoint has no
  `lm_head.*`, and the logits come from `embed_tokens.as_linear(h)`, which is `quantized_matmul` with the
  **quantized embedding** (the same weight, scales and biases as the lookup). The embedding's quantization is
  therefore also the output head's; in the mixed directory that is 8 bits g32. Gemma 3n and Gemma 4 behave the
  same way, and both apply the final logit softcap (30).
- **Embedding scale.** Gemma 3 multiplies by `bf16(sqrt(hidden))` cast to the activation dtype. Gemma 3n and
  Gemma 4 multiply by the Python float `sqrt(hidden)`, with no bf16 rounding. With hidden = 64 the scale is 8 and
  exact, so these fixtures cannot tell the two apart. At hidden 2560, for example, `bf16(sqrt)` = 50.5 while
  `sqrt` = 50.596.
- **What gets quantized.** `quantize_model` quantizes every `Linear` and `Embedding` whose last dimension is divisible
  by the **default** group size, whatever group size the predicate returns for that module. Everything else stays
  float with no entry in the config: Gemma 3n/4 `embed_tokens_per_layer` [*, 80], Gemma 3n `per_layer_projection`
  [64, 16], `laurel.linear_right` [64, 8], `altup.prediction_coefs` [16, 4], `altup.correction_coefs` [4, 4]. A
  predicate answer of `False` also leaves no entry (layer 1 `q_proj` in the mixed directory); the loader sees no
  `.scales` and builds a float module. A dict answer is written verbatim, so an entry can lack `"mode"` (layer 4
  `o_proj`), which the loader reads as affine. `mixed_3_6` writes an entry for every quantized module.
- **dtype.** convert casts the float parameters to the config's `torch_dtype` (or, for a nested config,
  `text_config.dtype`). transformers 5 writes `dtype` at the top level, not `torch_dtype`, so nothing is cast. The
  f32 sources stay float32, with float32 scales and biases. The bf16 source keeps
  bfloat16 scales and biases, which is what published MLX checkpoints have.
- **No tokenizer.** `mlx_lm.utils.load` always loads a tokenizer through transformers' AutoTokenizer. Without
  tokenizer files AutoTokenizer invents a placeholder `GemmaTokenizer` with only 5 special tokens for `gemma3_text`,
  and convert saves it as `tokenizer.json` and `tokenizer_config.json`. For `gemma4_text` and `gemma3n` it raises
  instead. The script therefore replaces `mlx_lm.utils.load_tokenizer` with a stub, and no tokenizer file is
  written.
- **bf16 on the CPU backend.** MLX's CPU `quantized_matmul` in bfloat16 is far less accurate than a float32
  accumulation. Its error grows with the inner dimension, as if partial sums were rounded to bf16. In a standalone
  test with 12 x K inputs and N(0, 1) values, the error against float32 math on the same dequantized weights was
  0.42 at K = 64 (outputs up to 31), 2.3 at K = 256 and 6.3 at K = 1024. A bf16 matmul of the dequantized weights
  was 0.15 / 0.25 / 0.51. So `logits.npy` of `tiny-gemma3-bf16-affine4-g64` is loose and CPU-specific, and Metal
  will not reproduce it. Compare against `logits-dequantized-f32.npy`. In float32, MLX's CPU `quantized_matmul`
  equals `mx.dequantize` followed by a float32 matmul bit for bit, which is why that column is 0 for the f32
  directories.

## Source config patches (reference.json `source_patches`)

mlx-lm 0.32.2 cannot read the tiny transformers configs as they stand. The patches below change no weight, and
they are in the written `config.json`:

- **gemma3 `sliding_window_pattern: 3`.** mlx-lm's `gemma3_text` ignores `layer_types` and `rope_parameters`. It
  takes layer i to be full attention iff `i % sliding_window_pattern == pattern - 1`, with a default pattern of 6. It
  uses `rope_theta` (default 1e6) for full layers and `rope_local_base_freq` (default 1e4) for sliding ones; those
  defaults match the tiny model. The tiny `layer_types` [S, S, F, S, S, F] is pattern 3. The config's
  `_sliding_window_pattern: 6` is a transformers leftover that mlx-lm does not read. Unpatched, MLX treats layer 2 as
  sliding and its logits differ from transformers' by 0.56.
- **gemma4 `global_head_dim: 32`.** mlx-lm sizes full-attention layers by `global_head_dim`, default 512. The tiny
  config says it as `per_layer_config: {{"2": {{"head_dim": 32}}, "4": ...}}`, which mlx-lm does not read.
- **gemma3n.** mlx-lm 0.32.2 has no `gemma3n_text`; model type `gemma3n_text` is "not supported". Its `gemma3n`
  module reads the released multimodal layout, so the script converts a copy in that layout:
  - config `{{"model_type": "gemma3n", "architectures": ["Gemma3nForConditionalGeneration"], "text_config": <tiny
    config + rope_theta 1e6, rope_local_base_freq 1e4>}}`;
  - tensors `model.language_model.*`;
  - all-zero `k_proj`, `v_proj` and `k_norm` added for the KV-shared layers 3 and 4 (`filler_tensors`). mlx-lm
    builds those modules for every layer, and the transformers checkpoint has none there.

  The logits need `cache=model.make_cache()`. Only then do the KV-shared layers read the producer layer's K/V. Without
  a cache mlx-lm's gemma3n computes them from the layer's own `k_proj`/`v_proj`: the logits move by
  `max_abs_diff_without_cache` = {nocache}. Gemma 4's forward shares K/V without a cache.
"""


def write_readme() -> None:
    refs = []
    for d in sorted(OUT.iterdir()):
        if d.is_dir() and (d / "reference.json").exists():
            refs.append((d, json.loads((d / "reference.json").read_text())))
    if not refs:
        return
    prod = refs[0][1]["producer"]
    text = README_HEAD.format(**prod)
    whats = []
    nocache = "n/a"
    total_checks, ok = 0, 0
    for d, r in refs:
        q = r["quantization"]
        per = {k: e for k, e in q.items() if isinstance(e, dict)}
        size = sum(p.stat().st_size for p in d.iterdir())
        text += (f"| `{d.name}` | {q['bits']} bits g{q['group_size']} {q.get('mode', 'affine')}, {len(per)} entries "
                 f"| {r['bits_per_weight']:.2f} | {r['activation_dtype']} | {size / 1e6:.2f} MB "
                 f"| {r['max_abs_diff_quantized_vs_dequantized_f32']:.3g} "
                 f"| {r['max_abs_diff_mlx_unquantized_vs_transformers']:.2g} "
                 f"| {r['max_abs_diff_quantized_vs_transformers_unquantized']:.3g} "
                 f"| {r['greedy_agree_dequantized_f32']}/{len(r['tokens'])} |\n")
        whats.append(f"- `{d.name}` (from `{r['source']}`): {r['what']}.")
        if per:
            bw = sorted({(e["bits"], e["group_size"]) for e in per.values()})
            whats[-1] += " Entries use " + ", ".join(f"{b} bits g{g}" for b, g in bw) + "."
        unq = [t for t in r["unquantized_tensors"] if t.endswith(".weight") and "norm" not in t]
        if unq:
            whats[-1] += f" Float matrices not quantized: {len(unq)}."
        if "max_abs_diff_without_cache" in r:
            nocache = f"{r['max_abs_diff_without_cache']:.3g}"
        nr = r["numpy_reference"]
        total_checks += nr["tensors"]
        if nr["packed_equal"] and nr["scales_equal"] and nr["biases_equal"] and nr["dequant_bitexact"]:
            ok += nr["tensors"]
    total = sum(p.stat().st_size for d, _ in refs for p in d.iterdir())
    text += (f"\nTotal: {total / 1e6:.2f} MB. The transformers reference of the column \"MLX unquantized vs "
             "transformers\" is the source's `logits.npy`; for the bf16 source it is `logits-f32compute.npy`, and MLX "
             "runs the bf16 weights in float32.\n")
    text += README_TAIL.format(what="\n".join(whats), nocache=nocache,
                               numpy_summary=f"{ok} of {total_checks} quantized tensors")
    (OUT / "README.md").write_text(text)


def main() -> int:
    args = sys.argv[1:]
    if args == ["--list"]:
        for v in VARIANTS:
            print(f"{v.name}{' (extra)' if v.extra else ''}: {v.what}")
        return 0
    names = args or [v.name for v in VARIANTS if not v.extra]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print(f"unknown variant(s): {unknown}; --list shows them", file=sys.stderr)
        return 2
    mx.set_default_device(mx.cpu)
    install_no_tokenizer()
    OUT.mkdir(parents=True, exist_ok=True)
    failures = []
    for n in names:
        r = build_variant(BY_NAME[n])["ref"]
        nr = r["numpy_reference"]
        if not (r["arrays_identical_reload_vs_in_memory"] and r["max_abs_diff_reload_vs_in_memory"] == 0.0
                and r["unquantized_tensors_identical_to_source"] and nr["packed_equal"] and nr["scales_equal"]
                and nr["biases_equal"] and nr["dequant_bitexact"]
                and r["max_abs_diff_mlx_unquantized_vs_transformers"] < 1e-4):
            failures.append(n)
    write_readme()
    print(f"done in {time.time() - T0:.1f} s")
    if failures:
        print(f"checks failed: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
