"""The quality table of `make bench`: every recipe judged by the same lpk-verify run on a float model.

The model is the float Gemma 3 270M that Fixtures/scripts/make_float_gemma3.py makes (fine-tuned in f32, saved in
bf16, off every quantization grid). The peers quantize it here, timed: llama.cpp's llama-quantize on its bf16 GGUF
(Q8_0, Q5_0, Q4_K_M, Q4_0, the last two also with an importance matrix that llama-imatrix computes over
calibration.txt) and MLX-LM's default 4-bit conversion of its safetensors. LayerPack's presets run uncalibrated and
calibrated on the same calibration.txt, and its budget search (`--max-kld`, measured on calibration.txt). Every candidate is scored against the bf16 GGUF by `lpk-verify --text
evaluation.txt` (a text never used for training or calibration), so peers and LayerPack meet on one ruler: size,
bits per weight, perplexity, KL divergence and same-top-token rate.
"""
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# llama-quantize's types, each without and (where listed) with the importance matrix.
LLAMA_CPP = [("Q8_0", False), ("Q5_0", False), ("Q4_K_M", False), ("Q4_K_M", True), ("Q4_0", False), ("Q4_0", True)]

# LayerPack's presets, uncalibrated and calibrated on calibration.txt (mobile refuses to run uncalibrated).
PRESETS = [("int8", False), ("int8", True), ("int4", False), ("int4", True), ("int4-mixed", True), ("mobile", True)]

# LayerPack's budget search: the smallest model whose KLD over calibration.txt (measured per layer and class, then
# whole) stays within the budget; calibrated on the same text, judged like the rest on evaluation.txt.
BUDGETS = [0.064]


def parameters(lpk_inspect, model):
    """The number of weights in `model` (every tensor's elements)."""
    listing = json.loads(subprocess.run([lpk_inspect, str(model), "--json"], capture_output=True, check=True).stdout)
    total = 0
    for tensor in listing["tensors"]:
        count = 1
        for dimension in tensor["shape"]:
            count *= dimension
        total += count
    return total


def timed(command):
    """Runs `command` (output kept for the error message) and returns its wall-clock seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start


def llama_cpp_candidates(tools, float_dir, work):
    """llama.cpp's quantizations of the bf16 GGUF, as (label, path, seconds); the imatrix's own time is added to
    the quantizations that use it."""
    reference = float_dir / "model-bf16.gguf"
    imatrix = work / "float-270m.imatrix.gguf"
    imatrix_seconds = timed([str(tools / "llama-imatrix"), "-m", str(reference), "-f", str(float_dir / "calibration.txt"),
                             "-c", "512", "-t", "2", "-o", str(imatrix)])
    candidates = []
    for kind, with_imatrix in LLAMA_CPP:
        out = work / f"float-270m.{kind}{'-imatrix' if with_imatrix else ''}.gguf"
        command = [str(tools / "llama-quantize")] + (["--imatrix", str(imatrix)] if with_imatrix else [])
        seconds = timed(command + [str(reference), str(out), kind, "2"])
        label = f"llama.cpp {kind}" + (" + imatrix" if with_imatrix else "")
        candidates.append((label, out, seconds + (imatrix_seconds if with_imatrix else 0)))
    return candidates


def mlx_candidate(mlx_python, float_dir, work):
    """MLX-LM's default 4-bit conversion (affine, group 64) of the float model's safetensors."""
    out = work / "float-270m-mlx-4bit-g64"
    shutil.rmtree(out, ignore_errors=True)
    code = ("import sys\nfrom mlx_lm.convert import convert\n"
            "convert(sys.argv[1], sys.argv[2], quantize=True, q_group_size=64, q_bits=4)")
    seconds = timed([str(mlx_python), "-c", code, str(float_dir), str(out)])
    return ("MLX-LM 4-bit g64 (everything)", out, seconds)


def weight_bytes(path):
    """The bytes of a model's weights: the file, or an MLX directory's safetensors."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.glob("*.safetensors"))
    return path.stat().st_size + (Path(str(path) + ".ple").stat().st_size if Path(str(path) + ".ple").exists() else 0)


def score(lpk_verify, reference, candidate, evaluation, chunks):
    """lpk-verify --text of `candidate` against `reference`: its evaluation block."""
    out = subprocess.run([lpk_verify, str(reference), str(candidate), "--text", str(evaluation), "--context", "512",
                          "--chunks", str(chunks), "--no-weights", "--quiet", "--json"], capture_output=True, check=True).stdout
    return json.loads(out)


def quality_table(lpk, float_dir, work, llama_tools, mlx_python, chunks=6):
    """Prints the markdown quality table and returns its rows (label, MB, bits/weight, ppl, kld, p99, top, seconds)."""
    reference = float_dir / "model-bf16.gguf"
    calibration = float_dir / "calibration.txt"
    evaluation = float_dir / "evaluation.txt"
    weights = parameters(lpk["lpk-inspect"], reference)
    candidates = llama_cpp_candidates(Path(llama_tools), float_dir, work)
    candidates.append(mlx_candidate(mlx_python, float_dir, work))
    for preset, calibrated in PRESETS:
        out = work / f"float-270m.{preset}{'.calibrated' if calibrated else ''}.lpk"
        command = [lpk["lpk-quantize"], str(reference), "-o", str(out), "--preset", preset, "--quiet"]
        if calibrated:
            command += ["--calibrate", str(calibration)]
        label = f"LayerPack `{preset}`" + (" calibrated (GPTQ)" if calibrated else "")
        candidates.append((label, out, timed(command)))
    for budget in BUDGETS:
        out = work / f"float-270m.budget-{budget}.lpk"
        command = [lpk["lpk-quantize"], str(reference), "-o", str(out), "--max-kld", str(budget), "--calibrate", str(calibration), "--quiet"]
        candidates.append((f"LayerPack `--max-kld {budget}` (on calibration.txt) calibrated (GPTQ)", out, timed(command)))
    rows = []
    for label, path, seconds in candidates:
        result = score(lpk["lpk-verify"], reference, path, evaluation, chunks)
        e = result["evaluation"]
        size = weight_bytes(path)
        top = e["sameTop"]
        rows.append((label, size / 1e6, size * 8 / weights, e["candidatePerplexity"], e["meanKLD"], e["p99KLD"], top, seconds,
                     e["referencePerplexity"], result["textTokens"], e["tokens"]))
        print(f"  {label}: {size / 1e6:.1f} MB, KLD {e['meanKLD']['value']:.5f}", file=sys.stderr, flush=True)
    first = rows[0]
    print(f"\nQuality on the float Gemma 3 270M (bf16 original: perplexity {first[8]['value']:.3f} ± {first[8]['uncertainty']:.3f}; "
          f"{first[10]} scored tokens of {first[9]} in evaluation.txt, {chunks} chunks of 512; calibration on calibration.txt; "
          f"quantize time includes calibration or llama-imatrix, 2 threads)\n")
    print("| recipe | MB | bits/weight | perplexity | KLD mean | KLD p99 | same top token | quantize time |")
    print("|---|---|---|---|---|---|---|---|")
    for label, mb, bpw, ppl, kld, p99, top, seconds, *_ in sorted(rows, key=lambda r: -r[1]):
        print(f"| {label} | {mb:.1f} | {bpw:.2f} | {ppl['value']:.3f} ± {ppl['uncertainty']:.3f} | "
              f"{kld['value']:.5f} ± {kld['uncertainty']:.5f} | {p99:.4f} | {top['value'] * 100:.2f} ± {top['uncertainty'] * 100:.2f} % | "
              f"{'' if seconds is None else f'{seconds:.0f} s'} |")
    return rows


def sensitivity_table(lpk, float_dir, work):
    """lpk-plan --sensitivity on the float 270M: the KLD over evaluation.txt when the core or the embedding alone is
    stored at each setting (scale search, no calibration), where int2 rows break; its SVG goes to the work directory."""
    reference = float_dir / "model-bf16.gguf"
    out = subprocess.run([lpk["lpk-plan"], str(reference), "--sensitivity", str(float_dir / "evaluation.txt"), "--no-layers",
                          "--eval-chunks", "2", "--settings", "int8:g32,int4:g32,int4:g64,int4:g128,int2:g32",
                          "--svg", str(work / "float-270m.sensitivity.svg"), "--quiet", "--json"], capture_output=True, check=True).stdout
    report = json.loads(out)
    print(f"\nSensitivity of the float Gemma 3 270M ({report['scoredTokens']} scored tokens of evaluation.txt; one class changed, "
          f"the rest bf16; scale search, uncalibrated)\n")
    print("| class | setting | MB | KLD mean | same top token |")
    print("|---|---|---|---|---|")
    for entry in report["classes"]:
        print(f"| {entry['scope']} | {entry['setting']} | {entry['bytes'] / 1e6:.1f} | {entry['meanKLD']:.5f} ± {entry['uncertainty']:.5f} | "
              f"{entry['sameTop'] * 100:.1f} % |")
    return report


def conversion_pair_rows(lpk, float_dir, work, llama_tools, run, row, rounds=3):
    """Quantizing the float 270M's bf16 GGUF, each recipe beside llama-quantize's like one (2 threads each, the whole
    command timed, peak RSS of the process), and the cost of the scale search over nearest rounding: medians of
    `rounds` rounds, the commands of a comparison interleaved within each round."""
    reference = str(float_dir / "model-bf16.gguf")
    tools = Path(llama_tools)
    pairs = [("Q8_0", ["--core", "int8:g32", "--embed", "int8:g32", "--rounding", "nearest"], "int8 g32 nearest"),
             ("Q4_0", ["--core", "int4:g32", "--embed", "int4:g32", "--rounding", "nearest"], "int4 g32 nearest"),
             ("Q4_K_M", ["--preset", "int4"], "`int4` preset (scale search)")]
    seconds = {}
    for kind, recipe, label in pairs:
        times = {"theirs": [], "ours": []}
        peaks = {"theirs": 0, "ours": 0}
        for _ in range(rounds):
            _, theirs, their_peak = run([str(tools / "llama-quantize"), reference, str(work / f"pair.{kind}.gguf"), kind, "2"])
            _, ours, our_peak = run([lpk["lpk-quantize"], reference, "-o", str(work / f"pair.{kind}.lpk"), *recipe, "--quiet"])
            times["theirs"].append(theirs)
            times["ours"].append(ours)
            peaks = {"theirs": max(peaks["theirs"], their_peak), "ours": max(peaks["ours"], our_peak)}
        theirs, ours = statistics.median(times["theirs"]), statistics.median(times["ours"])
        seconds[kind] = ours
        row(f"float 270M bf16 GGUF (543 MB) → {label}: time (median of {rounds}), peak RSS", f"{ours:.2f} s, {peaks['ours'] / 1e6:.0f} MB",
            f"llama-quantize {kind}: {theirs:.2f} s, {peaks['theirs'] / 1e6:.0f} MB", f"{theirs / ours:.2f}× llama.cpp's speed (goal ≥ 1.5×)")
    nearest_recipe = ["--core", "int4:g32", "--embed", "int4:g32", "--rounding"]
    times = {"nearest": [], "scale-search": []}
    for _ in range(rounds):
        for rounding in times:
            _, elapsed, _ = run([lpk["lpk-quantize"], reference, "-o", str(work / f"pair.{rounding}.lpk"), *nearest_recipe, rounding, "--quiet"])
            times[rounding].append(elapsed)
    searched, nearest = statistics.median(times["scale-search"]), statistics.median(times["nearest"])
    row(f"the same, int4 g32 with scale search vs nearest (medians of {rounds} interleaved rounds)", f"{searched:.2f} s vs {nearest:.2f} s",
        "", f"{searched / nearest:.2f}× (goal ≤ 2×)")
    for path in work.glob("pair.*"):
        path.unlink()


def verification_rows(lpk, float_dir, work, llama_tools, run, row, chunks=4):
    """lpk-verify --text beside llama-perplexity --kl-divergence (a base run of the reference, then the candidate):
    the float 270M's bf16 GGUF as the reference, LayerPack's int8 pack and llama.cpp's Q8_0 as the candidates, the
    same text and chunks, 2 threads; tokens per second count both models' tokens over the whole commands. llama.cpp
    runs without its extra buffer types (-nr): this VM advertises AMX, and llama.cpp's AMX kernels fault on it."""
    reference = str(float_dir / "model-bf16.gguf")
    evaluation = str(float_dir / "evaluation.txt")
    tools = Path(llama_tools)
    q8 = work / "verify.Q8_0.gguf"
    int8 = work / "verify.int8.lpk"
    run([str(tools / "llama-quantize"), reference, str(q8), "Q8_0", "2"])
    run([lpk["lpk-quantize"], reference, "-o", str(int8), "--preset", "int8", "--quiet"])
    base = work / "verify.kld"
    common = ["-f", evaluation, "-c", "512", "--chunks", str(chunks), "-t", "2", "-nr", "--kl-divergence-base", str(base)]
    _, first, _ = run([str(tools / "llama-perplexity"), "-m", reference, *common])
    _, second, _ = run([str(tools / "llama-perplexity"), "-m", str(q8), *common, "--kl-divergence"])
    _, ours, peak = run([lpk["lpk-verify"], reference, str(int8), "--text", evaluation, "--context", "512", "--chunks", str(chunks),
                         "--no-weights", "--quiet", "--json"])
    tokens = 2 * chunks * 512
    row(f"`lpk-verify --text` over {chunks} chunks of 512 (bf16 270M vs int8; both models): tokens/s, peak RSS",
        f"{tokens / ours:.0f} tokens/s ({ours:.1f} s), {peak / 1e6:.0f} MB",
        f"llama-perplexity --kl-divergence (bf16 base run + Q8_0): {tokens / (first + second):.0f} tokens/s ({first:.1f} + {second:.1f} s)")
    for path in [q8, int8, base]:
        path.unlink()
