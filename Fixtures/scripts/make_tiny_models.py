#!/usr/bin/env python3
"""Generate tiny Gemma 3 / Gemma 3n / Gemma 4 text models with transformers' own logits.

Run from the repository root (with the peers' venv, nothing is downloaded):

    HF_HUB_OFFLINE=1 python Fixtures/scripts/make_tiny_models.py

For each architecture A in gemma3, gemma3n, gemma4 it builds a tiny text-only causal LM from a config
alone (Gemma3TextConfig + Gemma3ForCausalLM, Gemma3nTextConfig + Gemma3nForCausalLM,
Gemma4TextConfig + Gemma4ForCausalLM; attn_implementation="eager"), adds seeded noise to every
parameter and persistent buffer, and writes into Fixtures/models/:

  tiny-A-f32/                 float32 checkpoint (save_pretrained, safetensors)
  tiny-A-bf16/                the same weights cast with model.to(torch.bfloat16)
  tiny-gemma3-bf16-sharded/   tiny-gemma3-bf16 saved with a small max_shard_size (3 shards + index json)

and in every directory:
  logits.npy                  float32 [12, 512], one full-sequence forward (bf16 logits cast to f32)
  logits-incremental.npy      float32 [12, 512], one token at a time through the KV cache
  reference.json              tokens, producer, model_type, dtype, max_abs_diff_full_vs_incremental,
                              greedy_next (argmax per position); bf16 dirs add max_abs_diff_vs_f32
                              (|bf16 logits - f32 logits|, the tolerance for a bf16-arithmetic check).
  logits-f32compute.npy       bf16 dirs only: the bf16 checkpoint loaded with dtype=float32 (bf16 weights,
                              f32 arithmetic), full-sequence forward.

The reference logits are computed with the checkpoint as reloaded by from_pretrained (the f32 dirs
with dtype=float32, the bf16 dirs with dtype=bfloat16), which is how transformers runs a saved
checkpoint; the in-memory model is checked against it (identically, or token by token within 1e-5). Deterministic:
fixed seeds, fixed thread count, directories are removed and rewritten, so a rerun on the same machine gives the
same bytes (another CPU's float32 kernels may move the token-by-token logits by about 2e-6).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# oneDNN picks AMX kernels for bf16 matmuls on CPUs that advertise AMX; in VMs that do not grant AMX tile
# state (e.g. this Firecracker VM) that dies with SIGILL. Cap the ISA below AMX (a ceiling: older CPUs are
# unaffected). Must be set before torch is imported.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

import numpy as np
import torch
import transformers
from transformers import (
    Gemma3ForCausalLM,
    Gemma3nForCausalLM,
    Gemma3nTextConfig,
    Gemma3TextConfig,
    Gemma4ForCausalLM,
    Gemma4TextConfig,
)

torch.set_num_threads(2)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "models"

TOKENS = [2, 17, 300, 45, 511, 9, 128, 77, 3, 250, 400, 6]
PRODUCER = f"transformers {transformers.__version__} torch {torch.__version__}"
KEEP_SUFFIXES = (".safetensors", ".safetensors.index.json")
KEEP_NAMES = {"config.json", "generation_config.json"}

S, F = "sliding_attention", "full_attention"

COMMON = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    sliding_window=6,
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
    max_position_embeddings=128,
)

# Noise (standard deviations) added after construction, per kind of tensor.
NOISE_EMBED = 0.1       # token embedding (also the tied lm_head): init N(0, 0.02) + N(0, 0.1)
NOISE_PLE = 0.25        # per-layer embedding table
NOISE_MATRIX = 0.05     # every other 2-D weight: init N(0, 0.02) + N(0, 0.05)
NOISE_VECTOR = 0.15     # 1-D parameters (norm weights, Gemma 3n correct_output_scale)
SEEDS = {"gemma3": 1003, "gemma3n": 1033, "gemma4": 1004}


def make_config(arch: str):
    if arch == "gemma3":
        return Gemma3TextConfig(
            **COMMON,
            num_hidden_layers=6,
            layer_types=[S, S, F, S, S, F],
            query_pre_attn_scalar=256,
            rope_parameters={
                "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
            },
            attn_implementation="eager",
        )
    if arch == "gemma3n":
        return Gemma3nTextConfig(
            **COMMON,
            num_hidden_layers=5,
            # unshared 0..2 (producers: sliding=1, full=2), KV-shared 3 (sliding, reads 1) and 4 (full, reads 2)
            layer_types=[S, S, F, S, F],
            activation_sparsity_pattern=[0.95, 0.95, 0.0, 0.0, 0.0],
            vocab_size_per_layer_input=256,  # ids >= 256 take PLE row 0
            hidden_size_per_layer_input=16,
            altup_num_inputs=4,
            laurel_rank=8,
            num_kv_shared_layers=2,
            final_logit_softcapping=30.0,
            rope_parameters={
                "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
            },
            attn_implementation="eager",
        )
    if arch == "gemma4":
        return Gemma4TextConfig(
            **COMMON,
            num_hidden_layers=5,
            # unshared 0..2 (producers: sliding=1, full=2), KV-shared 3 (sliding, reads 1) and 4 (full, reads 2);
            # the last layer must be full (transformers forces it)
            layer_types=[S, S, F, S, F],
            global_head_dim=32,
            vocab_size_per_layer_input=512,
            hidden_size_per_layer_input=16,
            num_kv_shared_layers=2,
            use_double_wide_mlp=True,
            final_logit_softcapping=30.0,
            attn_implementation="eager",
        )
    raise ValueError(arch)


MODEL_CLASSES = {"gemma3": Gemma3ForCausalLM, "gemma3n": Gemma3nForCausalLM, "gemma4": Gemma4ForCausalLM}


def perturb(model: torch.nn.Module, seed: int) -> list[str]:
    """Add seeded noise to every parameter and persistent buffer. Returns a log of what was done."""
    g = torch.Generator().manual_seed(seed)
    log = []

    def randn(shape):
        return torch.randn(shape, generator=g, dtype=torch.float32)

    with torch.no_grad():
        for name, p in model.named_parameters():  # tied lm_head.weight is the same Parameter: listed once
            if name.endswith("correct_output_scale"):
                # Gemma 3n AltUp: initialised to zeros, which would switch the PLE injection off; centre on 1.
                p.copy_(1.0 + NOISE_VECTOR * randn(p.shape))
                log.append(f"{name}: set to 1 + N(0,{NOISE_VECTOR})")
            elif p.ndim == 1:
                p.add_(NOISE_VECTOR * randn(p.shape))
            elif name.endswith("embed_tokens.weight"):
                p.add_(NOISE_EMBED * randn(p.shape))
            elif name.endswith("embed_tokens_per_layer.weight"):
                p.add_(NOISE_PLE * randn(p.shape))
            else:
                p.add_(NOISE_MATRIX * randn(p.shape))
        persistent = set(model.state_dict().keys())
        for name, b in model.named_buffers():
            if name not in persistent:
                continue
            if name.endswith("layer_scalar"):
                b.copy_(0.7 + 0.6 * torch.rand(b.shape, generator=g))
                log.append(f"{name}: set to U(0.7,1.3) -> {b.tolist()}")
            else:
                b.add_(NOISE_VECTOR * randn(b.shape))
                log.append(f"{name}: persistent buffer + N(0,{NOISE_VECTOR})")
    return log


@torch.no_grad()
def full_logits(model) -> torch.Tensor:
    ids = torch.tensor([TOKENS])
    out = model(input_ids=ids, use_cache=False)
    return out.logits[0].float()


@torch.no_grad()
def incremental_logits(model) -> torch.Tensor:
    past = None
    rows = []
    for t in TOKENS:
        out = model(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        rows.append(out.logits[0, -1].float())
    return torch.stack(rows)


def clean_dir(d: Path) -> None:
    for f in sorted(d.iterdir()):
        if f.name in KEEP_NAMES or f.name.endswith(KEEP_SUFFIXES):
            f.chmod(0o644)  # safetensors files are written 0600
            continue
        if f.is_dir():
            shutil.rmtree(f)
        else:
            f.unlink()


def save(model, d: Path, **kw) -> None:
    if d.exists():
        shutil.rmtree(d)
    model.save_pretrained(d, safe_serialization=True, **kw)
    clean_dir(d)


def load(arch: str, d: Path, dtype) -> torch.nn.Module:
    m = MODEL_CLASSES[arch].from_pretrained(d, dtype=dtype, attn_implementation="eager")
    return m.eval()


def write_reference(d: Path, arch: str, model_type: str, dtype: str, full: torch.Tensor, inc: torch.Tensor,
                    extra: dict) -> dict:
    full_np = full.numpy().astype(np.float32)
    inc_np = inc.numpy().astype(np.float32)
    np.save(d / "logits.npy", full_np)
    np.save(d / "logits-incremental.npy", inc_np)
    ref = {
        "tokens": TOKENS,
        "producer": PRODUCER,
        "model_type": model_type,
        "arch": arch,
        "dtype": dtype,
        "max_abs_diff_full_vs_incremental": float(np.abs(full_np - inc_np).max()),
        "greedy_next": [int(i) for i in full_np.argmax(-1)],
        "greedy_next_incremental": [int(i) for i in inc_np.argmax(-1)],
        "logits_std": float(full_np.std()),
        "logits_max_abs": float(np.abs(full_np).max()),
    }
    ref.update(extra)
    (d / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")
    return ref


def describe(model) -> list[str]:
    return [f"{k} {list(v.shape)} {str(v.dtype).replace('torch.', '')}" for k, v in model.state_dict().items()]


def build(arch: str) -> dict:
    torch.manual_seed(SEEDS[arch])
    config = make_config(arch)
    model = MODEL_CLASSES[arch](config).eval()
    noise_log = perturb(model, SEEDS[arch])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"

    mem_full = full_logits(model)
    mem_inc = incremental_logits(model)

    # ---- f32
    d32 = OUT / f"tiny-{arch}-f32"
    save(model, d32)
    m32 = load(arch, d32, torch.float32)
    f32_full = full_logits(m32)
    f32_inc = incremental_logits(m32)
    reload_diff_f32 = float((f32_full - mem_full).abs().max())
    assert reload_diff_f32 == 0.0, f"{arch} f32 reload differs by {reload_diff_f32}"
    # Token by token, the reloaded model's float32 kernels may sum in another order than the in-memory one's (2e-6
    # on the AMD EPYC VM; 0 on the Intel one the fixtures were first made on): far below the tests' 1e-4.
    reload_diff_incremental = float((f32_inc - mem_inc).abs().max())
    assert reload_diff_incremental <= 1e-5, f"{arch} f32 incremental reload differs by {reload_diff_incremental}"
    ref32 = write_reference(d32, arch, config.model_type, "float32", f32_full, f32_inc, {})

    # ---- bf16
    mbf = copy.deepcopy(model).to(torch.bfloat16)
    mem_bf_full = full_logits(mbf)
    d16 = OUT / f"tiny-{arch}-bf16"
    save(mbf, d16)
    m16 = load(arch, d16, torch.bfloat16)
    bf_full = full_logits(m16)
    bf_inc = incremental_logits(m16)
    # The bf16 checkpoint's weights run in float32 arithmetic (what an implementation that widens bf16
    # weights to f32 computes): a tight reference for bf16 *loading*, separate from bf16 arithmetic.
    mw = load(arch, d16, torch.float32)
    w_full = full_logits(mw)
    np.save(d16 / "logits-f32compute.npy", w_full.numpy().astype(np.float32))
    extra = {
        "max_abs_diff_vs_f32": float((bf_full - f32_full).abs().max()),
        "max_abs_diff_f32compute_vs_f32": float((w_full - f32_full).abs().max()),
        "max_abs_diff_f32compute_vs_bf16": float((w_full - bf_full).abs().max()),
        "max_abs_diff_vs_f32_incremental": float((bf_inc - f32_inc).abs().max()),
        "greedy_agree_with_f32": int((bf_full.argmax(-1) == f32_full.argmax(-1)).sum()),
    }
    ref16 = write_reference(d16, arch, config.model_type, "bfloat16", bf_full, bf_inc, extra)
    reload_diff_bf16 = float((bf_full - mem_bf_full).abs().max())

    # ---- sharded copy of tiny-gemma3-bf16
    if arch == "gemma3":
        ds = OUT / "tiny-gemma3-bf16-sharded"
        save(mbf, ds, max_shard_size="200KB")
        ms = load(arch, ds, torch.bfloat16)
        sh_full = full_logits(ms)
        assert float((sh_full - bf_full).abs().max()) == 0.0, "sharded reload differs"
        for name in ("reference.json", "logits.npy", "logits-incremental.npy", "logits-f32compute.npy"):
            shutil.copyfile(d16 / name, ds / name)

    return {
        "arch": arch,
        "config": json.loads((d32 / "config.json").read_text()),
        "noise_log": noise_log,
        "tensors": describe(model),
        "ref32": ref32,
        "ref16": ref16,
        "reload_diff_bf16_vs_in_memory_cast": reload_diff_bf16,
        "mem_full_vs_inc": float((mem_full - mem_inc).abs().max()),
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    archs = sys.argv[1:] or ["gemma3", "gemma3n", "gemma4"]
    for arch in archs:
        r = build(arch)
        print(f"== {arch}  ({PRODUCER})")
        for line in r["noise_log"]:
            print("   noise:", line)
        print(f"   f32 logits std {r['ref32']['logits_std']:.4f} max|.| {r['ref32']['logits_max_abs']:.4f}"
              f"  full-vs-inc {r['ref32']['max_abs_diff_full_vs_incremental']:.3g}")
        print(f"   bf16 logits std {r['ref16']['logits_std']:.4f}  full-vs-inc "
              f"{r['ref16']['max_abs_diff_full_vs_incremental']:.3g}  vs f32 {r['ref16']['max_abs_diff_vs_f32']:.4g}"
              f"  (incremental {r['ref16']['max_abs_diff_vs_f32_incremental']:.4g})"
              f"  greedy agree {r['ref16']['greedy_agree_with_f32']}/12")
        print(f"   bf16 reloaded vs in-memory .to(bf16): {r['reload_diff_bf16_vs_in_memory_cast']:.4g}")
        print(f"   greedy f32 {r['ref32']['greedy_next']}")
        print(f"   greedy bf16 {r['ref16']['greedy_next']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
