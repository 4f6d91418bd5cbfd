#!/usr/bin/env python3
"""GGUF BPE vocabularies and llama.cpp's token ids for them: what LayerPack's GGUF tokenizer is held to.

Run from the repository root with the peers' venv (llama-cpp-python 0.3.36, gguf-py):

    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_gguf_bpe_fixtures.py

llama.cpp's converter writes two BPE vocabularies for Gemma: tokenizer.ggml.model "gemma4" (Gemma 4), and "gpt2"
with tokenizer.ggml.pre "granite-embed-multi-311m" (a Gemma 3 checkpoint saved by transformers 5, whose
tokenizer.json is BPE); llama.cpp reads both the same way (SentencePiece-style BPE: spaces as "▁", raw UTF-8,
merges by rank, text cut at newline runs, <0xXX> byte fallback, BOS always added). This script writes, into
Fixtures/tokenizers/gguf-bpe/:

  gemma4-vocab.gguf   a vocabulary-only GGUF (general.architecture gemma4, no tensors) holding the 1,000-piece
                      Gemma-style tokenizer of Fixtures/tokenizers/tiny-bpe/tokenizer.json as llama.cpp's converter
                      lays a gemma4 vocabulary out: tokens by id, token_type (3 control for the special added
                      tokens, 6 byte for <0xXX>, 1 otherwise), merges "left right", bos/eos/unk/pad ids;
  gpt2-vocab.gguf     the same vocabulary as model "gpt2", pre "granite-embed-multi-311m";
  gpt2-llama-bpe-vocab.gguf  the same as model "gpt2", pre "llama-bpe": byte-level GPT-2 BPE, which LayerPack
                      refuses by name (not tokenized here);
  cases.json          for each file and each text of Fixtures/llama/tokenizer-cases.json: llama.cpp's ids
                      (llama_cpp.Llama(vocab_only=True).tokenize(text, add_bos=True, special=False)) and with
                      special=True, and llama.cpp's detokenization; plus the same for the vocabulary of the
                      conformance fixture gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3/model.gguf (the converter's own
                      gemma4 output, 256 pieces, no byte tokens).
"""
import hashlib
import importlib.metadata as im
import json
import sys
from pathlib import Path

import gguf
import llama_cpp

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures/tokenizers/gguf-bpe"
TOKENIZER = ROOT / "Fixtures/tokenizers/tiny-bpe/tokenizer.json"
CASES = ROOT / "Fixtures/llama/tokenizer-cases.json"
CONVERTED = ROOT / "Fixtures/conformance/gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3/model.gguf"


def write_vocabulary(path: Path, model: str, pre: str | None) -> None:
    spec = json.loads(TOKENIZER.read_text())
    vocab = spec["model"]["vocab"]
    added = {entry["id"]: entry for entry in spec["added_tokens"]}
    count = max(max(vocab.values()), max(added, default=-1)) + 1
    tokens, types = [""] * count, [1] * count
    for text, id in vocab.items():
        tokens[id] = text
        if len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            types[id] = 6
    for id, entry in added.items():
        tokens[id] = entry["content"]
        types[id] = 3 if entry.get("special") else 4
    merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in spec["model"]["merges"]]
    writer = gguf.GGUFWriter(str(path), "gemma4")
    writer.add_block_count(1)
    writer.add_tokenizer_model(model)
    if pre:
        writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    ids = {entry["content"]: id for id, entry in added.items()}
    writer.add_bos_token_id(ids["<bos>"])
    writer.add_eos_token_id(ids["<eos>"])
    writer.add_unk_token_id(ids["<unk>"])
    writer.add_pad_token_id(ids["<pad>"])
    writer.add_add_bos_token(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def tokenize(path: Path, texts: list[dict]) -> dict:
    model = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    cases = []
    for case in texts:
        data = case["text"].encode()
        ids = model.tokenize(data, add_bos=True, special=False)
        cases.append({"name": case["name"], "text": case["text"], "ids": ids,
                      "ids_special": model.tokenize(data, add_bos=True, special=True),
                      "detokenized": model.detokenize(ids[1:]).decode(errors="replace")})
    return {"file": str(path.relative_to(ROOT)), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "cases": cases}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_vocabulary(OUT / "gemma4-vocab.gguf", "gemma4", None)
    write_vocabulary(OUT / "gpt2-vocab.gguf", "gpt2", "granite-embed-multi-311m")
    write_vocabulary(OUT / "gpt2-llama-bpe-vocab.gguf", "gpt2", "llama-bpe")
    texts = json.loads(CASES.read_text())["cases"]
    result = {
        "producer": f"llama-cpp-python {im.version('llama-cpp-python')}, gguf-py {im.version('gguf')}",
        "texts": str(CASES.relative_to(ROOT)),
        "vocabularies": [tokenize(OUT / "gemma4-vocab.gguf", texts), tokenize(OUT / "gpt2-vocab.gguf", texts),
                         tokenize(CONVERTED, texts)],
    }
    (OUT / "cases.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    for vocabulary in result["vocabularies"]:
        print(vocabulary["file"], sum(len(c["ids"]) for c in vocabulary["cases"]), "ids", file=sys.stderr)


if __name__ == "__main__":
    main()
