#!/usr/bin/env python3
"""Importance-matrix fixtures: LayerPack's and llama.cpp's imatrix files, each read and used by the other side.

Run from the repository root with the peers' venv, after `swift build -c release` (it runs the release
lpk-quantize and lpk-verify) and with llama.cpp's command-line tools built from the llama-cpp-python 0.3.36 sdist
(llama-imatrix, llama-quantize, llama-perplexity in ~/.cache/layerpack/llama-tools/bin, or LPK_LLAMA_TOOLS=DIR):

    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_imatrix_fixtures.py [--extract-texts]

Writes Fixtures/imatrix/ (README.md there is rewritten by this script and holds the numbers):
  calibration.txt, heldout.txt   two disjoint ~4 KB English texts: prose from the comments of SQLite's sqlite3.h
                                 (public domain), one line each, no trailing newline, only characters that are
                                 pieces of the tiny model's 256-piece vocabulary. Extracted from
                                 /usr/include/sqlite3.h (SQLite 3.40.1, sha256 checked) when missing or with
                                 --extract-texts; otherwise the committed files are the input.
  llama.imatrix.gguf             llama-imatrix on the tiny Gemma 3 GGUF over calibration.txt, GGUF format
                                 (-c 64 -b 64 -ub 64 -t 1: 41 chunks of 64 tokens, each starting with BOS)
  llama.imatrix.dat              the same run with --output-format dat (llama.cpp's legacy format)
  llama.imatrix.json             gguf-py's reading of llama.imatrix.gguf: metadata, per weight in_sum2 and counts,
                                 and the mean squares in_sum2 / counts as llama-quantize computes them (float32);
                                 plus the .dat read with a reader that follows common_imatrix_load_legacy
  layerpack.imatrix.gguf         `lpk-quantize tiny.gguf -o x.lpk --preset int4 --calibrate calibration.txt
                                 --save-imatrix ... --calibration-tokens 2624 --calibration-context 64`
  layerpack.imatrix.check.json   what the peers make of layerpack.imatrix.gguf: (a) gguf-py's listing (vendored and
                                 PyPI gguf-py), (b) llama-quantize --imatrix on it (Q4_0, IQ4_NL, Q4_K_M) with the
                                 per-entry trace and a byte comparison of every quantized tensor, (c) the same with
                                 llama.cpp's own files, (d) LayerPack's mean squares against llama.cpp's,
                                 (e) lpk-quantize --imatrix reading llama.cpp's .gguf and .dat, (f) KL divergence of
                                 the Q4_0 models on heldout.txt (llama-perplexity), (g) an untied model, where
                                 output.weight is an entry

The model is Fixtures/conformance/gemma3-hd8-mha-window3-tied/model.gguf (f32, 3 layers, hidden 32, vocab 256,
tied head), copied to a temporary directory as tiny.gguf so that every path llama.cpp records (datasets,
quantize.imatrix.file) is a bare file name. The untied check uses gemma3-hd16-gqa2-window64-untied-softcap.

Deterministic: llama.cpp on 1 thread, fixed chunking, no sampling, bare file names; a rerun gives the same bytes in
every file (checked with sha256 over eleven consecutive runs). llama-perplexity logs through common_log, whose thread
sometimes loses the last lines at exit; the script reruns it (same numbers) until the lines it reads are there.
Runtime: about 3 s on 2 cores.

Note: the quantized models are run with llama-perplexity --no-repack. With weight repacking on, ggml puts Q4_0 and
Q8_0 weights in its AMX buffer on CPUs that advertise AMX, and on VMs that do not grant the tile state that dies with
SIGILL (see Fixtures/llama/README.md). The imatrix runs multiply f32 weights, which are never repacked.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as im
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "imatrix"
CACHE = Path.home() / ".cache" / "layerpack"
LLAMA_TOOLS = Path(os.environ.get("LPK_LLAMA_TOOLS", CACHE / "llama-tools" / "bin"))
LLAMA_CPP_DIR = Path(os.environ.get("LPK_LLAMA_CPP_DIR", CACHE / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp"))
GGUF_PY = LLAMA_CPP_DIR / "gguf-py"
sys.path.insert(0, str(GGUF_PY))  # llama.cpp's own gguf-py (same commit as the tools) before the PyPI wheel
import gguf  # noqa: E402

LPK = ROOT / ".build" / "release"
CONFORMANCE = ROOT / "Fixtures" / "conformance"
MODEL = CONFORMANCE / "gemma3-hd8-mha-window3-tied"
UNTIED = CONFORMANCE / "gemma3-hd16-gqa2-window64-untied-softcap"

SQLITE_H = Path("/usr/include/sqlite3.h")
SQLITE_H_SHA256 = "9222d6a9e53903389cc09b103b55f786074b5cc8cb0f52a494d54eddf27559ef"  # Debian 12 libsqlite3-dev 3.40.1
CALIBRATION_SECTIONS = ["Closing A Database Connection", "One-Step Query Execution Interface"]
HELDOUT_SECTIONS = ["Initialize The SQLite Library", "Memory Allocation Routines"]
TEXT_LIMIT = 4096  # bytes per text, cut at a space

CONTEXT = 64       # llama-imatrix -c / lpk-quantize --calibration-context (the model's context_length is 128)
THREADS = 1
QUANT_TYPES = ["Q4_0", "IQ4_NL", "Q4_K_M"]
IMATRIX_ARGS = ["-c", str(CONTEXT), "-b", str(CONTEXT), "-ub", str(CONTEXT), "-t", str(THREADS)]
# Lines of llama-quantize's output that say what it did with the importance matrix.
QUANT_LOG = re.compile(r"imatrix|importance|did not find|fallback|falling back|error|failed|missing", re.I)


# --------------------------------------------------------------------------------------------- helpers
def f32(x) -> float:
    """A float32 value as JSON: the exact float32 as a Python float (repr round-trips)."""
    return float(np.float32(x))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_json(name: str, obj) -> None:
    path = OUT / name
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def run(cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e["LD_LIBRARY_PATH"] = str(LLAMA_TOOLS) + (":" + e["LD_LIBRARY_PATH"] if e.get("LD_LIBRARY_PATH") else "")
    if env:
        e.update(env)
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=e, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} exited with {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def shown(cmd: list) -> str:
    """A command as the README shows it: tools by bare name, paths relative to the work directory."""
    return " ".join(Path(str(c)).name if str(c).startswith("/") else str(c) for c in cmd)


def tool(name: str) -> Path:
    path = LLAMA_TOOLS / name
    if not path.exists():
        sys.exit(f"{path} is missing: build llama.cpp's tools from the llama-cpp-python 0.3.36 sdist "
                 "(or set LPK_LLAMA_TOOLS)")
    return path


def llama_version() -> str:
    r = run([tool("llama-imatrix"), "--version"], cwd=ROOT, check=False)
    return ", ".join(line.strip() for line in (r.stdout + r.stderr).splitlines()
                     if line.startswith(("version:", "built with")))


# --------------------------------------------------------------------------------------------- texts
def vocabulary(model: Path) -> set[str]:
    return set(gguf.GGUFReader(model).fields["tokenizer.ggml.tokens"].contents())


def sqlite_sections() -> dict[str, str]:
    """Each `CAPI3REF:` comment of sqlite3.h as plain prose: comment markers, HTML, code blocks and link brackets
    removed, whitespace collapsed to single spaces."""
    src = SQLITE_H.read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    for block in re.findall(r"/\*(.*?)\*/", src, flags=re.S):
        title, body = None, []
        for line in block.splitlines():
            line = re.sub(r"^\s*\*\*? ?", "", line)
            m = re.match(r"\s*CAPI3REF:\s*(.*)", line)
            if m:
                title = m.group(1).strip()
                continue
            if re.match(r"\s*(METHOD|KEYWORDS|DESTRUCTOR|CONSTRUCTOR|EXPERIMENTAL|DEPRECATED)\b", line):
                continue
            body.append(line)
        if title is None:
            continue
        t = "\n".join(body)
        t = re.sub(r"<pre>.*?</pre>", " ", t, flags=re.S)
        t = re.sub(r"<blockquote>.*?</blockquote>", " ", t, flags=re.S)
        t = re.sub(r"<[^>]*>", " ", t)
        t = re.sub(r"\[([^\]|]*)\|([^\]]*)\]", r"\2", t)
        t = re.sub(r"\[([^\]]*)\]", r"\1", t)
        t = t.replace("^", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        sections.setdefault(title, " ".join(t.split()))
    return sections


def fit_vocabulary(text: str, vocab: set[str]) -> str:
    """Characters the vocabulary has no piece for (it has no byte pieces, and llama.cpp's SPM tokenizer then throws
    std::out_of_range) become their lower case if that is a piece ('H' -> 'h'), else are dropped."""
    out = []
    for c in text:
        piece = "\u2581" if c == " " else c
        if piece in vocab:
            out.append(c)
        elif c.lower() in vocab:
            out.append(c.lower())
    return " ".join("".join(out).split())


def extract_texts(vocab: set[str]) -> None:
    if not SQLITE_H.exists() or sha256(SQLITE_H) != SQLITE_H_SHA256:
        sys.exit(f"{SQLITE_H} is missing or not SQLite 3.40.1's (sha256 {SQLITE_H_SHA256}): "
                 "keep the committed texts (run without --extract-texts)")
    sections = sqlite_sections()
    for name, titles in (("calibration.txt", CALIBRATION_SECTIONS), ("heldout.txt", HELDOUT_SECTIONS)):
        text = fit_vocabulary(" ".join(sections[t] for t in titles), vocab)
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT].rsplit(" ", 1)[0]
        (OUT / name).write_text(text, encoding="ascii")
        print(f"wrote {(OUT / name).relative_to(ROOT)} ({len(text)} bytes)")


def tokenization(texts: dict[str, Path], model: Path, sp_model: Path) -> dict:
    """The token ids of each text from SentencePiece (the tokenizer.model the GGUF vocabulary came from), llama.cpp
    (llama-cpp-python, vocab only) and LayerPack (lpk-verify reports how many tokens it ran)."""
    import sentencepiece as spm
    import llama_cpp

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    llm = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
    out = {}
    for name, path in texts.items():
        text = path.read_text(encoding="ascii")
        ids_sp = [sp.bos_id()] + sp.encode(text)
        ids_llama = llm.tokenize(text.encode(), add_bos=True, special=False)
        r = run([LPK / "lpk-verify", model, model, "--prompt", text, "--json"], cwd=ROOT)
        n_lpk = json.loads(r.stdout)["tokens"]
        out[name] = {"tokens_with_bos": len(ids_llama), "sentencepiece_equals_llama_cpp": ids_sp == ids_llama,
                     "layerpack_token_count": n_lpk, "unknown_tokens": ids_llama.count(3),
                     "chunks_of_%d" % CONTEXT: len(ids_llama) // CONTEXT}
        assert ids_sp == ids_llama and n_lpk == len(ids_llama) and 3 not in ids_llama, out[name]
    return out


# --------------------------------------------------------------------------------------------- imatrix files
def read_imatrix(path: Path) -> dict:
    """gguf-py's reading of an imatrix GGUF: every key (type, value) and tensor, entries by weight name."""
    r = gguf.GGUFReader(path)
    keys = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        keys[name] = {"type": "/".join(t.name for t in field.types), "value": field.contents()}
    tensors = [{"name": t.name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape],
                "offset": int(t.data_offset)} for t in r.tensors]
    data = {t.name: np.array(t.data, dtype=np.float32).ravel() for t in r.tensors}
    entries = {}
    for name in data:
        if name.endswith(".in_sum2"):
            w = name[: -len(".in_sum2")]
            sums, counts = data[name], data[w + ".counts"]
            # quantize.cpp load_imatrix: float division per expert, 1 where the count is 0
            n = sums.size // counts.size
            mean = np.concatenate([sums[j * n:(j + 1) * n] / np.float32(c) if c > 0 else np.ones(n, np.float32)
                                   for j, c in enumerate(counts)]).astype(np.float32)
            entries[w] = {"in_sum2": sums, "counts": counts, "mean_squares": mean}
    return {"version": int(r.fields["GGUF.version"].contents()), "keys": keys, "tensors": tensors,
            "entries": entries, "data_offset": int(r.data_offset)}


def read_legacy(path: Path) -> dict:
    """llama.cpp's legacy .dat, read as common_imatrix_load_legacy does: int32 n_entries; per entry int32 len, name,
    int32 ncall, int32 nval, float32[nval] (= mean x^2 * ncall); then, if present, int32 last_chunk and int32 len +
    the dataset name."""
    b = path.read_bytes()
    pos = 0

    def i32() -> int:
        nonlocal pos
        v = int(np.frombuffer(b, "<i4", 1, pos)[0])
        pos += 4
        return v

    n = i32()
    entries = {}
    for _ in range(n):
        length = i32()
        name = b[pos:pos + length].decode()
        pos += length
        ncall, nval = i32(), i32()
        values = np.frombuffer(b, "<f4", nval, pos).copy()
        pos += 4 * nval
        entries[name] = {"ncall": ncall, "values": values}
    trailer = {}
    if pos < len(b):
        trailer["last_chunk"] = i32()
        length = i32()
        trailer["dataset"] = b[pos:pos + length].decode()
        pos += length
    assert pos == len(b), (pos, len(b))
    return {"n_entries": n, "entries": entries, **trailer}


def rel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.abs(a - b) / np.abs(b)


# --------------------------------------------------------------------------------------------- llama.cpp runs
def llama_imatrix(work: Path, model: str, text: str, out: str, *extra: str) -> list[str]:
    cmd = [tool("llama-imatrix"), "-m", model, "-f", text, "-o", out, *IMATRIX_ARGS, *extra]
    run(cmd, cwd=work)
    return cmd


def quantize(work: Path, model: str, out: str, qtype: str, imatrix: str | None, *extra: str) -> dict:
    cmd = [tool("llama-quantize"), *extra, *(["--imatrix", imatrix] if imatrix else []), model, out, qtype,
           str(THREADS)]
    r = run(cmd, cwd=work, env={"LLAMA_TRACE": "1"}, check=False)
    rec = {"command": "LLAMA_TRACE=1 " + shown(cmd), "exit_status": r.returncode,
           "stdout": [s.strip() for s in r.stdout.splitlines() if QUANT_LOG.search(s)],
           "stderr": [s.strip() for s in r.stderr.splitlines() if QUANT_LOG.search(s)]}
    if r.returncode == 0:
        q = gguf.GGUFReader(work / out)
        rec["imatrix_keys"] = {k: f.contents() for k, f in q.fields.items() if k.startswith("quantize.imatrix")}
        rec["sha256"] = sha256(work / out)
    return rec


def tensor_bytes(path: Path) -> dict[str, tuple[str, bytes]]:
    return {t.name: (t.tensor_type.name, bytes(np.asarray(t.data).tobytes())) for t in gguf.GGUFReader(path).tensors}


def blocks_differing(qtype: str, a: bytes, b: bytes) -> int:
    size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[qtype]][1]
    return sum(a[i:i + size] != b[i:i + size] for i in range(0, len(a), size))


def compare_quantized(work: Path, qtype: str, entries: set[str]) -> dict:
    """Per quantized tensor: its type, whether the imatrix changed its bytes (against no imatrix), and whether
    LayerPack's imatrix gives the bytes llama.cpp's gives."""
    lp, ll, none = (tensor_bytes(work / f"q-{k}-{qtype}.gguf") for k in ("layerpack", "llama", "none"))
    rows, summary = {}, {"quantized": 0, "with_entry": 0, "changed_by_layerpack_imatrix": 0,
                         "changed_by_llama_imatrix": 0, "layerpack_equals_llama": 0}
    for name, (ty, data) in lp.items():
        if ty in ("F32", "F16"):
            continue
        row = {"type": ty, "entry": name in entries, "changed_by_layerpack_imatrix": data != none[name][1],
               "changed_by_llama_imatrix": ll[name][1] != none[name][1], "layerpack_equals_llama": data == ll[name][1]}
        if not row["layerpack_equals_llama"]:
            row["blocks_differing"] = blocks_differing(ty, data, ll[name][1])
            row["blocks"] = len(data) // gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[ty]][1]
        rows[name] = row
        summary["quantized"] += 1
        for k in ("changed_by_layerpack_imatrix", "changed_by_llama_imatrix", "layerpack_equals_llama"):
            summary[k] += row[k]
        summary["with_entry"] += row["entry"]
    return {"summary": summary, "tensors": rows}


def run_logged(cmd: list, cwd: Path, needed: list[str]) -> str:
    """stdout + stderr of a llama.cpp tool that logs through common_log. Its log thread sometimes loses the last
    lines at exit, so the (deterministic) run is repeated, up to 5 times, until every needed line is there."""
    for _ in range(5):
        r = run(cmd, cwd=cwd)
        text = r.stdout + r.stderr
        if all(n in text for n in needed):
            return text
    sys.exit(f"{shown(cmd)}: no {needed} in its output after 5 runs")


def kld(work: Path, model: str, base: str) -> dict:
    cmd = [tool("llama-perplexity"), "-m", model, "-c", str(CONTEXT), "-b", str(CONTEXT), "-t", str(THREADS),
           "--no-repack", "--kl-divergence-base", base, "--kl-divergence"]
    text = run_logged(cmd, work, ["Mean PPL(Q)", "Mean    KLD", "Median  KLD", "RMS Δp", "Same top p"])
    lines = [s.strip() for s in text.splitlines()
             if re.match(r"\s*(Mean PPL\(Q\) |Mean PPL\(base\)|Mean    KLD|Median  KLD|Maximum KLD|RMS Δp|Same top p)",
                         s)]
    num = {}
    for s in lines:
        m = re.match(r"(Mean PPL\(Q\)|Mean    KLD|Same top p)\s*:\s*([-\d.]+)", s)
        if m:
            num[{"Mean PPL(Q)": "ppl", "Mean    KLD": "mean_kld", "Same top p": "same_top_percent"}[m.group(1)]] = \
                float(m.group(2))
    return {"command": shown(cmd), "lines": lines, **num}


# --------------------------------------------------------------------------------------------- LayerPack runs
def lpk_quantize(work: Path, *args: str) -> tuple[list, dict]:
    cmd = [LPK / "lpk-quantize", *args, "--quiet", "--json"]
    r = run(cmd, cwd=work)
    return cmd, json.loads(r.stdout)


def pack_errors(report: dict) -> dict[str, dict]:
    return {t["name"]: t["error"] for t in report["report"]["tensors"] if "error" in t}


# --------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--extract-texts", action="store_true", help="rewrite the texts from /usr/include/sqlite3.h")
    args = ap.parse_args()
    t0 = time.time()
    for exe in ("lpk-quantize", "lpk-verify"):
        if not (LPK / exe).exists():
            sys.exit(f"{LPK / exe} is missing: run `swift build -c release` first")
    OUT.mkdir(parents=True, exist_ok=True)
    model_src = MODEL / "model.gguf"
    vocab = vocabulary(model_src)
    if args.extract_texts or not (OUT / "calibration.txt").exists() or not (OUT / "heldout.txt").exists():
        extract_texts(vocab)
    for name in ("calibration.txt", "heldout.txt"):
        text = (OUT / name).read_text(encoding="ascii")
        assert text == fit_vocabulary(text, vocab), f"{name} has characters outside the vocabulary"

    check: dict = {"schema": "layerpack imatrix interop check 1"}
    with tempfile.TemporaryDirectory(prefix="lpk-imatrix-") as tmp:
        work = Path(tmp)
        for name in ("calibration.txt", "heldout.txt"):
            shutil.copyfile(OUT / name, work / name)
        shutil.copyfile(model_src, work / "tiny.gguf")
        tokens = tokenization({n: work / n for n in ("calibration.txt", "heldout.txt")}, work / "tiny.gguf",
                              MODEL / "tokenizer.model")

        # 1, 2: llama.cpp's imatrix of the calibration text, GGUF and legacy .dat; and of the held-out text (control)
        cmd_gguf = llama_imatrix(work, "tiny.gguf", "calibration.txt", "llama.imatrix.gguf")
        cmd_dat = llama_imatrix(work, "tiny.gguf", "calibration.txt", "llama.imatrix.dat", "--output-format", "dat")
        llama_imatrix(work, "tiny.gguf", "heldout.txt", "heldout.imatrix.gguf")
        ll = read_imatrix(work / "llama.imatrix.gguf")
        dat = read_legacy(work / "llama.imatrix.dat")
        held = read_imatrix(work / "heldout.imatrix.gguf")
        chunks = ll["keys"]["imatrix.chunk_count"]["value"]
        n_tokens = chunks * CONTEXT

        # 4: LayerPack's imatrix of the same text
        cmd_lpk, lpk_report = lpk_quantize(work, "tiny.gguf", "-o", "x.lpk", "--preset", "int4", "--calibrate",
                                           "calibration.txt", "--save-imatrix", "layerpack.imatrix.gguf",
                                           "--calibration-tokens", str(n_tokens),
                                           "--calibration-context", str(CONTEXT))
        lp = read_imatrix(work / "layerpack.imatrix.gguf")

        # (a) gguf-py's listing, also with the PyPI gguf-py of the venv (a separate interpreter without our path)
        pypi = subprocess.run([sys.executable, "-c", (
            "import gguf, json, sys, importlib.metadata as im\n"
            "r = gguf.GGUFReader(sys.argv[1])\n"
            "print(json.dumps({'gguf_py': im.version('gguf'), 'file': gguf.__file__.split('site-packages/')[-1],"
            " 'keys': {k: f.contents() for k, f in r.fields.items() if not k.startswith('GGUF.')},"
            " 'tensors': [[t.name, t.tensor_type.name, [int(x) for x in t.shape]] for t in r.tensors]}))"),
            str(work / "layerpack.imatrix.gguf")], capture_output=True, text=True, check=True, cwd="/")
        pypi = json.loads(pypi.stdout)
        lp_bytes, ll_bytes = (work / "layerpack.imatrix.gguf").read_bytes(), (work / "llama.imatrix.gguf").read_bytes()
        check["a_gguf_py_reads_layerpack"] = {
            "reader": f"gguf-py {im.version('gguf')} vendored in llama.cpp (llama-cpp-python 0.3.36 sdist)",
            "gguf_version": lp["version"], "keys": lp["keys"], "tensors": lp["tensors"],
            "pypi_gguf_py": {"version": pypi["gguf_py"], "same_keys": pypi["keys"] == {k: v["value"] for k, v in
                                                                                    lp["keys"].items()},
                             "same_tensors": pypi["tensors"] == [[t["name"], t["type"], t["ne"]]
                                                                 for t in lp["tensors"]]},
            "same_keys_as_llama": {k: v for k, v in lp["keys"].items()} == ll["keys"],
            "same_tensor_list_as_llama": lp["tensors"] == ll["tensors"],
            "bytes_before_tensor_data_identical_to_llama": lp_bytes[:lp["data_offset"]] == ll_bytes[:ll["data_offset"]],
            "file_bytes": [len(lp_bytes), len(ll_bytes)],
            "counts_identical_to_llama": all(np.array_equal(lp["entries"][w]["counts"], e["counts"])
                                             for w, e in ll["entries"].items()),
        }

        # (b), (c): llama-quantize with LayerPack's, llama.cpp's (GGUF and .dat) and no imatrix
        qruns: dict = {}
        for qtype in QUANT_TYPES:
            qruns[qtype] = {}
            for key, im_file in (("layerpack", "layerpack.imatrix.gguf"), ("llama", "llama.imatrix.gguf"),
                                 ("llama_dat", "llama.imatrix.dat"), ("none", None)):
                qruns[qtype][key] = quantize(work, "tiny.gguf", f"q-{key}-{qtype}.gguf", qtype, im_file)
                assert qruns[qtype][key]["exit_status"] == 0, qruns[qtype][key]
            qruns[qtype]["tensors"] = compare_quantized(work, qtype, set(lp["entries"]))
            dat_same = tensor_bytes(work / f"q-llama_dat-{qtype}.gguf") == tensor_bytes(work / f"q-llama-{qtype}.gguf")
            qruns[qtype]["llama_dat_equals_llama_gguf"] = dat_same
        check["b_c_llama_quantize"] = qruns

        # (d) mean squares, LayerPack against llama.cpp, same text; control: llama.cpp on the other text
        per = {}
        for w, e in ll["entries"].items():
            m_ll, m_lp, m_held = e["mean_squares"], lp["entries"][w]["mean_squares"], held["entries"][w]["mean_squares"]
            d = rel_diff(m_lp, m_ll)
            per[w] = {"counts_llama": int(e["counts"][0]), "counts_layerpack": int(lp["entries"][w]["counts"][0]),
                      "max_rel_diff": float(f"{d.max():.3e}"), "mean_rel_diff": float(f"{d.mean():.3e}"),
                      "control_heldout_vs_calibration_max_rel_diff": float(f"{rel_diff(m_held, m_ll).max():.3e}")}
        allmax = max(p["max_rel_diff"] for p in per.values())
        def shared(entries: dict, a: str, b: str) -> bool:
            return all(np.array_equal(entries[f"blk.{i}.{a}.weight"]["in_sum2"],
                                      entries[f"blk.{i}.{b}.weight"]["in_sum2"]) for i in range(3))

        qkv_same = {src: shared(en, "attn_q", "attn_k") and shared(en, "attn_q", "attn_v")
                    and shared(en, "ffn_gate", "ffn_up") for src, en in (("llama", ll["entries"]), ("layerpack", lp["entries"]))}
        check["d_mean_squares"] = {
            "text": "calibration.txt", "chunks": chunks, "chunk_size": CONTEXT, "tokens_counted": n_tokens,
            "entry_names_equal": sorted(ll["entries"]) == sorted(lp["entries"]),
            "max_rel_diff_over_all": allmax,
            "control_min_over_tensors_of_max_rel_diff_heldout_vs_calibration":
                min(p["control_heldout_vs_calibration_max_rel_diff"] for p in per.values()),
            "q_k_v_and_gate_up_share_statistics": qkv_same,
            "per_tensor": per,
        }

        # (e) LayerPack reads llama.cpp's files
        reads = {}
        errs = {}
        for key, args_ in (("llama.imatrix.gguf", ["--imatrix", "llama.imatrix.gguf"]),
                           ("llama.imatrix.dat", ["--imatrix", "llama.imatrix.dat"]),
                           ("layerpack.imatrix.gguf", ["--imatrix", "layerpack.imatrix.gguf"]),
                           ("none", ["--rounding", "scale-search"])):
            cmd, rep = lpk_quantize(work, "tiny.gguf", "-o", f"y-{len(reads)}.lpk", "--preset", "int4", *args_)
            reads[key] = {"command": shown(cmd), "exit_status": 0, "recipe": rep["recipe"]}
            errs[key] = pack_errors(rep)
        names = list(errs["none"])
        for key in reads:
            if key == "none":
                continue
            reads[key]["tensors_with_same_error_as_llama_gguf"] = sum(errs[key][n] == errs["llama.imatrix.gguf"][n]
                                                                      for n in names)
            reads[key]["tensors_with_error_changed_by_imatrix"] = sum(errs[key][n] != errs["none"][n] for n in names)
            reads[key]["tensors"] = len(names)
            reads[key]["tensors_with_other_error_than_llama_gguf"] = [
                n for n in names if errs[key][n] != errs["llama.imatrix.gguf"][n]]
        check["e_layerpack_reads_llama"] = reads

        # (f) KL divergence of the Q4_0 models on the held-out text, against the f32 model
        base_cmd = [tool("llama-perplexity"), "-m", "tiny.gguf", "-f", "heldout.txt", "-c", str(CONTEXT), "-b",
                    str(CONTEXT), "-t", str(THREADS), "--kl-divergence-base", "base.kld"]
        base_ppl = re.findall(r"Final estimate: PPL = [\d.]+ \+/- [\d.]+",
                              run_logged(base_cmd, work, ["Final estimate"]))
        check["f_heldout_kld_q4_0"] = {"base_command": shown(base_cmd), "base": base_ppl,
                                        **{k: kld(work, f"q-{k}-Q4_0.gguf", "base.kld")
                                           for k in ("none", "llama", "layerpack")}}

        # (g) an untied model: output.weight is an entry (llama-imatrix needs --process-output for it)
        shutil.copyfile(UNTIED / "model.gguf", work / "untied.gguf")
        cmd_u = llama_imatrix(work, "untied.gguf", "calibration.txt", "untied.llama.imatrix.gguf", "--process-output")
        cmd_ulp, _ = lpk_quantize(work, "untied.gguf", "-o", "u.lpk", "--preset", "int4", "--rounding", "scale-search",
                                  "--calibrate", "calibration.txt", "--save-imatrix", "untied.layerpack.imatrix.gguf",
                                  "--calibration-tokens", str(n_tokens), "--calibration-context", str(CONTEXT))
        ull = read_imatrix(work / "untied.llama.imatrix.gguf")
        ulp = read_imatrix(work / "untied.layerpack.imatrix.gguf")
        umax = {w: rel_diff(ulp["entries"][w]["mean_squares"], e["mean_squares"]).max()
                for w, e in ull["entries"].items()}
        uq = {k: quantize(work, "untied.gguf", f"uq-{k}.gguf", "Q4_0", f, "--output-tensor-type", "q4_0")
              for k, f in (("layerpack", "untied.layerpack.imatrix.gguf"), ("none", None))}
        ub = {k: tensor_bytes(work / f"uq-{k}.gguf") for k in uq}
        check["g_untied_output_weight"] = {
            "model": str((UNTIED / "model.gguf").relative_to(ROOT)),
            "llama_imatrix": shown(cmd_u), "layerpack": shown(cmd_ulp),
            "entries_llama": sorted(ull["entries"]), "entries_layerpack": sorted(ulp["entries"]),
            "output_weight_max_rel_diff": float(f"{umax['output.weight']:.3e}"),
            "max_rel_diff_over_all": float(f"{max(umax.values()):.3e}"),
            "llama_quantize_q4_0_output_tensor_type_q4_0": uq,
            "output_weight_changed_by_layerpack_imatrix":
                ub["layerpack"]["output.weight"][1] != ub["none"]["output.weight"][1],
            "output_weight_type": ub["layerpack"]["output.weight"][0],
        }

        for name in ("llama.imatrix.gguf", "llama.imatrix.dat", "layerpack.imatrix.gguf"):
            shutil.copyfile(work / name, OUT / name)
            print(f"wrote {(OUT / name).relative_to(ROOT)} ({(OUT / name).stat().st_size} bytes)")

    # 3: llama.imatrix.json
    versions = {"llama.cpp": llama_version() + " (llama-cpp-python 0.3.36 sdist, vendor/llama.cpp)",
                "gguf-py": im.version("gguf") + " (vendored)", "numpy": np.__version__,
                "sentencepiece": im.version("sentencepiece"), "llama-cpp-python": im.version("llama_cpp_python")}
    llama_json = {
        "file": "llama.imatrix.gguf",
        "made_by": shown(cmd_gguf),
        "read_by": f"gguf-py {im.version('gguf')} GGUFReader (llama.cpp's vendored gguf-py)",
        "gguf_version": ll["version"],
        "metadata": {k: v["value"] for k, v in ll["keys"].items()},
        "metadata_types": {k: v["type"] for k, v in ll["keys"].items()},
        "tensors": ll["tensors"],
        "mean_squares_rule": "quantize.cpp load_imatrix: in_sum2[j*n + i] / counts[j] in float32 (1 where a count "
                             "is 0); these are the importances llama-quantize hands to ggml_quantize_chunk",
        "entries": {w: {"in_sum2": [f32(x) for x in e["in_sum2"]], "counts": [f32(x) for x in e["counts"]],
                        "mean_squares": [f32(x) for x in e["mean_squares"]]} for w, e in ll["entries"].items()},
        "legacy_dat": {
            "file": "llama.imatrix.dat", "made_by": shown(cmd_dat),
            "read_by": "this script, following common/imatrix-loader.cpp common_imatrix_load_legacy",
            "n_entries": dat["n_entries"], "last_chunk": dat.get("last_chunk"), "dataset": dat.get("dataset"),
            "names_equal_gguf_entries": list(dat["entries"]) == sorted(ll["entries"]),
            "ncall": sorted({e["ncall"] for e in dat["entries"].values()}),
            "max_rel_diff_values_over_ncall_vs_gguf_mean_squares": float(f"""{max(
                rel_diff(e['values'] / np.float32(e['ncall']), ll['entries'][w]['mean_squares']).max()
                for w, e in dat['entries'].items()):.3e}"""),
        },
    }
    write_json("llama.imatrix.json", llama_json)

    check["files"] = {"layerpack.imatrix.gguf": {"made_by": shown(cmd_lpk),
                                                 "recipe_calibration": lpk_report["recipe"]["calibration"]},
                      "llama.imatrix.gguf": {"made_by": shown(cmd_gguf)}}
    check["tokenization"] = tokens
    check["versions"] = versions
    write_json("layerpack.imatrix.check.json", check)
    write_readme(check, llama_json, tokens, versions)
    print(f"done in {time.time() - t0:.1f} s")


# --------------------------------------------------------------------------------------------- README
def write_readme(check: dict, llama_json: dict, tokens: dict, versions: dict) -> None:
    d = check["d_mean_squares"]
    a = check["a_gguf_py_reads_layerpack"]
    q = check["b_c_llama_quantize"]
    e = check["e_layerpack_reads_llama"]
    f = check["f_heldout_kld_q4_0"]
    g = check["g_untied_output_weight"]
    leg = llama_json["legacy_dat"]
    cal, hel = tokens["calibration.txt"], tokens["heldout.txt"]
    sizes = {n: (OUT / n).stat().st_size for n in sorted(os.listdir(OUT)) if n != "README.md"}

    def yn(v: bool) -> str:
        return "yes" if v else "**no**"

    dat_diff = leg["max_rel_diff_values_over_ncall_vs_gguf_mean_squares"]
    dat_note = "exactly" if dat_diff == 0 else f"within {dat_diff:.1e} relative (float rounding)"
    lp_other = e["layerpack.imatrix.gguf"]["tensors_with_other_error_than_llama_gguf"]

    def qrow(qtype: str) -> str:
        s = q[qtype]["tensors"]["summary"]
        types = sorted({t["type"] for t in q[qtype]["tensors"]["tensors"].values()})
        diff = {n: f"{t['blocks_differing']}/{t['blocks']}" for n, t in q[qtype]["tensors"]["tensors"].items()
                if not t["layerpack_equals_llama"]}
        return (f"| {qtype} | {', '.join(types)} | {q[qtype]['layerpack']['exit_status']} "
                f"| {s['with_entry']}/{s['quantized']} "
                f"| {s['changed_by_layerpack_imatrix']} / {s['changed_by_llama_imatrix']} | {s['layerpack_equals_llama']}/{s['quantized']}"
                f" | {', '.join(f'{k} ({v} blocks)' for k, v in diff.items()) or '-'} | "
                f"{'yes' if q[qtype]['llama_dat_equals_llama_gguf'] else 'no'} |")

    trace = [s for s in q["Q4_0"]["layerpack"]["stdout"] + q["Q4_0"]["layerpack"]["stderr"]]
    per_rows = "\n".join(
        f"| `{w}` | {p['counts_llama']} | {p['counts_layerpack']} | {p['max_rel_diff']:.2e} | {p['mean_rel_diff']:.2e} "
        f"| {p['control_heldout_vs_calibration_max_rel_diff']:.2e} |" for w, p in d["per_tensor"].items())
    file_rows = "\n".join(f"| `{n}` | {s:,} | `{sha256(OUT / n)[:16]}…` |" for n, s in sizes.items())
    kld_rows = "\n".join(f"| {k} | {f[k]['ppl']:.4f} | {f[k]['mean_kld']:.6f} | {f[k]['same_top_percent']:.3f} % |"
                         for k in ("none", "llama", "layerpack"))
    text = f"""# Importance-matrix fixtures: LayerPack ↔ llama.cpp

Made by `Fixtures/scripts/make_imatrix_fixtures.py` (its docstring has every detail); this file is rewritten by it.
Run from the repository root, after `swift build -c release`, with the peers' venv and llama.cpp's tools built from
the llama-cpp-python 0.3.36 sdist (`~/.cache/layerpack/llama-tools/bin`, or `LPK_LLAMA_TOOLS=DIR`):

    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_imatrix_fixtures.py [--extract-texts]

What it proves: an importance matrix written by LayerPack (`lpk-quantize --calibrate … --save-imatrix`) is read by
gguf-py and used by `llama-quantize --imatrix` entry for entry, and llama.cpp's own files (GGUF and legacy `.dat`)
are read by `lpk-quantize --imatrix`; on the same text the two inference implementations give the same statistics
up to float rounding (max relative difference {d['max_rel_diff_over_all']:.1e}).

## Files

| file | bytes | sha256 |
|---|---:|---|
{file_rows}

- `calibration.txt`, `heldout.txt`: the texts (below).
- `llama.imatrix.gguf`: `{check['files']['llama.imatrix.gguf']['made_by']}`. GGUF v3, keys `general.type` =
  `imatrix`, `imatrix.datasets` = `["calibration.txt"]`, `imatrix.chunk_count` = {d['chunks']}, `imatrix.chunk_size` =
  {d['chunk_size']}; per weight `W.in_sum2` (F32, ne [32]: Σ x² per input column) and `W.counts` (F32, ne [1]: tokens),
  {len(llama_json['entries'])} weights (every `blk.*` matrix; a tied Gemma 3 head multiplies `token_embd.weight`, which
  llama-imatrix never collects).
- `llama.imatrix.dat`: `{leg['made_by']}`. This llama.cpp still writes the legacy format: int32 entry count, per entry
  name, ncall = ⌈tokens / chunk size⌉ = {leg['ncall'][0]}, nval, float32 values = mean x² × ncall; trailer last chunk =
  {leg['last_chunk']}, dataset `{leg['dataset']}`. values / ncall equal the GGUF's mean squares {dat_note}.
- `llama.imatrix.json`: gguf-py's reading of `llama.imatrix.gguf`: metadata (with GGUF types), tensor list
  (names, types, ne, offsets), and per weight `in_sum2`, `counts` and `mean_squares` = in_sum2 / counts in float32,
  exactly what `llama-quantize` (tools/quantize/quantize.cpp `load_imatrix`) passes to the quantizers; plus
  `legacy_dat`, the `.dat` read as `common_imatrix_load_legacy` reads it. Floats are the exact float32 values.
- `layerpack.imatrix.gguf`: `{check['files']['layerpack.imatrix.gguf']['made_by']}` (the pack is thrown away).
- `layerpack.imatrix.check.json`: every check below, with commands, exit statuses and the log lines.

## Texts

Prose from the API comments of SQLite's `sqlite3.h` (SQLite 3.40.1, Debian 12 `libsqlite3-dev`,
`/usr/include/sqlite3.h`, sha256 `{SQLITE_H_SHA256[:16]}…`). **License: public domain** ("The author disclaims
copyright to this source code", header of sqlite3.h; Debian's copyright file: `License: public-domain`).
`calibration.txt` is the sections "{'", "'.join(CALIBRATION_SECTIONS)}"; `heldout.txt` is
"{'", "'.join(HELDOUT_SECTIONS)}" (disjoint). Each: `<pre>`/`<blockquote>` code and HTML tags removed, link brackets
resolved to their text, `^` marks dropped, whitespace collapsed to single spaces, cut to at most {TEXT_LIMIT} bytes at a
space, one line with no trailing newline (llama.cpp drops one trailing newline of `-f` files, LayerPack keeps it).
The tiny vocabulary (256 SentencePiece pieces, no byte pieces) has no `H`, `` ` ``, `\\`, tab or newline; characters
without a piece are lower-cased if that is a piece (`H` → `h`), else dropped, because llama.cpp's SPM tokenizer
throws `std::out_of_range` on a character it cannot byte-fall-back.

| text | bytes | tokens (with BOS) | chunks of {CONTEXT} | SentencePiece = llama.cpp ids | LayerPack token count |
|---|---:|---:|---:|---|---:|
| calibration.txt | {sizes['calibration.txt']:,} | {cal['tokens_with_bos']} | {cal[f'chunks_of_{CONTEXT}']} | {yn(cal['sentencepiece_equals_llama_cpp'])} | {cal['layerpack_token_count']} |
| heldout.txt | {sizes['heldout.txt']:,} | {hel['tokens_with_bos']} | {hel[f'chunks_of_{CONTEXT}']} | {yn(hel['sentencepiece_equals_llama_cpp'])} | {hel['layerpack_token_count']} |

## Model and chunking

`Fixtures/conformance/gemma3-hd8-mha-window3-tied/model.gguf` (f32, 3 layers, hidden 32, 4 heads of 8, FFN 32,
sliding window 3, tied head, context 128), copied as `tiny.gguf` into a temporary working directory so that every
path llama.cpp records is a bare name. Every matrix row has 32 columns: Q4_0 / IQ4_NL (blocks of 32) fit; K-quants
(blocks of 256) fall back (Q4_K → Q5_0, Q6_K → Q8_0).

Both sides cut the tokenized text (BOS + text) into ⌊{cal['tokens_with_bos']} / {CONTEXT}⌋ = {d['chunks']} chunks of
{CONTEXT} and replace each chunk's first token with BOS (llama-imatrix `compute_imatrix`; LayerPack
`Calibration.collect`); the tail is dropped. llama-imatrix asks for logits at every position, so the last layer's FFN
sees every token, and with `-b {CONTEXT} -ub {CONTEXT}` each ubatch has {CONTEXT} ≥ 16 rows (smaller ones are skipped). So
both count **{d['tokens_counted']} tokens per weight** (`counts` = {d['tokens_counted']} in both files; chunk_count
{d['chunks']}, chunk_size {d['chunk_size']} in both). `--calibration-tokens {d['tokens_counted']}` is passed to
LayerPack for symmetry; its default (4096) would give the same chunks here.

## Checks (layerpack.imatrix.check.json)

**(a) gguf-py reads LayerPack's file.** Keys: {', '.join(f"`{k}` ({v['type']})" for k, v in a['keys'].items())};
{len(a['tensors'])} F32 tensors (`W.in_sum2` ne [32], `W.counts` ne [1]) in byte-wise name order, as llama.cpp writes
them. Same keys and values as llama.cpp's file: {yn(a['same_keys_as_llama'])}; same tensor list (names, types, shapes,
offsets): {yn(a['same_tensor_list_as_llama'])}; **bytes before the tensor data identical** to llama.cpp's:
{yn(a['bytes_before_tensor_data_identical_to_llama'])} ({a['file_bytes'][0]:,} and {a['file_bytes'][1]:,} bytes; only the
in_sum2 floats differ, the counts are identical: {yn(a['counts_identical_to_llama'])}). The PyPI gguf-py
{a['pypi_gguf_py']['version']} of the venv reads the same keys ({yn(a['pypi_gguf_py']['same_keys'])}) and tensors
({yn(a['pypi_gguf_py']['same_tensors'])}).

**(b, c) llama-quantize accepts it and uses every entry.** `LLAMA_TRACE=1 llama-quantize --imatrix F tiny.gguf
q.gguf TYPE 1` for F = LayerPack's file, llama.cpp's `.gguf`, llama.cpp's `.dat`, and none. Exit status 0 for all. With
LayerPack's file llama-quantize prints (Q4_0):

```
{chr(10).join(trace)}
```

`LLAMA_TRACE` makes `load_imatrix` print one line per entry; without it the only per-tensor line is "did not find
weights for token_embd.weight" (neither file has the tied embedding: llama-imatrix never collects it, LayerPack
leaves it out on purpose). No "imatrix size … is different" line, no missing-metadata error. The output GGUFs get
`quantize.imatrix.file` = `layerpack.imatrix.gguf`, `quantize.imatrix.dataset` = `calibration.txt`,
`quantize.imatrix.entries_count` = {len(llama_json['entries'])}, `quantize.imatrix.chunks_count` = {d['chunks']}.
Per quantized tensor (bytes of the output GGUFs compared):

| ftype | tensor types | exit | with an entry | changed vs no imatrix (LayerPack / llama.cpp) | LayerPack bytes = llama.cpp bytes | differing tensors | .dat = .gguf |
|---|---|---|---|---|---|---|---|
{qrow('Q4_0')}
{qrow('IQ4_NL')}
{qrow('Q4_K_M')}

Tensors quantized to Q8_0 (the tied `token_embd.weight`, and under Q4_K_M the Q6_K → Q8_0 fallbacks) never use an
imatrix (`quantize_q8_0` ignores it), hence "changed" < "with an entry" there. Where LayerPack's and llama.cpp's bytes
differ, a few blocks land on the other side of a rounding decision: the importances differ by ~1e-4 relative.
Q4_0 with an imatrix would turn the first n_layer/8 ffn_down into Q4_1; with 3 layers that is none.

**(d) Mean squares, LayerPack vs llama.cpp, same text.** mean x² = in_sum2 / counts per column; relative difference
|LayerPack − llama.cpp| / llama.cpp per column, max and mean per weight. Control: llama.cpp on `heldout.txt` vs on
`calibration.txt` (how much a different text moves them): its smallest per-weight max is
{d['control_min_over_tensors_of_max_rel_diff_heldout_vs_calibration']:.2e}. Both files give q, k, v one set of statistics
and gate, up one set (same input): llama.cpp {yn(d['q_k_v_and_gate_up_share_statistics']['llama'])}, LayerPack
{yn(d['q_k_v_and_gate_up_share_statistics']['layerpack'])}.

| weight | counts llama.cpp | counts LayerPack | max rel. diff | mean rel. diff | control (other text) max |
|---|---:|---:|---:|---:|---:|
{per_rows}

The first matrices of layer 0 (q/k/v, input = scaled embedding after one RMSNorm) agree to ~6e-6: float32 rounding.
Past attention and the FFN the gap grows to a few 1e-4, the size of llama.cpp's own approximations, e.g. ggml's CPU
GELU, which looks the tanh-GELU up in a table indexed by the fp16-rounded input (`GGML_GELU_FP16`, ggml-cpu/vec.h) —
ffn_down's input is GELU(gate) · up. An f32 KV cache (`-ctk f32 -ctv f32`) changes nothing measurable here.

**(e) LayerPack reads llama.cpp's files.** `lpk-quantize tiny.gguf -o y.lpk --preset int4 --imatrix F` (rounding
becomes scale-search) exits 0 for F = `llama.imatrix.gguf`, `llama.imatrix.dat` and `layerpack.imatrix.gguf`; the
recipe records `method: imatrix` and `tokens` = {e['llama.imatrix.gguf']['recipe']['calibration']['tokens']} (GGUF) /
{e['llama.imatrix.dat']['recipe']['calibration']['tokens']} (`.dat`: it holds no token count, only ncall, which LayerPack
records as the token count). Per-tensor quantization errors equal to those from `llama.imatrix.gguf`:
.dat {e['llama.imatrix.dat']['tensors_with_same_error_as_llama_gguf']}/{e['llama.imatrix.dat']['tensors']},
LayerPack's file {e['layerpack.imatrix.gguf']['tensors_with_same_error_as_llama_gguf']}/{e['layerpack.imatrix.gguf']['tensors']}
({', '.join(f'`{n}`' for n in lp_other) or 'none'} differ: importances ~1e-4 apart tip a scale choice);
changed against no imatrix (`--rounding scale-search`): {e['llama.imatrix.gguf']['tensors_with_error_changed_by_imatrix']}/{e['llama.imatrix.gguf']['tensors']}
(every matrix but the tied embedding, which has no entry).

**(f) End to end on the held-out text.** `llama-perplexity -c {CONTEXT} -b {CONTEXT} -t 1 --no-repack` KL divergence
of each Q4_0 model against the f32 model (f32: `{f['base'][0] if f['base'] else '?'}`), {hel[f'chunks_of_{CONTEXT}']} chunks, second
half of each scored. The model is random, so only the comparison means anything: LayerPack's imatrix and llama.cpp's
give the same quantized model up to the one Q4_0 block of (b), and both beat no imatrix on KLD and same top
(PPL(Q) itself is no measure for a random model).

| Q4_0 imatrix | PPL(Q) | mean KLD | same top |
|---|---:|---:|---:|
{kld_rows}

**(g) Untied head: `output.weight`.** On `{g['model']}` llama-imatrix collects `output.weight` only with
`--process-output`; LayerPack writes it always (its input is the final normed hidden state). Entry names equal:
{yn(g['entries_llama'] == g['entries_layerpack'])} ({len(g['entries_llama'])} entries); `output.weight` mean squares within
{g['output_weight_max_rel_diff']:.1e}, all entries within {g['max_rel_diff_over_all']:.1e}. `llama-quantize
--output-tensor-type q4_0 --imatrix` (LayerPack's) uses it: exit {g['llama_quantize_q4_0_output_tensor_type_q4_0']['layerpack']['exit_status']},
output.weight {g['output_weight_type']}, changed by the imatrix: {yn(g['output_weight_changed_by_layerpack_imatrix'])}.
(There LayerPack runs with `--rounding scale-search`; the file is the same whatever the rounding.)

## Versions

{chr(10).join(f'- {k}: {v}' for k, v in versions.items())}
- LayerPack: `.build/release/lpk-quantize`, `lpk-verify` of this checkout

## Determinism

llama.cpp on 1 thread (2 threads give the same llama.imatrix.gguf too), fixed chunking, bare file names; no
timestamps or absolute paths in any file. Eleven consecutive runs of the script gave identical sha256 for every file
here. llama-perplexity logs through common_log, whose thread sometimes drops the last lines at exit; the script reruns
it (same numbers) until the lines it reads are there. Runtime: about 3 s.
"""
    (OUT / "README.md").write_text(text, encoding="utf-8")
    print(f"wrote {(OUT / 'README.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
