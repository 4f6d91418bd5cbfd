#!/usr/bin/env python3
"""Generate a tiny Gemma 3n text model converted to GGUF by llama.cpp's own converter, with the logits of
llama.cpp (on the GGUF) and of transformers (on the safetensors original).

Run from the repository root with the peers' venv (nothing is downloaded; the llama.cpp sources come from
the llama-cpp-python sdist, unpacked outside the repository):

    ~/.cache/layerpack/venv/bin/pip download llama-cpp-python==0.3.36 --no-binary llama-cpp-python \\
        --no-deps -d ~/.cache/layerpack/sdist
    tar xzf ~/.cache/layerpack/sdist/llama_cpp_python-0.3.36.tar.gz -C ~/.cache/layerpack
    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_gemma3n_gguf.py

$LPK_LLAMA_CPP_DIR overrides the llama.cpp source tree (default
~/.cache/layerpack/llama_cpp_python-0.3.36/vendor/llama.cpp); its convert_hf_to_gguf.py runs with its own
vendored gguf-py (the converter puts it on sys.path itself).

The model is a Gemma3nTextConfig + Gemma3nForCausalLM (attn_implementation="eager") sized for llama.cpp's
Gemma 3n code, which hard-codes a PLE width of 256 (hparams.n_embd_altup), a LAuReL rank of 64, 4 AltUp
streams, KV sharing from layer 20 (hparams.n_layer_kv_from_start; shared layers reuse layer 18 if sliding,
19 if full) and activation sparsity on the first 10 layers with Φ⁻¹(0.95) (models.h n_layer_sparsity,
f_sparsity_std_mul; the GGUF key gemma3n.activation_sparsity_scale is written but not read). So: 22 layers,
num_kv_shared_layers=2, hidden_size_per_layer_input=256, laurel_rank=64, sparsity [0.95]*10 + [0]*12, layer
types 4 sliding then 1 full (full at 4, 9, 14, 19). Everything else is as small as possible: hidden 32,
2 heads of 32, 1 KV head, intermediate 64, sliding window 6 (16 tokens, so it bites), vocab 128
(= vocab_size_per_layer_input: llama.cpp indexes the PLE table by token id, without transformers' "ids >=
vocab_size_per_layer_input use row 0").

Writes into Fixtures/models/tiny-gemma3n-gguf/ (the directory is removed and rewritten):

  config.json, generation_config.json   as saved by transformers (save_pretrained)
  model.safetensors                     the noisy weights after model.to(torch.bfloat16)
  tokenizer.model                       SentencePiece BPE, 128 pieces, trained on TEXT below; <pad>=0,
                                        <eos>=1, <bos>=2, <unk>=3 (the Gemma ids); no byte fallback
  model-bf16.gguf                       convert_hf_to_gguf.py --outtype bf16 of this directory
  logits-llama.npy                      float32 [16, 128]: llama.cpp (llama-cpp-python, logits_all=True,
                                        2 threads, f32 K/V cache, no flash attention, CPU, extra buffer types
                                        off) on model-bf16.gguf, TOKENS in one batch
  logits.npy                            float32 [16, 128]: transformers on the safetensors reloaded with
                                        from_pretrained(dtype=torch.float32), i.e. bf16 weights and f32
                                        arithmetic, one full-sequence forward (use_cache=False)
  reference.json                        tokens, producers, config summary, |llama - transformers| stats,
                                        argmax agreement, the GGUF-vs-safetensors tensor check

What the converter does to the tensors (Gemma3NModel in conversion/gemma.py; checked below, tensor by tensor,
against the safetensors: every GGUF tensor holds exactly the bf16 values of its source):
  - no norm shift for gemma3n (norm_shift() is 0; Gemma 3's converter adds 1 to every *norm.weight),
  - 1-D tensors (all norms, altup.correct_output_scale) and altup.correction_coefs / prediction_coefs are
    stored as F32 (exact widening of the bf16 values); everything else as BF16 (the same bits),
  - altup_projections.{0,1,2} and altup_unembed_projections.{0,1,2} ([D, D] each) are stacked on a new dim 0
    into altup_proj.weight / altup_unembd_proj.weight, PyTorch shape [3, D, D], GGUF ne {D, D, 3},
  - altup.correct_output_scale is renamed to blk.N.altup_correct_scale.weight,
  - embed_tokens and embed_tokens_per_layer would be zero-padded to vocab_size rows; here both already have
    vocab_size rows, so nothing is padded,
  - the k_proj/v_proj/k_norm of KV-shared layers are not in the checkpoint (transformers does not create
    them) and llama.cpp's loader requires them for every layer: see SHARED_KV_DUMMY below.
PyTorch [out, in] matrices appear in GGUF with ne reversed ({in, out}); the bytes are the same.
Metadata worth knowing: gemma3n.activation_sparsity_scale is Φ⁻¹(p) per layer, so 1.6448536 for p=0.95 and
-inf for p=0; gemma3n.attention.sliding_window_pattern is a bool array (true = sliding);
gemma3n.attention.shared_kv_layers = 2; gemma3n.feed_forward_length is a per-layer array.

How close the two oracles are (see reference.json): within ~0.03 (max abs), argmax equal except where the
top two logits are within a few thousandths. The differences come from llama.cpp's arithmetic: a matmul with a
BF16 weight first rounds its f32 activations to bf16 (ggml's vec_dot_type), GELU is read from an fp16 table
(GGML_GELU_FP16), and the gaussian top-k divides by n-1 (sample std) where transformers uses the population
std. Emulating those three in transformers halves the gap (0.026 -> 0.013 max abs); the rest is where single
roundings land differently. These perturbations are why the post norms are scaled (POST_NORM_SCALE).

Deterministic: fixed seeds, torch on 2 threads, sentencepiece on 1 thread, llama.cpp on 2 threads; a rerun
gives the same bytes.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as im
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# oneDNN picks AMX kernels for bf16 matmuls on CPUs that advertise AMX; in VMs that do not grant AMX tile
# state that dies with SIGILL. Cap the ISA below AMX (a ceiling: older CPUs are unaffected). Before torch.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

import numpy as np
import sentencepiece as spm
import torch
import transformers
from safetensors import safe_open
from transformers import Gemma3nForCausalLM, Gemma3nTextConfig

torch.set_num_threads(2)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling fixture scripts

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "models" / "tiny-gemma3n-gguf"
LLAMA_CPP_DIR = Path(os.environ.get(
    "LPK_LLAMA_CPP_DIR", Path.home() / ".cache/layerpack/llama_cpp_python-0.3.36/vendor/llama.cpp"))
GGUF_NAME = "model-bf16.gguf"

SEED = 3011
N_THREADS = 2
VOCAB = 128
N_LAYERS = 22
TOKENS = [2, 17, 100, 45, 127, 9, 64, 77, 3, 50, 120, 6, 33, 88, 5, 111]

S, F = "sliding_attention", "full_attention"
LAYER_TYPES = [F if (i + 1) % 5 == 0 else S for i in range(N_LAYERS)]  # full at 4, 9, 14, 19
SPARSITY = [0.95] * 10 + [0.0] * (N_LAYERS - 10)

# Noise: make_tiny_models.py's recipe (its NOISE_* constants); the placeholder K/V tensors use the same sizes.
from make_tiny_models import NOISE_MATRIX, NOISE_VECTOR  # noqa: E402  (sys.path set above)
# post_attention_layernorm and post_feedforward_layernorm weights are (1 + N(0, 0.15)) * POST_NORM_SCALE.
# With post norms around 1, this random 22-layer model is chaotic: every layer adds a unit-RMS update to the
# residual, and a relative perturbation of 1e-7 grows to ~1e-4 in the logits. llama.cpp perturbs far more than
# that (a BF16 weight matmul rounds its f32 activations to bf16 first; GELU goes through an fp16 table; the
# gaussian top-k uses the sample std), and with post norms around 1 its logits were up to 1.9 from transformers'
# (argmax 11/16). Scaling the two post norms that add the attention and MLP outputs to the stream (PLE and
# LAuReL untouched) makes each layer a ~15 % update and brings llama.cpp within a few hundredths.
POST_NORM_SCALE = 0.15
POST_NORM_SUFFIXES = ("post_attention_layernorm.weight", "post_feedforward_layernorm.weight")

# Text for the tokenizer (written for this fixture; plain ASCII so 128 pieces cover every character).
TEXT = """\
The river rises in the hills to the north and runs for many miles through fields and small towns.
In spring the water is high and fast, and in late summer it is slow and clear over the stones.
Farmers along the banks grow wheat, barley, beans and apples, and sell them at the market each week.
A stone bridge with seven arches crosses the river at the old town, where the road meets the railway.
The bridge was built more than three hundred years ago, and it has been repaired many times since then.
Children walk over it to school in the morning and stop to watch the boats pass under the arches.
Some of the boats carry timber and coal; others take people up the river to the lakes for the day.
On the far side of the bridge there is a mill, a church with a tall tower, and a row of shops.
The baker opens at six, the post office at nine, and the library only in the afternoon.
When the weather is fine, people sit on the benches by the water and read, talk, or feed the ducks.
In winter the fields are white with frost, the days are short, and smoke rises from every chimney.
Each year at the end of autumn the town holds a fair with music, games, food and a long parade.
Numbers and marks: 0 1 2 3 4 5 6 7 8 9, (a) [b] {c} - + = / ? ! ; : ' " % & * # @ < > _ ~ | ^ $.
QUICK BROWN FOXES JUMP OVER LAZY DOGS; Quick brown foxes jump over lazy dogs. Vexing zephyrs quiz jackdaws.
"""


def make_config() -> Gemma3nTextConfig:
    return Gemma3nTextConfig(
        vocab_size=VOCAB,
        vocab_size_per_layer_input=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        layer_types=LAYER_TYPES,
        sliding_window=6,
        activation_sparsity_pattern=SPARSITY,
        hidden_size_per_layer_input=256,
        altup_num_inputs=4,
        laurel_rank=64,
        num_kv_shared_layers=2,
        final_logit_softcapping=30.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
            "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
        },
        attn_implementation="eager",
    )


def perturb(model: torch.nn.Module, seed: int) -> None:
    """make_tiny_models.py's noise recipe, then the post-attention/-feedforward norms scaled by POST_NORM_SCALE."""
    from make_tiny_models import perturb as perturb_like_tiny_models
    perturb_like_tiny_models(model, seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and name.endswith(POST_NORM_SUFFIXES):
                p.mul_(POST_NORM_SCALE)


# llama.cpp's gemma3n loader creates attn_k / attn_v / attn_k_norm for every layer (flag 0, required), but
# transformers has no k_proj / v_proj / k_norm on KV-shared layers, so the checkpoint lacks them and the
# converted GGUF would not load. The converter converts whatever the checkpoint holds, so the safetensors
# file gets these tensors for the shared layers (filled with seeded noise). transformers ignores them on load
# (Gemma3nForCausalLM._keys_to_ignore_on_load_unexpected), and llama.cpp never reads them (layers >= 20 reuse
# the K/V of layer 18/19). Set False to see the load fail.
SHARED_KV_DUMMY = True


def add_shared_kv_dummies(d: Path, config: Gemma3nTextConfig) -> list[str]:
    from safetensors.torch import load_file, save_file

    path = d / "model.safetensors"
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    tensors = load_file(path)
    g = torch.Generator().manual_seed(SEED + 1)
    kv = config.num_key_value_heads * config.head_dim
    first_shared = config.num_hidden_layers - config.num_kv_shared_layers
    added = []
    for i in range(first_shared, config.num_hidden_layers):
        p = f"model.layers.{i}.self_attn."
        for name, shape in ((p + "k_proj.weight", (kv, config.hidden_size)),
                            (p + "v_proj.weight", (kv, config.hidden_size)),
                            (p + "k_norm.weight", (config.head_dim,))):
            assert name not in tensors, name
            base = 1.0 if len(shape) == 1 else 0.0
            std = NOISE_VECTOR if len(shape) == 1 else NOISE_MATRIX
            tensors[name] = (base + std * torch.randn(shape, generator=g)).to(torch.bfloat16)
            added.append(name)
    save_file(dict(sorted(tensors.items())), path, metadata=meta)
    return added


def train_tokenizer(path: Path) -> None:
    buf = io.BytesIO()
    # sentence_iterator + model_writer: no input path or model prefix is recorded in the trainer spec.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT.splitlines()),
        model_writer=buf,
        vocab_size=VOCAB,
        model_type="bpe",
        character_coverage=1.0,
        normalization_rule_name="identity",  # no NFKC charsmap (240 KB) in the model file
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(path))
    assert sp.vocab_size() == VOCAB, sp.vocab_size()
    assert [sp.pad_id(), sp.eos_id(), sp.bos_id(), sp.unk_id()] == [0, 1, 2, 3]


def convert(d: Path) -> str:
    script = LLAMA_CPP_DIR / "convert_hf_to_gguf.py"
    if not script.is_file():
        sys.exit(f"{script} not found (unpack the llama-cpp-python 0.3.36 sdist, or set LPK_LLAMA_CPP_DIR)")
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)
    r = subprocess.run(
        [sys.executable, str(script), str(d), "--outtype", "bf16", "--outfile", str(d / GGUF_NAME)],
        env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"convert_hf_to_gguf.py failed:\n{r.stdout}\n{r.stderr}")
    return r.stderr + r.stdout


def gguf_module():
    sys.path.insert(0, str(LLAMA_CPP_DIR / "gguf-py"))  # the converter's own gguf-py
    import gguf
    return gguf


def check_gguf_tensors(d: Path) -> dict:
    """Every GGUF tensor against the safetensors value it came from: bitwise equal as f32."""
    gguf = gguf_module()
    reader = gguf.GGUFReader(str(d / GGUF_NAME))
    st = {}
    with safe_open(d / "model.safetensors", "pt") as f:
        for k in f.keys():
            st[k] = f.get_tensor(k).float().numpy()

    per_block = {
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
        "attn_k_norm": "self_attn.k_norm", "post_attention_norm": "post_attention_layernorm",
        "ffn_norm": "pre_feedforward_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj", "post_ffw_norm": "post_feedforward_layernorm",
        "inp_gate": "per_layer_input_gate", "proj": "per_layer_projection",
        "post_norm": "post_per_layer_input_norm", "altup_correct_coef": "altup.correction_coefs",
        "altup_predict_coef": "altup.prediction_coefs", "altup_router": "altup.modality_router",
        "altup_router_norm": "altup.router_norm", "laurel_l": "laurel.linear_left",
        "laurel_r": "laurel.linear_right", "laurel_post_norm": "laurel.post_laurel_norm",
    }
    glob = {
        "token_embd.weight": "model.embed_tokens.weight",
        "per_layer_token_embd.weight": "model.embed_tokens_per_layer.weight",
        "per_layer_model_proj.weight": "model.per_layer_model_projection.weight",
        "per_layer_proj_norm.weight": "model.per_layer_projection_norm.weight",
        "output_norm.weight": "model.norm.weight",
    }

    def source(name: str) -> np.ndarray:
        if name in glob:
            return st[glob[name]]
        if name == "altup_proj.weight":
            return np.stack([st[f"model.altup_projections.{k}.weight"] for k in range(3)])
        if name == "altup_unembd_proj.weight":
            return np.stack([st[f"model.altup_unembed_projections.{k}.weight"] for k in range(3)])
        _, bid, short, _w = name.split(".")
        if short == "altup_correct_scale":
            return st[f"model.layers.{bid}.altup.correct_output_scale"]
        return st[f"model.layers.{bid}.{per_block[short]}.weight"]

    types = {}
    for t in reader.tensors:
        src = source(t.name)
        ttype = t.tensor_type.name
        types[ttype] = types.get(ttype, 0) + 1
        raw = np.asarray(t.data)
        if ttype == "BF16":
            vals = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif ttype == "F32":
            vals = raw.astype(np.float32)
        else:
            raise AssertionError(f"{t.name}: unexpected type {ttype}")
        vals = vals.reshape(src.shape)  # GGUF ne reversed == PyTorch shape
        assert list(reversed([int(x) for x in t.shape])) == list(src.shape), (t.name, t.shape, src.shape)
        if not np.array_equal(vals, src):
            raise AssertionError(f"{t.name}: values differ from the safetensors, max "
                                 f"{np.abs(vals - src).max()}")
    return {
        "n_tensors": len(reader.tensors),
        "tensor_types": dict(sorted(types.items())),
        "all_equal_to_safetensors": True,
        "n_safetensors": len(st),
    }


def llama_logits(d: Path) -> tuple[np.ndarray, str, dict]:
    import llama_cpp
    from llama_cpp import Llama

    # Importing make_llama_fixtures turns llama.cpp's extra buffer types off, as it does for its own fixtures
    # (AMX faults on the VMs these were made on; also no weight repacking, so every matmul takes ggml's plain path).
    import make_llama_fixtures  # noqa: F401
    llm = Llama(
        model_path=str(d / GGUF_NAME), n_ctx=64, n_batch=64, n_ubatch=64, n_threads=N_THREADS,
        n_threads_batch=N_THREADS, n_gpu_layers=0, seed=0, logits_all=True,
        type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False, verbose=False,
    )
    assert llm.n_vocab() == VOCAB, llm.n_vocab()
    llm.reset()
    llm.eval(TOKENS)  # one llama_decode: len(TOKENS) <= n_batch
    scores = np.array(llm.scores[: len(TOKENS), :], dtype=np.float32, copy=True)
    meta = dict(llm.metadata)
    del llm
    return scores, f"llama-cpp-python {im.version('llama_cpp_python')}", meta


@torch.no_grad()
def hf_logits(d: Path) -> np.ndarray:
    m = Gemma3nForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    out = m(input_ids=torch.tensor([TOKENS]), use_cache=False)
    return out.logits[0].float().numpy().astype(np.float32)


def clean_dir(d: Path) -> None:
    keep = {"config.json", "generation_config.json", "model.safetensors"}
    for f in sorted(d.iterdir()):
        if f.name in keep:
            f.chmod(0o644)  # safetensors files are written 0600
        elif f.is_dir():
            shutil.rmtree(f)
        else:
            f.unlink()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    torch.manual_seed(SEED)
    config = make_config()
    model = Gemma3nForCausalLM(config).eval()
    perturb(model, SEED)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"
    model = model.to(torch.bfloat16)

    if OUT.exists():
        shutil.rmtree(OUT)
    model.save_pretrained(OUT, safe_serialization=True)
    clean_dir(OUT)
    dummies = add_shared_kv_dummies(OUT, config) if SHARED_KV_DUMMY else []
    (OUT / "model.safetensors").chmod(0o644)
    train_tokenizer(OUT / "tokenizer.model")

    for line in convert(OUT).splitlines():
        if "WARNING" in line or "Padding" in line:
            print("   converter:", line)
    (OUT / GGUF_NAME).chmod(0o644)
    tensor_check = check_gguf_tensors(OUT)

    ll, llama_producer, gguf_meta = llama_logits(OUT)
    hf = hf_logits(OUT)
    np.save(OUT / "logits-llama.npy", ll)
    np.save(OUT / "logits.npy", hf)

    diff = np.abs(ll - hf)
    ll_arg = ll.argmax(-1)
    hf_arg = hf.argmax(-1)
    srt = np.sort(hf, axis=-1)
    ref = {
        "tokens": TOKENS,
        "producer_transformers": f"transformers {transformers.__version__} torch {torch.__version__}",
        "producer_llama": llama_producer + " (bundled llama.cpp), n_threads 2, f32 K/V cache, flash_attn off, "
                          "use_extra_bufts off, logits_all, one batch",
        "producer_converter": "convert_hf_to_gguf.py --outtype bf16 from vendor/llama.cpp of the llama-cpp-python "
                              "0.3.36 sdist, with its vendored gguf-py",
        "producer_sentencepiece": f"sentencepiece {spm.__version__}",
        "model_type": config.model_type,
        "gguf_file": GGUF_NAME,
        "logits_llama": "logits-llama.npy: llama.cpp on model-bf16.gguf",
        "logits": "logits.npy: transformers, safetensors reloaded with dtype=float32 (bf16 weights, f32 math)",
        "max_abs_diff_llama_vs_transformers": float(diff.max()),
        "mean_abs_diff_llama_vs_transformers": float(diff.mean()),
        "max_abs_diff_per_position": [float(x) for x in diff.max(-1)],
        "argmax_agree": int((ll_arg == hf_arg).sum()),
        "greedy_next_transformers": [int(i) for i in hf_arg],
        "greedy_next_llama": [int(i) for i in ll_arg],
        "argmax_disagreements": [
            {"position": int(i), "transformers": int(hf_arg[i]), "llama": int(ll_arg[i]),
             "transformers_logit_gap": float(hf[i, hf_arg[i]] - hf[i, ll_arg[i]]),
             "llama_logit_gap": float(ll[i, ll_arg[i]] - ll[i, hf_arg[i]])}
            for i in np.nonzero(ll_arg != hf_arg)[0]],
        "top2_gap_min_transformers": float((srt[:, -1] - srt[:, -2]).min()),
        "logits_std": float(hf.std()),
        "logits_max_abs": float(np.abs(hf).max()),
        "gguf_tensor_check": tensor_check,
        "shared_kv_dummy_tensors": dummies,
        "config": {
            "vocab_size": config.vocab_size,
            "vocab_size_per_layer_input": config.vocab_size_per_layer_input,
            "hidden_size": config.hidden_size,
            "intermediate_size": config.intermediate_size[0],
            "num_hidden_layers": config.num_hidden_layers,
            "num_attention_heads": config.num_attention_heads,
            "num_key_value_heads": config.num_key_value_heads,
            "head_dim": config.head_dim,
            "layer_types": ["F" if t == F else "S" for t in config.layer_types],
            "sliding_window": config.sliding_window,
            "activation_sparsity_pattern": config.activation_sparsity_pattern,
            "hidden_size_per_layer_input": config.hidden_size_per_layer_input,
            "altup_num_inputs": config.altup_num_inputs,
            "laurel_rank": config.laurel_rank,
            "num_kv_shared_layers": config.num_kv_shared_layers,
            "final_logit_softcapping": config.final_logit_softcapping,
            "rope_theta_full": config.rope_parameters["full_attention"]["rope_theta"],
            "rope_theta_sliding": config.rope_parameters["sliding_attention"]["rope_theta"],
            "rms_norm_eps": config.rms_norm_eps,
            "tie_word_embeddings": config.tie_word_embeddings,
        },
        "gguf_metadata": {k: v for k, v in sorted(gguf_meta.items()) if k.startswith(("gemma3n.", "general.architecture"))},
    }
    (OUT / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")

    print(f"== tiny-gemma3n-gguf (transformers {transformers.__version__}, {llama_producer})")
    print(f"   GGUF tensors: {tensor_check}")
    print(f"   llama vs transformers: max |diff| {diff.max():.4g}, mean {diff.mean():.3g}, "
          f"argmax agree {ref['argmax_agree']}/{len(TOKENS)}")
    print(f"   logits std {hf.std():.4f} max|.| {np.abs(hf).max():.4f}")
    for f in sorted(OUT.iterdir()):
        print(f"   {f.stat().st_size:>9}  {sha256(f)}  {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
