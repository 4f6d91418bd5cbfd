#!/usr/bin/env python3
"""Generate a conformance matrix of tiny Gemma 3 / Gemma 3n / Gemma 4 text models with float64 reference logits,
in the spirit of llama.cpp's test-backend-ops: many small configurations, each drawn to hit a different corner of
the configuration space, rather than one model per architecture.

Run from the repository root with the peers' venv (nothing is downloaded; the GGUFs need llama.cpp's sources from
the llama-cpp-python 0.3.36 sdist, unpacked outside the repository as make_gemma3n_gguf.py describes):

    HF_HUB_OFFLINE=1 ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_conformance_models.py [NAME ...]
    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_conformance_models.py --list

Without names every configuration in CONFIGS is written; with names only those (each directory is removed and
rewritten). Fixtures/conformance/README.md is rewritten every time, from the reference.json of every directory
present. $LPK_LLAMA_CPP_DIR overrides the llama.cpp source tree (default
~/.cache/layerpack/llama_cpp_python-0.3.36/vendor/llama.cpp); without it the GGUFs are skipped (gguf: false, with the
reason).

Each configuration is a text-only causal LM built from a config alone (Gemma3TextConfig + Gemma3ForCausalLM,
Gemma3nTextConfig + Gemma3nForCausalLM, Gemma4TextConfig + Gemma4ForCausalLM; attn_implementation="eager"), sized
hidden 32 or 36, vocab 256, 2-6 layers. Every parameter and persistent buffer gets seeded noise (make_tiny_models.py's
recipe: embeddings and an untied lm_head + N(0, 0.1), PLE table + N(0, 0.25), other matrices + N(0, 0.05), 1-D
parameters + N(0, 0.15), Gemma 3n altup.correct_output_scale = 1 + N(0, 0.15), Gemma 4 layer_scalar ~ U(0.7, 1.3)),
and is THEN rounded to a value exactly representable in both bfloat16 and float16: rounded to bf16 (nearest even),
magnitudes below 2^-14 (f16's smallest normal) set to 0, and checked to survive f32 -> f16 -> f32 and
f32 -> bf16 -> f32 unchanged. So the three storages below hold the same numbers.

Writes Fixtures/conformance/<arch>-<description>/ per configuration:

  config.json, generation_config.json   as save_pretrained writes them (float32 model)
  model.safetensors                     float32 (save_pretrained, safetensors, metadata {"format": "pt"})
  bf16/  config.json, generation_config.json, model.safetensors    the same values stored as bfloat16
  f16/   config.json, generation_config.json, model.safetensors    the same values stored as float16
  sharded/  config.json, generation_config.json, model-0000k-of-0000n.safetensors (n = 2 or 3),
            model.safetensors.index.json                            float32, save_pretrained(max_shard_size=...)
  tokens.json                           the 14 test token ids (a JSON list), starting with 2 = BOS; every id < 256;
                                        ids >= vocab_size_per_layer_input for every Gemma 3n configuration
  logits.npy                            float32 [14, 256]: transformers on the f32 checkpoint reloaded with
                                        from_pretrained(dtype=torch.float64), eager, one full-sequence forward,
                                        use_cache=False, every op in float64 (WidenToFloat64, below), then
                                        rounded to float32
  logits-incremental.npy                float32 [14, 256]: the same float64 model fed one token at a time with
                                        use_cache=True and past_key_values (a DynamicCache)
  reference.json                        tokens, producers, model_type, what the configuration covers, the
                                        tolerance scales (max_abs_diff_f32_vs_f64 = max |f32 checkpoint run in
                                        float32 - logits.npy|, and the incremental ones), logits max abs / std,
                                        greedy tokens, the storage check, and the GGUF record
  model.gguf                            Gemma 3 and Gemma 4 only, where llama.cpp's converter accepts the
                                        configuration: convert_hf_to_gguf.py --outtype f32 of this directory
  tokenizer.model                       Gemma 3 only: SentencePiece BPE with exactly 256 pieces (<pad>=0, <eos>=1,
                                        <bos>=2, <unk>=3), trained on make_gemma3n_gguf.py's TEXT; the converter
                                        reads it for the GGUF vocabulary
  tokenizer.json, tokenizer_config.json Gemma 4 only: the same 256 pieces as a transformers GemmaTokenizer (BPE
                                        with byte_fallback), which is what Gemma 4's converter (gguf.LlamaHfVocab)
                                        needs; no tokenizer.model there

Gemma 3n is not converted: llama.cpp's Gemma 3n code hard-codes the shapes of the released models (see
make_gemma3n_gguf.py), so tiny Gemma 3n GGUFs live in Fixtures/models/tiny-gemma3n-gguf/ instead.

What a GGUF does not say. The converter accepts every Gemma 3 configuration, but a Gemma 3 GGUF carries neither
layer_types (llama.cpp assumes the 5 sliding : 1 full pattern, layer i full iff i % 6 == 5) nor
query_pre_attn_scalar (llama.cpp scales queries by head_dim^-0.5, or (hidden/heads)^-0.5 for its 62-layer 27B).
reference.json lists, under gguf_caveats, every way the GGUF departs from the checkpoint, and gguf_faithful is
true only without caveats. When llama-cpp-python is installed, llama.cpp itself runs each GGUF (in a child process:
a failed GGML_ASSERT aborts) and max_abs_diff_llama_vs_f64 records how far its logits are from logits.npy
(informational: llama.cpp reads GELU from an fp16 table, so a faithful GGUF lands within about 1e-3..1e-2).

Float64 for real. from_pretrained(dtype=torch.float64) alone is not a float64 computation: transformers' Gemma
code upcasts with .float() (float32) in every RMSNorm, asks eager attention's softmax for dtype=torch.float32, builds
the RoPE tables in float32, and Gemma 3n's AltUp router and gaussian top-k constant are float32 too. That float32
rounding is as large as the float32-vs-float64 difference being measured (here 4e-7 to 2.6e-6 against 1.1e-6 to
4.3e-6; 2.8e-5 on a draft Gemma 3n configuration), and makes the cached and full float64 passes differ by up to
~7e-7. So the float64 logits run transformers' own code under
WidenToFloat64, a TorchDispatchMode that widens every float32 tensor and dtype argument of every aten op (and
torch.tensor(..., dtype=float32) constants) to float64 and counts ops that still return a narrower float (must be
0); the RoPE tables are rebuilt in float64 by the rope modules' own init (checked to round to transformers' float32
tables). Cached and full float64 passes then agree within ~1e-14. reference.json keeps
max_abs_diff_f64_as_shipped_vs_f64 (plain dtype=float64 vs the widened run) to show the size of the effect.

Every f32/bf16/f16/sharded copy is checked: its tensors, read with safetensors and widened to float32, equal the
float32 model's bit for bit, and from_pretrained(dtype=float32) of each copy gives the same state_dict with no
missing or unexpected keys. Each GGUF tensor is checked against its safetensors source (Gemma 3 norms: the
converter stores 1 + w, which is exact in f32 for these values).

Runtime: 1.5 to 2.5 minutes on 2 cores (81 s alone, 132 s beside another job; most of it is the converter's and
llama.cpp's start-up per configuration); the summary table at the end prints each configuration's seconds.

Combinations left out, and why:
  - Gemma 4 with KV sharing and without PLE (hidden_size_per_layer_input=0): transformers 5.23 cannot run it.
    The full-sequence forward slices per_layer_inputs (None without PLE) before the first KV-shared layer
    (Gemma4TextModel._maybe_slice_kv_shared_inputs: TypeError 'NoneType' object is not subscriptable). No released
    Gemma 4 has that combination; the KV-shared configurations here have PLE, and "no PLE" is covered without
    KV sharing.
  - Gemma 4 MoE (enable_moe_block, 26B-A4B): not in this matrix.
  - Gemma 3 with query_pre_attn_scalar != head_dim, or with layer_types off llama.cpp's 5:1 pattern, converts,
    but the GGUF cannot say so (gguf_caveats).
  - Gemma 4 with default RoPE on full layers: the converter refuses (it asserts "proportional").

Deterministic: per-configuration seeds (crc32 of the name), torch on 2 threads, sentencepiece on 1 thread,
llama.cpp on 2 threads; directories are removed and rewritten, so a rerun on the same machine gives the same bytes
(checked with sha256 over every file of two consecutive full runs). On another CPU the weights, tokenizers and GGUFs
are the same; the float32 numbers in reference.json (f32 vs f64, llama.cpp vs f64) may move in their last digits
as other kernels sum in another order (not checked on another machine).
"""
from __future__ import annotations

import copy
import importlib.metadata as im
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# oneDNN picks AMX kernels for bf16 matmuls on CPUs that advertise AMX; in VMs that do not grant AMX tile state
# that dies with SIGILL. Cap the ISA below AMX (a ceiling: older CPUs are unaffected). Must be set before torch.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "conformance"
LLAMA_CPP_DIR = Path(os.environ.get(
    "LPK_LLAMA_CPP_DIR", Path.home() / ".cache/layerpack/llama_cpp_python-0.3.36/vendor/llama.cpp"))
N_THREADS = 2
RUNTIME = ("1.5 to 2.5 minutes for all configurations on 2 cores (mostly the converter's and llama.cpp's start-up "
           "per configuration); the script prints its own.")


def llama_child(gguf_path: str, out_path: str, tokens_json: str) -> int:
    """Child-process mode: llama.cpp's logits for TOKENS on a GGUF, written as float32 .npy."""
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # Importing make_llama_fixtures turns llama.cpp's extra buffer types off, as for its own fixtures (AMX faults on
    # the VMs these were made on; no weight repacking, so every matmul takes ggml's plain path).
    import make_llama_fixtures  # noqa: F401

    tokens = json.loads(tokens_json)
    llm = Llama(
        model_path=gguf_path, n_ctx=64, n_batch=64, n_ubatch=64, n_threads=N_THREADS, n_threads_batch=N_THREADS,
        n_gpu_layers=0, seed=0, logits_all=True, type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
        flash_attn=False, verbose=False,
    )
    llm.reset()
    llm.eval(tokens)  # one llama_decode: len(tokens) <= n_batch
    scores = np.array(llm.scores[: len(tokens), :], dtype=np.float32, copy=True)
    np.save(out_path, scores)
    return 0


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--llama-logits":
    sys.exit(llama_child(sys.argv[2], sys.argv[3], sys.argv[4]))

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from transformers import (  # noqa: E402
    Gemma3ForCausalLM,
    Gemma3nForCausalLM,
    Gemma3nTextConfig,
    Gemma3TextConfig,
    Gemma4ForCausalLM,
    Gemma4TextConfig,
)

torch.set_num_threads(N_THREADS)
transformers.utils.logging.disable_progress_bar()
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling fixture scripts
from make_gemma3n_gguf import TEXT  # noqa: E402  (the tokenizer's training text)
from make_tiny_models import NOISE_EMBED, NOISE_MATRIX, NOISE_PLE, NOISE_VECTOR  # noqa: E402

S, F = "sliding_attention", "full_attention"
VOCAB = 256
# 14 tokens: more than the windows of 3 and 5, fewer than the window of 64. Ids >= 64 / 128 / 192 (the Gemma 3n
# vocab_size_per_layer_input values below): 7 / 5 / 4 of them.
TOKENS = [2, 17, 200, 45, 255, 9, 128, 77, 3, 250, 192, 6, 33, 88]
MAX_SHARDS = (2, 3)
F16_MIN_NORMAL = 2.0 ** -14
ROPE_DEFAULT = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
}
COMMON = dict(
    vocab_size=VOCAB,
    rms_norm_eps=1e-6,
    max_position_embeddings=128,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=2,
)

# ---------------------------------------------------------------------------------------------------------------
# The matrix. Each entry: directory name, arch, config kwargs, extra "covers" notes (the rest of "covers" is derived
# from the config by covers()). Sizes are kept down so that Fixtures/conformance stays under ~8 MB: every copy of
# the weights is stored four times (f32, sharded f32, bf16 + f16) and five with a GGUF.
CONFIGS: list[dict] = [
    # ---- Gemma 3
    dict(name="gemma3-hd8-mha-window3-tied", arch="gemma3", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
        head_dim=8, query_pre_attn_scalar=8, sliding_window=3, layer_types=[S, S, S],
        final_logit_softcapping=None, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma3-hd16-gqa2-window64-untied-softcap", arch="gemma3", kw=dict(
        hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        head_dim=16, query_pre_attn_scalar=16, sliding_window=64, layer_types=[S, S],
        final_logit_softcapping=30.0, tie_word_embeddings=False, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma3-hd32-gqa2-window3-mix-qpas24", arch="gemma3", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=1,
        head_dim=32, query_pre_attn_scalar=24, sliding_window=3, layer_types=[F, S, F],
        final_logit_softcapping=None, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma3-gqa4-window3-ropelinear8-6layers", arch="gemma3", kw=dict(
        hidden_size=32, intermediate_size=24, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=1,
        head_dim=8, query_pre_attn_scalar=8, sliding_window=3, layer_types=[S, S, S, S, S, F],
        final_logit_softcapping=None, tie_word_embeddings=True,
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        }),
        notes=["Gemma 3 4B+ RoPE: linear x8 on full layers only"]),
    dict(name="gemma3-heads6-kv3-hidden36-window5-softcap", arch="gemma3", kw=dict(
        hidden_size=36, intermediate_size=32, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=3,
        head_dim=8, query_pre_attn_scalar=8, sliding_window=5, layer_types=[S, S],
        final_logit_softcapping=30.0, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT),
        notes=["hidden 36 (not a power of two; embed scale sqrt(36) = 6 is exact)"]),
    # ---- Gemma 3n (vocab 256 > vocab_size_per_layer_input)
    dict(name="gemma3n-kvshare-sparse-ple16-window3-tied", arch="gemma3n", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
        head_dim=16, sliding_window=3, layer_types=[S, F, S, F], num_kv_shared_layers=2,
        activation_sparsity_pattern=[0.95, 0.95, 0.0, 0.0], vocab_size_per_layer_input=64,
        hidden_size_per_layer_input=16, laurel_rank=4, altup_num_inputs=4, altup_correct_scale=True,
        final_logit_softcapping=30.0, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma3n-nokvshare-dense-ple8-nocorrectscale-untied", arch="gemma3n", kw=dict(
        hidden_size=32, intermediate_size=24, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, sliding_window=64, layer_types=[S, S, F], num_kv_shared_layers=0,
        activation_sparsity_pattern=[0.0, 0.0, 0.0], vocab_size_per_layer_input=192,
        hidden_size_per_layer_input=8, laurel_rank=8, altup_num_inputs=4, altup_correct_scale=False,
        final_logit_softcapping=30.0, tie_word_embeddings=False, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma3n-kvshare-altup2-ffnlist-window5", arch="gemma3n", kw=dict(
        hidden_size=32, intermediate_size=[24, 32, 24, 48, 24], num_hidden_layers=5, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, sliding_window=5, layer_types=[S, S, F, S, F], num_kv_shared_layers=2,
        activation_sparsity_pattern=[0.95, 0.9, 0.0, 0.95, 0.0], vocab_size_per_layer_input=128,
        hidden_size_per_layer_input=8, laurel_rank=2, altup_num_inputs=2, altup_correct_scale=True,
        final_logit_softcapping=30.0, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT)),
    # ---- Gemma 4 (vocab_size_per_layer_input = vocab: Gemma 4 has no out-of-table PLE row)
    dict(name="gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3", arch="gemma4", kw=dict(
        hidden_size=32, intermediate_size=24, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
        head_dim=8, global_head_dim=32, sliding_window=3, layer_types=[S, F, S, F], num_kv_shared_layers=2,
        use_double_wide_mlp=True, vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=8,
        final_logit_softcapping=30.0, tie_word_embeddings=True),
        notes=["Gemma 4 E2B/E4B shape: KV sharing + double-wide MLP + PLE"]),
    dict(name="gemma4-ghd16-prop-nokvshare-ple16-window64-untied", arch="gemma4", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, global_head_dim=16, sliding_window=64, layer_types=[S, F], num_kv_shared_layers=0,
        use_double_wide_mlp=False, vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=16,
        final_logit_softcapping=None, tie_word_embeddings=False)),
    # KV sharing without PLE would be the nearer "PLE off" point, but transformers 5.23 cannot run it: the full-
    # sequence forward slices per_layer_inputs (None without PLE) before the first KV-shared layer
    # (Gemma4TextModel._maybe_slice_kv_shared_inputs: TypeError 'NoneType' object is not subscriptable). No
    # released Gemma 4 has KV sharing without PLE; "no PLE" is covered by gemma4-keqv-globalkv1-nople-window3.
    dict(name="gemma4-ghd16-defaultrope-kvshare-ple4-window3", arch="gemma4", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
        head_dim=8, global_head_dim=16, sliding_window=3, layer_types=[F, S, S, F], num_kv_shared_layers=2,
        use_double_wide_mlp=False, vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=4,
        final_logit_softcapping=30.0, tie_word_embeddings=True, rope_parameters=ROPE_DEFAULT)),
    dict(name="gemma4-keqv-globalkv1-nople-window3", arch="gemma4", kw=dict(
        hidden_size=32, intermediate_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, global_head_dim=32, num_global_key_value_heads=1, attention_k_eq_v=True, sliding_window=3,
        layer_types=[S, S, F], num_kv_shared_layers=0, use_double_wide_mlp=False,
        vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=0, final_logit_softcapping=30.0,
        tie_word_embeddings=True),
        notes=["full layers: no v_proj; V is the k_proj output, v_norm'd (no k_norm, no RoPE)"]),
]

CONFIG_CLASSES = {"gemma3": Gemma3TextConfig, "gemma3n": Gemma3nTextConfig, "gemma4": Gemma4TextConfig}
MODEL_CLASSES = {"gemma3": Gemma3ForCausalLM, "gemma3n": Gemma3nForCausalLM, "gemma4": Gemma4ForCausalLM}
GGUF_ARCHS = ("gemma3", "gemma4")


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def make_config(entry: dict):
    # deep copies: configs normalise (and may mutate) the rope_parameters dicts and layer_types lists they get
    return CONFIG_CLASSES[entry["arch"]](**COMMON, **copy.deepcopy(entry["kw"]), attn_implementation="eager")


def short(t: str) -> str:
    return "F" if t == F else "S"


def per_type(c, attr: str) -> dict[str, int]:
    """{layer type: value} of a per-layer attribute (Gemma 4 keeps head_dim / num_key_value_heads per layer)."""
    out = {}
    for i, t in enumerate(c.layer_types):
        v = getattr(c.per_layer_config[i], attr) if hasattr(c, "per_layer_config") else getattr(c, attr)
        assert out.setdefault(t, v) == v, (attr, t)
    return out


def covers(entry: dict, config) -> list[str]:
    """What this configuration exercises, derived from the config (plus the entry's notes)."""
    arch = entry["arch"]
    c = config
    n = len(TOKENS)
    out = []
    types = "".join(short(t) for t in c.layer_types)
    out.append(f"{c.num_hidden_layers} layers {types}")
    hd, kv = per_type(c, "head_dim"), per_type(c, "num_key_value_heads")
    if arch == "gemma4" and len(hd) > 1:
        out.append(f"head_dim {hd[S]} sliding / {hd[F]} full")
    else:
        out.append(f"head_dim {next(iter(hd.values()))}")
    for kind in sorted(kv, key=lambda k: k != S):
        ratio = c.num_attention_heads // kv[kind]
        where = f" on {short(kind)} layers" if len(set(kv.values())) > 1 else ""
        out.append((f"gqa {ratio} ({c.num_attention_heads} heads / {kv[kind]} kv)" if ratio > 1
                    else f"mha ({c.num_attention_heads} heads)") + where)
        if len(set(kv.values())) == 1:
            break
    if arch == "gemma4" and c.attention_k_eq_v:
        out.append("attention_k_eq_v (full layers: no v_proj)")
    w = c.sliding_window
    if S in c.layer_types:
        out.append(f"window {w} {'<' if w < n else '>='} {n} tokens")
    out.append("tied" if c.tie_word_embeddings else "untied (lm_head.weight)")
    cap = c.final_logit_softcapping
    out.append(f"final softcap {cap:g}" if cap else "no final softcap")
    if arch == "gemma3":
        qpas = c.query_pre_attn_scalar
        out.append(f"query_pre_attn_scalar {qpas} {'!=' if qpas != c.head_dim else '=='} head_dim")
    rp = c.rope_parameters
    for kind in (F, S):
        if kind not in c.layer_types:
            continue
        r = rp[kind]
        desc = f"rope {short(kind)}: {r['rope_type']} theta {r['rope_theta']:g}"
        if r["rope_type"] == "linear":
            desc += f" factor {r['factor']:g}"
        if r["rope_type"] == "proportional":
            desc += f" partial {r['partial_rotary_factor']:g}"
        out.append(desc)
    if arch in ("gemma3n", "gemma4"):
        kvs = c.num_kv_shared_layers
        if kvs:
            modes = c.kv_sharing_modes
            first = c.num_hidden_layers - kvs
            reads = []
            for i in range(first, c.num_hidden_layers):
                src = max(j for j in range(first) if c.layer_types[j] == c.layer_types[i])
                reads.append(f"{i}<-{src}")
            assert all(modes[i] == "reuse" for i in range(first, c.num_hidden_layers))
            out.append(f"kv sharing {kvs} layers ({', '.join(reads)})")
        else:
            out.append("no kv sharing")
    if arch == "gemma4":
        if c.num_kv_shared_layers:
            out.append("double-wide mlp" if c.use_double_wide_mlp else "no double-wide mlp")
        out.append(f"ple {c.hidden_size_per_layer_input}" if c.hidden_size_per_layer_input else "no ple")
    if arch == "gemma3n":
        out.append(f"ple {c.hidden_size_per_layer_input}, vocab {c.vocab_size} > ple vocab "
                   f"{c.vocab_size_per_layer_input} ({sum(t >= c.vocab_size_per_layer_input for t in TOKENS)} "
                   f"test ids past it)")
        sp = c.activation_sparsity_pattern
        out.append(f"sparsity {sp}" if any(sp) else "no activation sparsity")
        out.append(f"laurel rank {c.laurel_rank}")
        out.append(f"altup {c.altup_num_inputs} inputs, correct_scale {str(c.altup_correct_scale).lower()}")
        if len(set(c.intermediate_size)) > 1:
            out.append(f"per-layer intermediate {c.intermediate_size}")
    out += entry.get("notes", [])
    return out


def perturb(model: torch.nn.Module, seed: int) -> list[str]:
    """make_tiny_models.py's noise (an untied lm_head is noised like the embedding). Returns a log."""
    g = torch.Generator().manual_seed(seed)
    log = []

    def randn(shape):
        return torch.randn(shape, generator=g, dtype=torch.float32)

    with torch.no_grad():
        for name, p in model.named_parameters():  # a tied lm_head.weight is the same Parameter: listed once
            if name.endswith("correct_output_scale"):
                p.copy_(1.0 + NOISE_VECTOR * randn(p.shape))  # zeros would switch the PLE injection off
            elif p.ndim == 1:
                p.add_(NOISE_VECTOR * randn(p.shape))
            elif name.endswith("embed_tokens.weight") or name == "lm_head.weight":
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
                log.append(f"{name}: U(0.7,1.3)")
            else:
                b.add_(NOISE_VECTOR * randn(b.shape))
                log.append(f"{name}: + N(0,{NOISE_VECTOR})")
    return log


def round_to_bf16_and_f16(model: torch.nn.Module) -> dict:
    """Round every parameter and persistent buffer to a value exact in both bf16 and f16 (see the docstring)."""
    n_values = 0
    n_zeroed = 0
    persistent = set(model.state_dict().keys())
    tensors = [p for _, p in model.named_parameters()]
    tensors += [b for name, b in model.named_buffers() if name in persistent and b.is_floating_point()]
    with torch.no_grad():
        for t in tensors:
            r = t.to(torch.bfloat16).to(torch.float32)
            small = r.abs() < F16_MIN_NORMAL
            n_zeroed += int((small & (r != 0)).sum())
            r[small] = 0.0
            assert torch.equal(r.to(torch.float16).to(torch.float32), r), "not exact in f16"
            assert torch.equal(r.to(torch.bfloat16).to(torch.float32), r), "not exact in bf16"
            assert float(r.abs().max()) < 65504.0
            t.copy_(r)
            n_values += r.numel()
    return {"n_values": n_values, "n_set_to_zero_below_2^-14": n_zeroed}


# ---------------------------------------------------------------------------------------------------------------
# Saving and checking the storages

KEEP_NAMES = {"config.json", "generation_config.json", "model.safetensors.index.json"}
SUBDIRS = ("bf16", "f16", "sharded")


def clean_dir(d: Path) -> None:
    """Keep what save_pretrained writes that we want (and our subdirectories); safetensors are written 0600."""
    for f in sorted(d.iterdir()):
        if f.is_dir():
            if f.name not in SUBDIRS:
                shutil.rmtree(f)
            continue
        if f.name in KEEP_NAMES or f.name.endswith(".safetensors"):
            f.chmod(0o644)
        else:
            f.unlink()


def save(model, d: Path, **kw) -> None:
    model.save_pretrained(d, safe_serialization=True, **kw)
    clean_dir(d)


def save_sharded(model, d: Path, total_bytes: int) -> int:
    """f32 with a max_shard_size that gives 2 or 3 shards."""
    for frac in (0.45, 0.55, 0.4, 0.35, 0.6, 0.3, 0.7):
        if d.exists():
            shutil.rmtree(d)
        save(model, d, max_shard_size=int(total_bytes * frac))
        n = len([f for f in d.iterdir() if f.name.endswith(".safetensors")])
        if n in MAX_SHARDS:
            return int(total_bytes * frac)
    raise AssertionError(f"no max_shard_size gives {MAX_SHARDS} shards in {d}")


def read_storage(d: Path) -> tuple[dict[str, torch.Tensor], set[str], list[str]]:
    """All tensors of a checkpoint directory (single file or index + shards), with their stored dtypes."""
    index = d / "model.safetensors.index.json"
    files = (sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists()
             else ["model.safetensors"])
    tensors, dtypes = {}, set()
    for fn in files:
        with safe_open(d / fn, "pt") as f:
            assert f.metadata() == {"format": "pt"}, f.metadata()
            for k in f.keys():
                t = f.get_tensor(k)
                assert k not in tensors, k
                dtypes.add(str(t.dtype).replace("torch.", ""))
                tensors[k] = t
    return tensors, dtypes, files


def load(arch: str, d: Path, dtype) -> torch.nn.Module:
    m, info = MODEL_CLASSES[arch].from_pretrained(d, dtype=dtype, attn_implementation="eager",
                                                  output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    assert not bad, f"{d}: {bad}"
    return m.eval()


def check_storages(arch: str, d: Path, reference: dict[str, torch.Tensor]) -> dict:
    out = {}
    ref_model = None
    for sub, want in (("", "float32"), ("bf16", "bfloat16"), ("f16", "float16"), ("sharded", "float32")):
        dd = d / sub if sub else d
        tensors, dtypes, files = read_storage(dd)
        assert dtypes == {want}, (dd, dtypes)
        assert set(tensors) == set(reference), (dd, set(tensors) ^ set(reference))
        for k, t in tensors.items():
            assert torch.equal(t.float(), reference[k]), f"{dd}: {k} differs"
        m = load(arch, dd, torch.float32)
        sd = m.state_dict()
        if ref_model is None:
            ref_model = sd
        assert set(sd) == set(ref_model)
        for k in sd:
            assert torch.equal(sd[k], ref_model[k]), f"{dd}: reloaded {k} differs"
        out[sub or "f32"] = {"files": [f"{sub}/{f}" if sub else f for f in files], "dtype": want}
    return out


# ---------------------------------------------------------------------------------------------------------------
# Logits

@torch.no_grad()
def full_logits(model) -> torch.Tensor:
    return model(input_ids=torch.tensor([TOKENS]), use_cache=False).logits[0]


@torch.no_grad()
def incremental_logits(model) -> torch.Tensor:
    past = None
    rows = []
    for t in TOKENS:
        out = model(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        rows.append(out.logits[0, -1])
    return torch.stack(rows)


# transformers' Gemma code drops to float32 in places even in a float64 model: every RMSNorm computes
# `self._norm(x.float()) * w.float()`, eager attention takes `softmax(..., dtype=torch.float32)`, the RoPE tables
# are float32 (`inv_freq` is built with dtype=torch.float and the forward multiplies `position_ids.float()` by
# `inv_freq.to(dtype=torch.float)`), Gemma 3n's AltUp router takes `tanh(x.float())` and its gaussian top-k
# takes Φ⁻¹ of `torch.tensor(p, dtype=torch.float32)`. So from_pretrained(dtype=float64) alone gives logits with
# float32 rounding in them, of the same size as the float32-vs-float64 difference this fixture measures (and its
# cached and full passes then differ by ~1e-7 instead of ~1e-15). WidenToFloat64 runs the same transformers code
# with every float32 (and bf16/f16) tensor, dtype argument and torch.tensor(..., dtype=float32) constant widened to
# float64 (a TorchDispatchMode sees every aten op), rebuilds the RoPE tables in float64 with transformers' own
# rope init functions, and checks that no op produced a narrower float.
NARROW_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


class WidenToFloat64(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.narrow_outputs = 0
        self.ops = 0
        self._tensor = None

    def __enter__(self):
        self._tensor = torch.tensor

        def tensor64(data, *a, dtype=None, **kw):
            return self._tensor(data, *a, dtype=torch.float64 if dtype in NARROW_FLOATS else dtype, **kw)

        torch.tensor = tensor64
        return super().__enter__()

    def __exit__(self, *exc):
        torch.tensor = self._tensor
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.utils._pytree import tree_flatten, tree_map

        kwargs = kwargs or {}
        schema = func._schema
        for i, a in enumerate(schema.arguments):
            if a.alias_info is not None and a.alias_info.is_write:
                v = args[i] if i < len(args) else kwargs.get(a.name)
                if isinstance(v, torch.Tensor) and v.dtype in NARROW_FLOATS:
                    raise AssertionError(f"{func}: in-place write into a {v.dtype} tensor under WidenToFloat64")

        def widen(x):
            if isinstance(x, torch.Tensor) and x.dtype in NARROW_FLOATS:
                return x.to(torch.float64)
            if isinstance(x, torch.dtype) and x in NARROW_FLOATS:
                return torch.float64
            return x

        out = func(*tree_map(widen, args), **tree_map(widen, kwargs))
        self.ops += 1
        self.narrow_outputs += sum(isinstance(t, torch.Tensor) and t.dtype in NARROW_FLOATS
                                   for t in tree_flatten(out)[0])
        return out


def widen_model_to_float64(model) -> dict:
    """Rebuild every RoPE module's float32 tables in float64 (transformers' own init, under WidenToFloat64)."""
    checked = {}
    for name, mod in model.named_modules():
        if not type(mod).__name__.endswith("RotaryEmbedding"):
            continue
        with WidenToFloat64():
            fresh = type(mod)(mod.config)
        for bname, buf in list(mod.named_buffers(recurse=False)):
            new = getattr(fresh, bname)
            assert new.dtype == torch.float64 and new.shape == buf.shape, (name, bname, new.dtype)
            # same formula: the float64 table rounds to transformers' float32 one (within an ulp)
            assert torch.allclose(new.float(), buf.float(), rtol=2.5e-7, atol=0), (name, bname)
            checked[f"{name}.{bname}"] = float((new - buf.double()).abs().max())
            setattr(mod, bname, new)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert not t.is_floating_point() or t.dtype == torch.float64, (name, t.dtype)
    return checked


def maxabs(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


# ---------------------------------------------------------------------------------------------------------------
# GGUF

def train_sentencepiece(path: Path) -> None:
    """make_gemma3n_gguf.py's tokenizer, with VOCAB pieces."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT.splitlines()), model_writer=buf, vocab_size=VOCAB, model_type="bpe",
        character_coverage=1.0, normalization_rule_name="identity",
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True, num_threads=1, minloglevel=2,
    )
    path.write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(path))
    assert sp.vocab_size() == VOCAB, sp.vocab_size()
    assert [sp.pad_id(), sp.eos_id(), sp.bos_id(), sp.unk_id()] == [0, 1, 2, 3]


def write_hf_tokenizer(d: Path) -> None:
    """tokenizer.json + tokenizer_config.json (GemmaTokenizer: BPE with byte_fallback) with the same pieces."""
    from transformers import GemmaTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_sentencepiece(tmp / "tokenizer.model")
        special = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}
        (tmp / "tokenizer_config.json").write_text(json.dumps(
            {"tokenizer_class": "GemmaTokenizer", **special, "mask_token": None}))
        tok = GemmaTokenizer.from_pretrained(tmp)
        assert len(tok) == VOCAB, len(tok)
        (d / "tokenizer.json").write_text(tok.backend_tokenizer.to_str(pretty=False) + "\n")
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "GemmaTokenizer", **special, "mask_token": None, "add_bos_token": True,
         "add_eos_token": False}, indent=2) + "\n")
    j = json.loads((d / "tokenizer.json").read_text())
    assert j["model"]["type"] == "BPE" and j["model"]["byte_fallback"] and len(j["model"]["vocab"]) == VOCAB


def gguf_module():
    p = str(LLAMA_CPP_DIR / "gguf-py")
    if p not in sys.path:
        sys.path.insert(0, p)  # the converter's own gguf-py
    import gguf
    return gguf


def convert(d: Path) -> tuple[bool, str]:
    script = LLAMA_CPP_DIR / "convert_hf_to_gguf.py"
    if not script.is_file():
        return False, f"{script} not found (unpack the llama-cpp-python 0.3.36 sdist or set LPK_LLAMA_CPP_DIR)"
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)
    r = subprocess.run(
        [sys.executable, str(script), str(d), "--outtype", "f32", "--outfile", str(d / "model.gguf")],
        env=env, capture_output=True, text=True)
    if r.returncode != 0:
        (d / "model.gguf").unlink(missing_ok=True)
        lines = [ln for ln in (r.stderr + r.stdout).strip().splitlines() if ln.strip()]
        # the exception line, and the innermost traceback frame with its source line
        err = lines[-1].strip() if lines else f"exit {r.returncode}"
        for i in range(len(lines) - 2, -1, -1):
            m = re.match(r'\s*File "([^"]+)", line (\d+), in (\S+)', lines[i])
            if m:
                path = Path(m.group(1))
                try:
                    path = path.relative_to(LLAMA_CPP_DIR)
                except ValueError:
                    pass
                code = lines[i + 1].strip() if i + 1 < len(lines) - 1 else ""
                err += f" at {path}:{m.group(2)} in {m.group(3)}: {code}"
                break
        return False, err
    (d / "model.gguf").chmod(0o644)
    return True, ""


def check_gguf_tensors(d: Path, arch: str, config, st: dict[str, torch.Tensor]) -> dict:
    """Every GGUF tensor against the safetensors tensor it came from (Gemma 3 norms: 1 + w)."""
    gguf = gguf_module()
    reader = gguf.GGUFReader(str(d / "model.gguf"))
    model_arch = {"gemma3": gguf.MODEL_ARCH.GEMMA3, "gemma4": gguf.MODEL_ARCH.GEMMA4}[arch]
    tmap = gguf.get_tensor_name_map(model_arch, config.num_hidden_layers)
    expected = {}
    for k, v in st.items():
        hf = k + ".weight" if k.endswith(("layer_scalar", "per_dim_scale")) else k
        name = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        assert name is not None, f"no GGUF name for {k}"
        val = v.float().numpy()
        if arch == "gemma3" and k.endswith("norm.weight"):
            val = (v.float() + 1.0).numpy()  # Gemma3RMSNorm's (1 + w); exact in f32 for these values
        expected[name] = val
    types, extra = {}, []
    for t in reader.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        vals = np.asarray(t.data)
        if t.name not in expected:
            extra.append({"name": t.name, "shape": [int(x) for x in t.shape],
                          "values": [float(x) for x in vals.reshape(-1)[:64]]})
            continue
        src = expected.pop(t.name)
        assert t.tensor_type.name == "F32", (t.name, t.tensor_type.name)
        assert list(reversed([int(x) for x in t.shape])) == list(src.shape), (t.name, t.shape, src.shape)
        assert np.array_equal(vals.reshape(src.shape), src), f"{t.name}: GGUF values differ from the checkpoint"
    assert not expected, f"not in the GGUF: {sorted(expected)}"
    return {"n_tensors": len(reader.tensors), "tensor_types": types, "all_equal_to_safetensors": True,
            "extra_tensors": extra}


def gguf_metadata(d: Path) -> dict:
    gguf = gguf_module()
    reader = gguf.GGUFReader(str(d / "model.gguf"))
    out = {}
    for key, field in reader.fields.items():
        if key.startswith(("tokenizer.", "GGUF.")) or key in ("general.file_type",):
            continue
        try:
            v = field.contents()
        except Exception:  # noqa: BLE001
            continue
        out[key] = v
    return out


def gguf_caveats(arch: str, config) -> list[str]:
    """Where llama.cpp, reading the converted GGUF, departs from transformers on this checkpoint."""
    c = config
    cav = []
    if arch == "gemma3":
        llama_types = [S if i % 6 < 5 else F for i in range(c.num_hidden_layers)]
        if llama_types != list(c.layer_types):
            cav.append("the GGUF has no layer_types: llama.cpp assumes layer i is full iff i % 6 == 5 ("
                       + "".join(short(t) for t in llama_types) + "), the checkpoint has "
                       + "".join(short(t) for t in c.layer_types))
        scale_dim = c.head_dim if c.num_hidden_layers != 62 else c.hidden_size // c.num_attention_heads
        if c.query_pre_attn_scalar != scale_dim:
            cav.append(f"the GGUF has no query_pre_attn_scalar: llama.cpp scales queries by head_dim^-0.5 = "
                       f"{scale_dim}^-0.5, the checkpoint by {c.query_pre_attn_scalar}^-0.5")
    return cav


def llama_logits(d: Path) -> tuple[np.ndarray | None, str]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return None, "llama-cpp-python not installed"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "llama.npy"
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--llama-logits", str(d / "model.gguf"),
                            str(out), json.dumps(TOKENS)], capture_output=True, text=True)
        if r.returncode != 0 or not out.exists():
            lines = [ln for ln in (r.stderr + r.stdout).strip().splitlines() if ln.strip()]
            return None, f"exit {r.returncode}: " + " | ".join(lines[-3:])
        return np.load(out), ""


# ---------------------------------------------------------------------------------------------------------------

def producers() -> dict:
    gguf_py = "?"
    pyproject = LLAMA_CPP_DIR / "gguf-py" / "pyproject.toml"
    if pyproject.exists():
        m = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M)
        gguf_py = m.group(1) if m else "?"
    try:
        llama = im.version("llama_cpp_python")
    except im.PackageNotFoundError:
        llama = None
    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "sentencepiece": spm.__version__,
        "converter": "convert_hf_to_gguf.py --outtype f32 from vendor/llama.cpp of the llama-cpp-python 0.3.36 "
                     f"sdist, with its vendored gguf-py {gguf_py}",
        "llama_cpp_python": llama,
        "threads": N_THREADS,
    }


def config_summary(arch: str, c) -> dict:
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "sliding_window", "final_logit_softcapping", "tie_word_embeddings",
            "rope_parameters"]
    keys += {"gemma3": ["query_pre_attn_scalar"],
             "gemma3n": ["num_kv_shared_layers", "activation_sparsity_pattern", "vocab_size_per_layer_input",
                         "hidden_size_per_layer_input", "laurel_rank", "altup_num_inputs", "altup_correct_scale"],
             "gemma4": ["num_kv_shared_layers", "use_double_wide_mlp", "attention_k_eq_v",
                        "vocab_size_per_layer_input", "hidden_size_per_layer_input"]}[arch]
    out = {k: getattr(c, k) for k in keys}
    out["layer_types"] = "".join(short(t) for t in c.layer_types)
    for attr in ("head_dim", "num_key_value_heads"):
        v = per_type(c, attr)
        out[attr] = next(iter(v.values())) if len(set(v.values())) == 1 else {short(k): x for k, x in v.items()}
    return out


def dir_size(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())


def build(entry: dict) -> dict:
    t0 = time.time()
    name, arch = entry["name"], entry["arch"]
    assert name.startswith(arch + "-"), name
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    seed = seed_of(name)

    torch.manual_seed(seed)
    config = make_config(entry)
    model = MODEL_CLASSES[arch](config).eval()
    tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert tied == config.tie_word_embeddings, (name, tied)
    assert max(TOKENS) < config.vocab_size
    noise_log = perturb(model, seed)
    rounding = round_to_bf16_and_f16(model)
    n_params = sum(p.numel() for p in model.parameters())

    # ---- the four storages
    save(model, d)
    reference = {k: v.float() for k, v in read_storage(d)[0].items()}
    save(copy.deepcopy(model).to(torch.bfloat16), d / "bf16")
    save(copy.deepcopy(model).to(torch.float16), d / "f16")
    shard_size = save_sharded(model, d / "sharded", (d / "model.safetensors").stat().st_size)
    storages = check_storages(arch, d, reference)
    storages["sharded"]["max_shard_size"] = shard_size

    # ---- logits: float64 reference (full and incremental), and the f32 checkpoint run in float32
    m64 = load(arch, d, torch.float64)
    shipped64 = full_logits(m64).numpy()  # transformers as shipped, with its float32 islands
    shipped64_inc = incremental_logits(m64).numpy()
    rope64 = widen_model_to_float64(m64)
    with WidenToFloat64() as mode:
        full64 = full_logits(m64).numpy()
        inc64 = incremental_logits(m64).numpy()
    assert mode.narrow_outputs == 0, f"{mode.narrow_outputs} ops gave a narrower float than float64"
    assert full64.dtype == np.float64 and inc64.dtype == np.float64
    m32 = load(arch, d, torch.float32)
    full32 = full_logits(m32).numpy()
    inc32 = incremental_logits(m32).numpy()
    assert full32.dtype == np.float32
    for a in (full64, inc64, full32, inc32):
        assert np.isfinite(a).all()
    logits = full64.astype(np.float32)
    np.save(d / "logits.npy", logits)
    np.save(d / "logits-incremental.npy", inc64.astype(np.float32))
    (d / "tokens.json").write_text(json.dumps(TOKENS) + "\n")
    srt = np.sort(full64, axis=-1)

    ref = {
        "name": name,
        "arch": arch,
        "model_type": config.model_type,
        "architectures": [MODEL_CLASSES[arch].__name__],
        "covers": covers(entry, config),
        "tokens": TOKENS,
        "producer": producers(),
        "seed": seed,
        "n_parameters": n_params,
        "rounding": {**rounding, "rule": "round to bf16 (nearest even), then |x| < 2^-14 -> 0; exact in bf16, f16, "
                                         "f32"},
        "noise_buffers": noise_log,
        "storages": storages,
        "storages_identical": True,
        "logits": "logits.npy: float64 forward (from_pretrained(dtype=float64), eager, use_cache=False, every op "
                  "widened to float64), rounded to float32",
        "logits_incremental": "logits-incremental.npy: float64, one token at a time with the cache, as float32",
        "max_abs_diff_f32_vs_f64": maxabs(full32, full64),
        "max_abs_diff_f32_incremental_vs_f64": maxabs(inc32, full64),
        "max_abs_diff_incremental_vs_full_f64": maxabs(inc64, full64),
        "float64": "every op in float64: transformers' float32 islands (RMSNorm upcasts, softmax dtype, RoPE "
                   "tables, Gemma 3n's router tanh and top-k constant) widened by WidenToFloat64; "
                   f"{mode.ops} aten ops, none narrower than float64",
        "max_abs_diff_f64_as_shipped_vs_f64": maxabs(shipped64, full64),
        "max_abs_diff_f64_as_shipped_incremental_vs_full": maxabs(shipped64_inc, shipped64),
        "rope_tables_f64_minus_f32_max": max(rope64.values()) if rope64 else 0.0,
        "logits_max_abs": float(np.abs(full64).max()),
        "logits_std": float(full64.std()),
        "greedy_next": [int(i) for i in full64.argmax(-1)],
        "top2_gap_min": float((srt[:, -1] - srt[:, -2]).min()),
        "config": config_summary(arch, config),
    }
    assert [int(i) for i in full32.argmax(-1)] == ref["greedy_next"] or ref["top2_gap_min"] < 1e-4

    # ---- GGUF
    gguf = {"gguf": False}
    if arch in GGUF_ARCHS:
        if arch == "gemma3":
            train_sentencepiece(d / "tokenizer.model")
        else:
            write_hf_tokenizer(d)
        ok, err = convert(d)
        gguf["gguf"] = ok
        if ok:
            gguf["gguf_file"] = "model.gguf"
            gguf["gguf_tensor_check"] = check_gguf_tensors(d, arch, config, reference)
            gguf["gguf_metadata"] = gguf_metadata(d)
            cav = gguf_caveats(arch, config)
            gguf["gguf_caveats"] = cav
            gguf["gguf_faithful"] = not cav
            ll, lerr = llama_logits(d)
            if ll is not None:
                gguf["max_abs_diff_llama_vs_f64"] = maxabs(ll, full64)
                gguf["llama_greedy_agree"] = int((ll.argmax(-1) == full64.argmax(-1)).sum())
            else:
                gguf["llama_error"] = lerr
        else:
            gguf["gguf_error"] = err
    else:
        gguf["gguf_error"] = ("not attempted: llama.cpp's Gemma 3n code hard-codes the released models' shapes "
                              "(see Fixtures/models/tiny-gemma3n-gguf)")
    ref.update(gguf)
    (d / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")
    ref["_seconds"] = time.time() - t0
    ref["_bytes"] = dir_size(d)
    return ref


# ---------------------------------------------------------------------------------------------------------------
# README

README_HEAD = """\
# Conformance matrix: tiny Gemma 3 / 3n / 4 configurations with float64 logits

Made by `Fixtures/scripts/make_conformance_models.py` (its docstring has every detail). To regenerate, run it from
the repository root with the peers' venv (the GGUFs also need llama.cpp's sources, as for
`make_gemma3n_gguf.py`):

    HF_HUB_OFFLINE=1 ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_conformance_models.py [NAME ...]

In the spirit of llama.cpp's `test-backend-ops`: instead of one model per architecture, many small configurations,
each drawn to hit different corners of the configuration space (head sizes, GQA ratios, windows shorter and longer
than the text, tied and untied heads, softcaps, RoPE variants, KV sharing, sparsity, PLE, AltUp, LAuReL, double-wide
MLPs, per-layer head sizes). This file is rewritten by the script from the `reference.json` files.

- **Producer.** {producer}
- **Deterministic.** Per-configuration seeds (crc32 of the directory name), 2 threads; directories are removed and
  rewritten, so a rerun gives the same bytes.
- **Runtime.** {runtime}
- **Total size.** {total}

## What each directory holds

| file | what |
|---|---|
| `config.json`, `generation_config.json` | as `save_pretrained` writes them |
| `model.safetensors` | float32 |
| `bf16/`, `f16/` | the same values stored as bfloat16 / float16 (each with its own `config.json`, whose `dtype` says so) |
| `sharded/` | float32 in 2 or 3 shards + `model.safetensors.index.json` (+ `config.json`) |
| `tokens.json` | the 14 test ids (a JSON list), starting with BOS = 2 |
| `logits.npy` | float32 `[14, 256]`: transformers in **float64** (`from_pretrained(dtype=torch.float64)`, eager, `use_cache=False`) on the f32 checkpoint, rounded to float32 |
| `logits-incremental.npy` | float32 `[14, 256]`: the same float64 model fed one token at a time with the cache |
| `reference.json` | tokens, producers, `covers`, the tolerance scales, logits stats, greedy tokens, storage and GGUF records, a config summary |
| `model.gguf` | Gemma 3 / Gemma 4 where llama.cpp's converter accepts the configuration: `convert_hf_to_gguf.py --outtype f32` |
| `tokenizer.model` (Gemma 3), `tokenizer.json` + `tokenizer_config.json` (Gemma 4) | a 256-piece SentencePiece BPE the converter needs for the GGUF vocabulary; not a real Gemma tokenizer |

**The weights are identical in all storages.** Every parameter and persistent buffer is noised (seeded, as in
`make_tiny_models.py`; layer scalars U(0.7, 1.3), AltUp correct_output_scale around 1) and then rounded to bf16 with
magnitudes below 2^-14 set to 0, so that each value is exact in bf16, f16 and f32. The script checks that every copy,
read back and widened to f32, equals the f32 file bit for bit, and that `from_pretrained` of each gives the same
state dict. So any storage must give the same logits, up to the arithmetic's own rounding.

**Tolerances.** `logits.npy` is the float64 answer. `max_abs_diff_f32_vs_f64` is how far transformers' own float32
run of the same checkpoint is from it: the scale of float32 rounding for this model, which a test multiplies by a
small factor. `max_abs_diff_f32_incremental_vs_f64` is the same for float32 with the cache, and
`max_abs_diff_incremental_vs_full_f64` shows that the cached float64 path equals the full one up to float64 noise.

**Float64 for real.** `from_pretrained(dtype=torch.float64)` alone does not compute in float64: transformers' Gemma
code upcasts with `.float()` (float32) in every RMSNorm, runs eager attention's softmax with `dtype=torch.float32`,
builds the RoPE tables in float32, and Gemma 3n's AltUp router (`tanh(x.float())`) and top-k constant
(`torch.tensor(p, dtype=torch.float32)`) are float32 as well. That rounding is as large as the float32 error being
measured (column "f64 as shipped vs f64", against "f32 vs f64"), and the plain float64 model's cached and full passes
differ by up to ~7e-7 (`max_abs_diff_f64_as_shipped_incremental_vs_full`). The script therefore runs transformers' own forward under a `TorchDispatchMode`
(`WidenToFloat64`) that widens every float32 tensor and dtype argument of every aten op to float64, rebuilds the RoPE
tables in float64 with the rope modules' own init, and asserts that no op returned a narrower float. The cached and
full float64 passes then agree within ~1e-14 (column "incr. vs full").

**GGUFs.** `gguf` in `reference.json` says whether the converter produced `model.gguf`, `gguf_error` why not.
Every GGUF tensor equals its safetensors source (Gemma 3 norms are stored as 1 + w, exact here); Gemma 4 GGUFs also
hold the converter's `rope_freqs.weight` (1 for rotated pairs, 1e30 for the rest; see `gguf_tensor_check`). A Gemma 3
GGUF has no `layer_types` (llama.cpp assumes layer i is full iff i % 6 == 5) and no `query_pre_attn_scalar`
(llama.cpp uses head_dim^-0.5); where the checkpoint differs, `gguf_caveats` says how and `gguf_faithful` is false.
`max_abs_diff_llama_vs_f64` is llama.cpp (llama-cpp-python 0.3.36, 2 threads, f32 KV cache, one batch) on the GGUF
against `logits.npy`, for information: llama.cpp reads GELU from an fp16 table, so even a faithful GGUF is only
within about 1e-3..1e-2.
"""


README_TAIL = """
## Combinations left out, and why

- **Gemma 4 with KV sharing and without PLE** (`hidden_size_per_layer_input: 0`): transformers 5.23 cannot run it.
  The full-sequence forward slices `per_layer_inputs` (None without PLE) before the first KV-shared layer
  (`Gemma4TextModel._maybe_slice_kv_shared_inputs`: `TypeError: 'NoneType' object is not subscriptable`). No
  released Gemma 4 has that combination; the KV-shared configurations here have PLE, and "no PLE" is covered without
  KV sharing (`gemma4-keqv-globalkv1-nople-window3`).
- **Gemma 4 MoE** (`enable_moe_block`, 26B-A4B) is not in this matrix.
- **Gemma 3n GGUFs**: llama.cpp's Gemma 3n code hard-codes the released models' shapes; see
  `Fixtures/models/tiny-gemma3n-gguf/`.
"""


def write_readme(runtime: str) -> None:
    refs = []
    for d in sorted(OUT.iterdir()):
        if (d / "reference.json").is_file():
            refs.append((d, json.loads((d / "reference.json").read_text())))
    order = {e["name"]: i for i, e in enumerate(CONFIGS)}
    refs.sort(key=lambda x: order.get(x[0].name, 1 << 30))
    total = sum(dir_size(d) for d, _ in refs)  # the configuration directories, not this README
    p = refs[0][1]["producer"] if refs else producers()
    producer = (f"transformers {p['transformers']}, torch {p['torch']}, safetensors {p['safetensors']}, numpy "
                f"{p['numpy']}, sentencepiece {p['sentencepiece']}; {p['converter']}; llama-cpp-python "
                f"{p['llama_cpp_python']} for the informational llama.cpp logits.")
    lines = [README_HEAD.format(producer=producer, runtime=runtime,
                                total=f"{total:,} bytes ({total / 2**20:.2f} MiB) in {len(refs)} "
                                      "configuration directories.")]
    lines.append("## Configurations\n")
    lines.append("Layer types: S = sliding, F = full. Tolerance columns are max abs differences against "
                 "`logits.npy`. GGUF: `faithful` = llama.cpp reads the same model; `caveats` = converted, but the "
                 "GGUF cannot say everything (see `gguf_caveats`); `no` = the converter refused.\n")
    lines.append("| directory | params | size | covers | f32 vs f64 | f32 incr. vs f64 | incr. vs full (f64) "
                 "| f64 as shipped vs f64 | logits max / std | GGUF | llama.cpp vs f64 |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for d, r in refs:
        if r["gguf"]:
            g = "faithful" if r.get("gguf_faithful") else "caveats"
        else:
            g = "no" if r["arch"] in GGUF_ARCHS else "—"
        llama = (f"{r['max_abs_diff_llama_vs_f64']:.2g} ({r['llama_greedy_agree']}/{len(r['tokens'])} argmax)"
                 if "max_abs_diff_llama_vs_f64" in r else "—")
        lines.append(
            f"| `{d.name}` | {r['n_parameters']:,} | {dir_size(d) / 1024:.0f} KiB | {'; '.join(r['covers'])} "
            f"| {r['max_abs_diff_f32_vs_f64']:.2g} | {r['max_abs_diff_f32_incremental_vs_f64']:.2g} "
            f"| {r['max_abs_diff_incremental_vs_full_f64']:.2g} | {r['max_abs_diff_f64_as_shipped_vs_f64']:.2g} "
            f"| {r['logits_max_abs']:.2f} / {r['logits_std']:.2f} "
            f"| {g} | {llama} |")
    notes = []
    for d, r in refs:
        if r.get("gguf_error") and r["arch"] in GGUF_ARCHS:
            notes.append(f"- `{d.name}`: the converter refused: `{r['gguf_error']}`")
        for c in r.get("gguf_caveats", []):
            notes.append(f"- `{d.name}`: {c}")
        if r.get("llama_error"):
            notes.append(f"- `{d.name}`: llama.cpp could not run the GGUF: `{r['llama_error']}`")
    if notes:
        lines.append("\n## GGUF notes\n")
        lines += notes
    lines.append(README_TAIL)
    (OUT / "README.md").write_text("\n".join(lines))


def main() -> int:
    args = sys.argv[1:]
    names = [e["name"] for e in CONFIGS]
    assert len(set(names)) == len(names)
    if args == ["--list"]:
        for e in CONFIGS:
            print(f"{e['name']}: {'; '.join(covers(e, make_config(e)))}")
        return 0
    unknown = [a for a in args if a not in names]
    if unknown:
        sys.exit(f"unknown configuration(s) {unknown}; known: {names}")
    todo = [e for e in CONFIGS if not args or e["name"] in args]
    OUT.mkdir(parents=True, exist_ok=True)
    if not args:  # a full run also removes configurations that are no longer in CONFIGS
        for d in sorted(OUT.iterdir()):
            if d.is_dir() and d.name not in names and (d / "reference.json").is_file():
                print(f"removing {d.relative_to(ROOT)} (not in CONFIGS)")
                shutil.rmtree(d)
    t0 = time.time()
    rows = [build(e) for e in todo]
    elapsed = time.time() - t0
    write_readme(RUNTIME)

    print(f"== conformance matrix ({PRODUCER_LINE()}), {elapsed:.1f} s")
    hdr = (f"{'configuration':52} {'params':>7} {'KiB':>5} {'f32-f64':>8} {'f32inc':>8} {'inc-full':>8} "
           f"{'max|l|':>6} {'gguf':>8} {'llama':>8}  s")
    print(hdr)
    for r in rows:
        g = ("faithful" if r.get("gguf_faithful") else "caveats") if r["gguf"] else "-"
        ll = f"{r['max_abs_diff_llama_vs_f64']:.2g}" if "max_abs_diff_llama_vs_f64" in r else "-"
        print(f"{r['name']:52} {r['n_parameters']:>7} {r['_bytes'] / 1024:>5.0f} "
              f"{r['max_abs_diff_f32_vs_f64']:>8.2g} {r['max_abs_diff_f32_incremental_vs_f64']:>8.2g} "
              f"{r['max_abs_diff_incremental_vs_full_f64']:>8.2g} {r['logits_max_abs']:>6.2f} {g:>8} {ll:>8} "
              f"{r['_seconds']:.0f}")
        for c in r.get("gguf_caveats", []):
            print(f"    gguf caveat: {c}")
        if r.get("gguf_error") and r["arch"] in GGUF_ARCHS:
            print(f"    converter: {r['gguf_error']}")
        if r.get("llama_error"):
            print(f"    llama.cpp: {r['llama_error']}")
    total = dir_size(OUT)
    print(f"total {OUT.relative_to(ROOT)}: {total:,} bytes ({total / 2**20:.2f} MiB)")
    return 0


def PRODUCER_LINE() -> str:  # noqa: N802
    return f"transformers {transformers.__version__}, torch {torch.__version__}"


if __name__ == "__main__":
    sys.exit(main())
