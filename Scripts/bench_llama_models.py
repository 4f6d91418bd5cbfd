"""make bench: Gemma-3n- and Gemma-4-shaped models beside llama.cpp running the same models converted by its own converter.

llama.cpp's Gemma 3n code hard-codes 22 layers, a PLE width of 256, a LAuReL rank of 64 and 4 AltUp streams
(Fixtures/scripts/make_gemma3n_gguf.py explains each), so the model has those; the rest is sized like the bench's
other Gemma-3n-shaped model (hidden 256, 2 heads of 128, intermediate 1024) with a 32,768-token vocabulary (a
3 GB bf16 PLE table at 262,144 would add minutes of conversion for nothing the comparison needs). transformers makes
it (bf16, save_pretrained), llama.cpp's convert_hf_to_gguf.py converts it and llama-quantize makes its Q8_0 and
Q4_0; llama.cpp (llama-cpp-python) and LayerPack run those same GGUFs, and LayerPack also its own int8/int4 packs
of the safetensors, PLE table in a companion file.

Beside it, the same comparison for a Gemma-4-shaped model of E2B's kind: 10 layers (4 sliding + 1 full, twice, as
E2B repeats 4 + 1 seven times), the last 5 reusing the first 5 layers' keys and values (E2B: 20 of 35) with the
double-wide MLP there (intermediate 1024, 2,048 on the KV-shared layers), PLE width 256, sliding layers with 2 heads
of 128 and full layers with 2 heads of 256 (E2B's 2:1 ratio of global to sliding head size) under proportional RoPE
(a quarter of the pairs rotated), 1 KV head, tied embeddings, final logit softcap 30. Hidden 256, intermediate 1024
and the 32,768-token vocabulary are the Gemma 3n model's, so the two rows compare; llama.cpp's Gemma 4 code
hard-codes no shapes, so the layer count is free; with 10, making it takes about 10 s and converting it 7 s.
llama.cpp's Gemma 4 converter reads the vocabulary from tokenizer.json only (gguf.LlamaHfVocab) and cuts
token_embd to the tokenizer's size, so the tokenizer must have all 32,768 entries: make_conformance_models.py's
256-piece tokenizer.json, padded with unreachable pieces to the model's vocabulary.
"""
import json
import os
import shutil
import sys
from pathlib import Path

from bench_rounds import median_rounds, read_into_cache, round_ratio

SCRIPTS = Path(__file__).resolve().parents[1] / "Fixtures" / "scripts"


def made_once(directory, make):
    """llama.cpp's bf16 GGUF of the checkpoint `make(directory)` writes (with its tokenizer and the converter's run)
    into an emptied `directory`; made once, then reused."""
    gguf = directory / "model-bf16.gguf"
    if not gguf.exists():
        sys.path.insert(0, str(SCRIPTS))
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        make(directory)
    return gguf


def make_gemma3n_model(directory):
    """The Gemma 3n checkpoint, its tokenizer and llama.cpp's bf16 GGUF of it, written into `directory`."""
    import torch
    from transformers import Gemma3nForCausalLM, Gemma3nTextConfig
    import make_gemma3n_gguf as recipe  # the tokenizer, the KV-sharing stand-ins and the converter call
    torch.manual_seed(7)
    layers = recipe.N_LAYERS
    config = Gemma3nTextConfig(
        vocab_size=32768, vocab_size_per_layer_input=32768, hidden_size=256, intermediate_size=1024,
        num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1, head_dim=128,
        layer_types=recipe.LAYER_TYPES, sliding_window=512, activation_sparsity_pattern=recipe.SPARSITY,
        hidden_size_per_layer_input=256, altup_num_inputs=4, laurel_rank=64, num_kv_shared_layers=2,
        final_logit_softcapping=30.0, rms_norm_eps=1e-6, max_position_embeddings=4096, tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                         "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0}})
    model = Gemma3nForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("correct_output_scale"):
                p.fill_(1.0)  # zeros would switch the per-layer inputs off
    model.to(torch.bfloat16).save_pretrained(directory)
    recipe.add_shared_kv_dummies(directory, config)
    recipe.train_tokenizer(directory / "tokenizer.model")
    recipe.convert(directory)


# Tokens decoded per measurement: these models decode at hundreds of tokens a second, so 32 tokens were a window of
# tens of milliseconds that one slow moment of the VM could decide.
DECODED = 128

LLAMA_DECODE = ("import llama_cpp,time,sys\n"
                "o=llama_cpp.llama_cpp.llama_model_default_params\n"
                "def p():\n q=o(); q.use_extra_bufts=False; return q\n"
                "llama_cpp.llama_cpp.llama_model_default_params=p\n"
                "m=llama_cpp.Llama(sys.argv[1],n_ctx=512,n_threads=2,verbose=False)\n"
                "t=[2]+[4+(i*7919)%32000 for i in range(1,128)];s=time.perf_counter();m.eval(t);pf=time.perf_counter()-s\n"
                "s=time.perf_counter()\nfor i in range(DECODED): m.eval([int(m.scores[m.n_tokens-1].argmax())])\n"
                "d=time.perf_counter()-s;print(128/pf,DECODED/d)").replace("DECODED", str(DECODED))


def llama_rows(lpk, directory, bf16, label, tools, run, row, bench_json):
    """llama.cpp's Q8_0 and Q4_0 of `bf16` run by llama.cpp and by LayerPack, and LayerPack's int8/int4 packs
    (medians of interleaved rounds)."""
    for kind, preset in [("Q8_0", "int8"), ("Q4_0", "int4")]:
        quantized = directory / f"model.{kind}.gguf"
        run([str(Path(tools) / "llama-quantize"), str(bf16), str(quantized), kind, "2"])
        pack = directory / f"model.{preset}.lpk"
        run([lpk["lpk-quantize"], str(directory), "-o", str(pack), "--preset", preset, "--split-ple", "--quiet"])
        each = []
        theirs, gguf, ours = median_rounds([
            lambda: read_into_cache(quantized) or [float(v) for v in run([sys.executable, "-c", LLAMA_DECODE, str(quantized)])[0].split()],
            lambda: read_into_cache(quantized) or bench_json(lpk["lpk-bench"], "decode", str(quantized), "--generate", str(DECODED)),
            lambda: read_into_cache(pack, f"{pack}.ple") or bench_json(lpk["lpk-bench"], "decode", str(pack), "--generate", str(DECODED))], rounds=5, each=each)
        ratios = [round_ratio([r["decode_tokens_per_second"] for r in mine], [r[1] for r in each[0]]) for mine in each[1:]]
        row(f"{label} converted by llama.cpp's convert_hf_to_gguf.py, "
            f"{kind} GGUF / LayerPack {preset} pack: prefill (128 tokens) / decode ({DECODED} tokens), 2 threads (medians of 5 rounds)",
            f"{gguf['prefill_tokens_per_second']:.0f} / {gguf['decode_tokens_per_second']:.1f} (GGUF); "
            f"{ours['prefill_tokens_per_second']:.0f} / {ours['decode_tokens_per_second']:.1f} (pack) tokens/s",
            f"llama.cpp on the {kind} GGUF: {theirs[0]:.0f} / {theirs[1]:.1f} tokens/s",
            f"decode ÷ llama.cpp's within each round (median of 5): {ratios[0]:.2f}× (GGUF), {ratios[1]:.2f}× (pack); goal ≥ 1.3×")


def gemma3n_llama_rows(lpk, work, tools, run, row, bench_json):
    directory = work / "llama-gemma3n"
    bf16 = made_once(directory, make_gemma3n_model)
    llama_rows(lpk, directory, bf16, "22-layer Gemma-3n-shaped model (vocab 32,768, PLE 22 × 256)",
               tools, run, row, bench_json)


GEMMA4_VOCAB = 32768
GEMMA4_LAYERS = 10
GEMMA4_KV_SHARED = 5


def pad_tokenizer(directory, size):
    """Pads tokenizer.json's BPE vocabulary with pieces no merge reaches (▁w256, ▁w257, …) to `size` entries."""
    path = directory / "tokenizer.json"
    tokenizer = json.loads(path.read_text())
    pieces = tokenizer["model"]["vocab"]
    for i in range(len(pieces), size):
        assert f"▁w{i}" not in pieces
        pieces[f"▁w{i}"] = i
    assert sorted(pieces.values()) == list(range(size))
    path.write_text(json.dumps(tokenizer, ensure_ascii=False) + "\n")


def make_gemma4_model(directory):
    """The Gemma 4 checkpoint, its tokenizer and llama.cpp's bf16 GGUF of it, written into `directory`."""
    import make_conformance_models as conformance  # the tokenizer.json Gemma 4's converter accepts (and AMX off)
    import make_gemma3n_gguf as recipe  # the converter call, --outtype bf16 into model-bf16.gguf
    import torch
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig
    torch.manual_seed(7)
    S, F = conformance.S, conformance.F
    config = Gemma4TextConfig(
        vocab_size=GEMMA4_VOCAB, vocab_size_per_layer_input=GEMMA4_VOCAB, hidden_size=256, intermediate_size=1024,
        num_hidden_layers=GEMMA4_LAYERS, num_attention_heads=2, num_key_value_heads=1, head_dim=128, global_head_dim=256,
        layer_types=([S] * 4 + [F]) * (GEMMA4_LAYERS // 5), sliding_window=512, num_kv_shared_layers=GEMMA4_KV_SHARED,
        use_double_wide_mlp=True, hidden_size_per_layer_input=256, final_logit_softcapping=30.0, rms_norm_eps=1e-6,
        max_position_embeddings=4096, tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, bos_token_id=2,
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                         "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25,
                                            "rope_theta": 1_000_000.0}})
    Gemma4ForCausalLM(config).to(torch.bfloat16).save_pretrained(directory)
    conformance.write_hf_tokenizer(directory)
    pad_tokenizer(directory, GEMMA4_VOCAB)
    recipe.convert(directory)


def gemma4_llama_rows(lpk, work, tools, run, row, bench_json):
    directory = work / "llama-gemma4"
    bf16 = made_once(directory, make_gemma4_model)
    llama_rows(lpk, directory, bf16,
               f"{GEMMA4_LAYERS}-layer Gemma-4-shaped model (vocab 32,768, PLE {GEMMA4_LAYERS} × 256, "
               f"{GEMMA4_KV_SHARED} KV-shared layers, double-wide MLP, proportional RoPE)", tools, run, row, bench_json)
