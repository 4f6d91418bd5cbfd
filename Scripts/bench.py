#!/usr/bin/env python3
"""make bench: LayerPack's speed and memory figures, each beside its peer and the machine's limit, in one run.

Runs the release binaries and the peers (gguf-py, llama.cpp through llama-cpp-python) on the same files and prints
one markdown table. Work files go to ~/.cache/layerpack/bench (a 2.3 GB synthetic Gemma 3n E2B-shaped checkpoint
is made there once).
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

from bench_rounds import median_rounds, read_into_cache, round_ratio

import numpy as np

ROWS = []


def row(what, ours, peer="", limit=""):
    ROWS.append((what, ours, peer, limit))
    print(f"  {what}: {ours} | {peer} | {limit}", file=sys.stderr, flush=True)


def run(cmd, capture=True):
    """Runs a command, returning (stdout, seconds, peak RSS in bytes).

    The peak is the child's VmHWM from /proc, read until it exits: that belongs to the child's own address space.
    (wait4's ru_maxrss would include this Python process's own high-water mark, inherited across exec.)"""
    import threading
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    streams = {}
    readers = [threading.Thread(target=lambda: streams.__setitem__("err", proc.stderr.read()))]
    if capture:
        readers.append(threading.Thread(target=lambda: streams.__setitem__("out", proc.stdout.read())))
    for reader in readers:
        reader.start()
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.02)
    for reader in readers:
        reader.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {streams.get('err', b'').decode()[-2000:]}")
    return streams.get("out", b"").decode(), seconds, peak


def bench_json(binary, *args):
    out, _, _ = run([binary, *args])
    return {k: float(v) if k != "label" else v for k, v in json.loads(out).items()}


def gb(n):
    return f"{n / 1e9:.2f} GB"


def synthetic_e2b(work):
    """A 2.3 GB bf16 safetensors checkpoint with Gemma 3n E2B shapes: the PLE table (first 131,072 of its 262,144
    token rows, all 30 layers × 256), the per-layer projection, and two full decoder layers."""
    directory = work / "synthetic-e2b"
    if (directory / "model.safetensors").exists():
        return directory
    import ml_dtypes
    from safetensors.numpy import save_file
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    p = "model.language_model."
    shapes = {p + "embed_tokens_per_layer.weight": (131072, 7680), p + "per_layer_model_projection.weight": (7680, 2048),
              p + "per_layer_projection_norm.weight": (256,)}
    for i in range(2):
        l = f"{p}layers.{i}."
        shapes.update({l + "self_attn.q_proj.weight": (2048, 2048), l + "self_attn.k_proj.weight": (512, 2048),
                       l + "self_attn.v_proj.weight": (512, 2048), l + "self_attn.o_proj.weight": (2048, 2048),
                       l + "mlp.gate_proj.weight": (8192, 2048), l + "mlp.up_proj.weight": (8192, 2048),
                       l + "mlp.down_proj.weight": (2048, 8192), l + "input_layernorm.weight": (2048,)})
    tensors = {}
    for name, shape in shapes.items():
        scale = 0.02 if len(shape) == 2 else 1.0
        tensors[name] = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(ml_dtypes.bfloat16)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    config = {"model_type": "gemma3n_text", "vocab_size": 262400, "vocab_size_per_layer_input": 262144,
              "hidden_size": 2048, "hidden_size_per_layer_input": 256, "num_hidden_layers": 30,
              "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 8192,
              "num_kv_shared_layers": 10}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def write_synthetic(directory, shapes, config, seed):
    """Writes seeded random bf16 weights (norm-like vectors near 1, matrices N(0, 0.05²)) and config.json."""
    import ml_dtypes
    from safetensors.numpy import save_file
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in shapes.items():
        if len(shape) == 1:
            tensors[name] = (1 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(ml_dtypes.bfloat16)
        else:
            tensors[name] = (rng.standard_normal(shape, dtype=np.float32) * 0.05).astype(ml_dtypes.bfloat16)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(config))
    return directory


# The small PLE models: the real vocabulary (262,144) and E2B's per-layer width (256) around a small core
# (hidden 256), so the PLE table is most of the model, as in E2B.
VOCAB, HIDDEN, PLE, HEADS, KV, HD, INTER = 262144, 256, 256, 2, 1, 128, 1024
NORMS = ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
         "post_per_layer_input_norm"]


def ple_globals(layers):
    p = "model."
    return {p + "embed_tokens.weight": (VOCAB, HIDDEN), p + "embed_tokens_per_layer.weight": (VOCAB, layers * PLE),
            p + "per_layer_model_projection.weight": (layers * PLE, HIDDEN), p + "per_layer_projection_norm.weight": (PLE,),
            p + "norm.weight": (HIDDEN,)}


def ple_layer(i, head_dim, kv_shared=False):
    l = f"model.layers.{i}."
    shapes = {l + "self_attn.q_proj.weight": (HEADS * head_dim, HIDDEN), l + "self_attn.o_proj.weight": (HIDDEN, HEADS * head_dim),
              l + "self_attn.q_norm.weight": (head_dim,),
              l + "mlp.gate_proj.weight": (INTER, HIDDEN), l + "mlp.up_proj.weight": (INTER, HIDDEN),
              l + "mlp.down_proj.weight": (HIDDEN, INTER), l + "per_layer_input_gate.weight": (PLE, HIDDEN),
              l + "per_layer_projection.weight": (HIDDEN, PLE)}
    if not kv_shared:
        shapes.update({l + "self_attn.k_proj.weight": (KV * head_dim, HIDDEN), l + "self_attn.v_proj.weight": (KV * head_dim, HIDDEN),
                       l + "self_attn.k_norm.weight": (head_dim,)})
    shapes.update({l + norm + ".weight": (HIDDEN,) for norm in NORMS})
    return shapes


def synthetic_gemma4(work):
    """A Gemma 4 text model: 4 layers, full-attention layers with head size 256 and proportional RoPE."""
    directory = work / "synthetic-gemma4"
    if (directory / "model.safetensors").exists():
        return directory
    types = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
    shapes = ple_globals(len(types))
    for i, kind in enumerate(types):
        shapes.update(ple_layer(i, 256 if kind == "full_attention" else HD))
        shapes[f"model.layers.{i}.layer_scalar"] = (1,)
    config = {"model_type": "gemma4_text", "vocab_size": VOCAB, "vocab_size_per_layer_input": VOCAB, "hidden_size": HIDDEN,
              "hidden_size_per_layer_input": PLE, "num_hidden_layers": len(types), "num_attention_heads": HEADS,
              "num_key_value_heads": KV, "head_dim": HD, "per_layer_config": {"1": {"head_dim": 256}, "3": {"head_dim": 256}},
              "intermediate_size": INTER, "layer_types": types, "sliding_window": 512, "num_kv_shared_layers": 0,
              "final_logit_softcapping": 30.0, "rms_norm_eps": 1e-6,
              "rope_parameters": {"full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1e6},
                                  "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}}
    return write_synthetic(directory, shapes, config, seed=1)


def synthetic_gemma3n(work):
    """A Gemma 3n text model: 5 layers with AltUp (4 streams), LAuReL (rank 64), sparsity on the first two and
    the last two reusing earlier layers' keys and values."""
    directory = work / "synthetic-gemma3n"
    if (directory / "model.safetensors").exists():
        return directory
    types = ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention"]
    shapes = ple_globals(len(types))
    for k in range(3):
        shapes[f"model.altup_projections.{k}.weight"] = (HIDDEN, HIDDEN)
        shapes[f"model.altup_unembed_projections.{k}.weight"] = (HIDDEN, HIDDEN)
    for i in range(len(types)):
        shapes.update(ple_layer(i, HD, kv_shared=i >= 3))
        l = f"model.layers.{i}."
        shapes.update({l + "laurel.linear_left.weight": (64, HIDDEN), l + "laurel.linear_right.weight": (HIDDEN, 64),
                       l + "laurel.post_laurel_norm.weight": (HIDDEN,), l + "altup.correct_output_scale": (HIDDEN,),
                       l + "altup.correction_coefs.weight": (4, 4), l + "altup.prediction_coefs.weight": (16, 4),
                       l + "altup.modality_router.weight": (4, HIDDEN), l + "altup.router_norm.weight": (HIDDEN,)})
    config = {"model_type": "gemma3n_text", "vocab_size": VOCAB, "vocab_size_per_layer_input": VOCAB, "hidden_size": HIDDEN,
              "hidden_size_per_layer_input": PLE, "num_hidden_layers": len(types), "num_attention_heads": HEADS,
              "num_key_value_heads": KV, "head_dim": HD, "intermediate_size": INTER, "layer_types": types,
              "sliding_window": 512, "num_kv_shared_layers": 2, "laurel_rank": 64, "altup_num_inputs": 4,
              "activation_sparsity_pattern": [0.95, 0.95, 0, 0, 0], "final_logit_softcapping": 30.0, "rms_norm_eps": 1e-6,
              "rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                  "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}}
    return write_synthetic(directory, shapes, config, seed=2)


def ple_model_rows(lpk, work, label, directory):
    """Speed, pages touched and resident memory of a PLE model whose table is mapped from its own .ple file,
    against the same model with the table held in RAM as f32."""
    split = work / f"{directory.name}.int4.lpk"
    run([lpk["lpk-quantize"], str(directory), "-o", str(split), "--core", "int8", "--ple", "int4", "--embed", "int8", "--split-ple", "--quiet"], capture=False)
    dense = work / f"{directory.name}.ple-f32.lpk"
    run([lpk["lpk-quantize"], str(directory), "-o", str(dense), "--core", "int8", "--ple", "f32", "--embed", "int8", "--quiet"], capture=False)
    table_bytes = os.path.getsize(str(split) + ".ple")
    mapped = bench_json(lpk["lpk-bench"], "decode", str(split))
    resident = bench_json(lpk["lpk-bench"], "decode", str(dense))
    record = table_bytes // VOCAB
    row(f"{label}, PLE from its own mapped .ple file: prefill / decode",
        f"{mapped['prefill_tokens_per_second']:.0f} / {mapped['decode_tokens_per_second']:.1f} tokens/s")
    row(f"pages of its {table_bytes / 1e6:.0f} MB .ple file read by PLE lookups over {int(mapped['tokens'])} tokens",
        f"{int(mapped['ple_pages_read'])} pages ({mapped['ple_pages_read'] / mapped['tokens']:.2f} per token)",
        "", f"1 record of {record} bytes per token: 1–2 pages")
    row("…and mapped into the process by the kernel (its 64 KiB fault-around over cached pages)",
        f"{int(mapped['ple_file_resident_pages'])} pages ({mapped['ple_file_resident_pages'] / mapped['tokens']:.1f} per token)",
        "", f"whole file {table_bytes // 4096} pages")
    row("peak resident memory of that run: PLE mapped from its file vs the table held in RAM (f32)",
        f"{mapped['peak_rss_megabytes']:.0f} MB vs {resident['peak_rss_megabytes']:.0f} MB")
    served_cold_rows(lpk, label, split)


def served_cold_rows(lpk, label, split, ram=False):
    """Decoding with the split pack's .ple file dropped from the page cache (posix_fadvise DONTNEED) against it cached
    (and, with `ram`, against every page of the table mapped into the process), and lpk-plan's figures beside them."""
    # Medians of 5 interleaved rounds (a run decodes 64 tokens: well under a second, which one slow moment of the VM
    # could decide), and cold ÷ warm taken within each round; each cold run drops the table from the page cache itself.
    caches = ["cold", "warm"] + (["ram"] if ram else [])
    each = []
    results = median_rounds([lambda cache=cache: bench_json(lpk["lpk-bench"], "decode", str(split), "--ple-cache", cache, "--generate", "64")
                             for cache in caches], rounds=5, each=each)
    cold, warm = results[0], results[1]
    held = results[2] if ram else None
    cold_rounds, warm_rounds = each[0], each[1]
    share = round_ratio([r["decode_tokens_per_second"] for r in cold_rounds], [r["decode_tokens_per_second"] for r in warm_rounds])
    row(f"{label}, table served cold from storage vs cached" + (" vs held in RAM" if ram else "") + ": decode (medians of 5 interleaved rounds)",
        f"{cold['decode_tokens_per_second']:.1f} vs {warm['decode_tokens_per_second']:.1f}"
        + (f" vs {held['decode_tokens_per_second']:.1f}" if ram else "")
        + f" tokens/s (cold {share * 100:.0f}% of warm within each round, the median of 5)", "",
        "goal: cold ≥ 90% of warm")
    row("…cold: major faults and bytes read from storage per token (/proc/self/io); peak RSS cold"
        + (" vs table in RAM" if ram else ""),
        f"{cold['major_faults_per_token']:.2f} faults, {cold['storage_bytes_per_token'] / 1024:.1f} KiB; {cold['peak_rss_megabytes']:.0f} MiB"
        + (f" vs {held['peak_rss_megabytes']:.0f} MiB" if ram else ""), "", "first read of a row verifies its 16 KiB block")
    plan = json.loads(run([lpk["lpk-plan"], str(split), "--preset", "lossless", "--context", str(int(cold["tokens"]) + 1),
                           "--memory-bandwidth", "14", "--storage-latency-us", "30", "--storage-bandwidth", "1.5", "--json"])[0])["rows"][0]["plan"]
    planned = plan["residentBytes"] / 1048576
    core = sum(p["bytes"] for p in plan["parts"] if p["placement"] == "resident" and "table pages" not in p["name"]) / 1048576
    row("…lpk-plan: resident bytes vs that cold run's peak RSS (its core without table pages); 16 KiB pages per token",
        f"{planned:.0f} vs {cold['peak_rss_megabytes']:.0f} MiB ({(cold['peak_rss_megabytes'] / planned - 1) * 100:+.0f}%; core {core:.0f} MiB, "
        f"RSS {(cold['peak_rss_megabytes'] / core - 1) * 100:+.0f}%); {plan['lookupPages'][1]['pagesPerToken']:.2f} pages", "",
        "goals: within 5%; RSS ≤ core + 15%")


def scaled_table_rows(lpk, work):
    """A Gemma-4-shaped model whose per-layer width is raised to 9,728: an int4 table of 5.1 GB, 58× its core, written by
    lpk-bench scaled-table through the pack writer (its bf16 source would be 20 GB)."""
    split = work / "scaled-gemma4.int4.lpk"
    if not split.exists():
        run([lpk["lpk-bench"], "scaled-table", str(synthetic_gemma4(work)), "-o", str(split), "--per-layer-width", "9728"])
    table = os.path.getsize(str(split) + ".ple")
    core = os.path.getsize(str(split))
    served_cold_rows(lpk, f"scaled Gemma-4-shaped model (PLE 4 × 9,728: int4 table {table / 1e9:.2f} GB, {table / core:.0f}× its "
                     f"{core / 1e6:.0f} MB core)", split, ram=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--skip-llama", action="store_true")
    parser.add_argument("--float-model", type=Path, help="the float 270M's directory (make_float_gemma3.py): adds the quality table")
    parser.add_argument("--quality-chunks", type=int, default=6, help="chunks of 512 tokens of evaluation.txt to score")
    parser.add_argument("--llama-tools", type=Path, default=Path.home() / ".cache/layerpack/llama-tools/bin",
                        help="llama-imatrix and llama-quantize, for the quality table")
    parser.add_argument("--mlx-python", type=Path, default=Path.home() / ".cache/layerpack/venv-mlx/bin/python",
                        help="a Python with mlx-lm, for the quality table")
    parser.add_argument("--quality-only", action="store_true", help="print only the quality table")
    args = parser.parse_args()
    b = Path(args.bin)
    lpk = {name: str(b / name) for name in ["lpk-inspect", "lpk-quantize", "lpk-pack", "lpk-verify", "lpk-bench", "lpk-plan"]}
    work = Path.home() / ".cache/layerpack/bench"
    work.mkdir(parents=True, exist_ok=True)
    model = args.gguf
    if args.quality_only:
        from bench_quality import quality_table, sensitivity_table
        quality_table(lpk, args.float_model, work, args.llama_tools, args.mlx_python, chunks=args.quality_chunks)
        sensitivity_table(lpk, args.float_model, work)
        return

    memcpy = bench_json(lpk["lpk-bench"], "memcpy")["gigabytes_per_second"]
    row("memcpy, one thread, 1 GiB buffers (the machine's limit for streaming work)", f"{memcpy:.1f} GB/s")
    read = bench_json(lpk["lpk-bench"], "read-bandwidth")
    read_bandwidth = read["gigabytes_per_second"]
    row(f"memory read bandwidth, {int(read['threads'])} threads summing a 1 GiB buffer (the limit of decoding)", f"{read_bandwidth:.1f} GB/s")

    # Readers: open + list the real GGUF.
    ours = bench_json(lpk["lpk-bench"], "open", model)["seconds"]
    import gguf
    start = time.perf_counter()
    gguf.GGUFReader(model)
    peer = time.perf_counter() - start
    row("open + list Gemma 3 270M GGUF (236 tensors, 262,144-token vocabulary)", f"{ours * 1000:.1f} ms",
        f"gguf-py GGUFReader {peer:.2f} s")

    # Conversion throughput and memory on the synthetic E2B-shaped checkpoint.
    synthetic = synthetic_e2b(work)
    size = (synthetic / "model.safetensors").stat().st_size
    largest = 131072 * 7680 * 2
    # Medians of 3 runs (the first may read its source from storage), each after a sync and writing a new file, as cp
    # does below (replacing one also frees the old one's blocks); the largest peak RSS of the three.
    for preset, label in [("int8", "bf16 → int8 rows"), ("int4", "bf16 → int4 rows")]:
        out = work / f"synthetic.{preset}.lpk"
        recipe = ["--core", f"{preset}:row", "--ple", preset, "--embed", f"{preset}:row", "--rounding", "nearest"]
        times, peaks = [], []
        for _ in range(3):
            out.unlink(missing_ok=True)
            run(["sync"])
            _, seconds, rss = run([lpk["lpk-quantize"], str(synthetic), "-o", str(out), *recipe, "--quiet"], capture=False)
            times.append(seconds)
            peaks.append(rss)
        row(f"convert {gb(size)} E2B-shaped safetensors, {label} (source read rate, median of 3)", f"{size / statistics.median(times) / 1e9:.2f} GB/s",
            "", f"memcpy {memcpy:.1f} GB/s")
        row(f"peak RSS of that conversion", f"{max(peaks) / 1e6:.0f} MB", "", f"largest tensor {largest / 1e6:.0f} MB")
    # The same file copied, as a plain copy and as a durable one (our outputs are synced before they are renamed
    # into place): the peer of a conversion's time. Three rounds, interleaved, each command after a sync (so that no
    # earlier command's dirty pages are written back during it) and writing a file that does not exist yet (so that
    # none pays for freeing an earlier output's blocks); medians.
    copy = work / "synthetic.copy"
    out = work / "synthetic.int8.lpk"
    times = {"plain": [], "durable": [], "converted": []}
    for _ in range(3):
        run(["sync"])
        times["plain"].append(run(["cp", str(synthetic / "model.safetensors"), str(copy)], capture=False)[1])
        copy.unlink()
        run(["sync"])
        times["durable"].append(run(["sh", "-c", 'cp "$0" "$1" && sync "$1"', str(synthetic / "model.safetensors"), str(copy)], capture=False)[1])
        copy.unlink()
        out.unlink()
        run(["sync"])
        times["converted"].append(run([lpk["lpk-quantize"], str(synthetic), "-o", str(out), "--core", "int8:row", "--ple", "int8",
                                       "--embed", "int8:row", "--rounding", "nearest", "--quiet"], capture=False)[1])
    plain, durable, converted = (statistics.median(times[k]) for k in ["plain", "durable", "converted"])
    row(f"the same bf16 → int8 conversion beside copying its {gb(size)} source (medians of 3 interleaved rounds)", f"{converted:.2f} s",
        f"cp {plain:.2f} s; cp + sync {durable:.2f} s", f"{converted / plain:.2f}× a copy, {converted / durable:.2f}× a durable copy (goal ≤ 1.0×)")
    lossless = work / "synthetic.lossless.lpk"
    _, seconds, rss = run([lpk["lpk-pack"], str(synthetic), "-o", str(lossless), "--split-ple", "--quiet"], capture=False)
    row("lossless import of the same checkpoint with --split-ple", f"{size / seconds / 1e9:.2f} GB/s", "", f"memcpy {memcpy:.1f} GB/s")
    compressed = work / "synthetic.lossless.lpkz"
    out, seconds, _ = run([lpk["lpk-pack"], str(lossless), "-o", str(compressed), "--compress", "zstd", "--json", "--quiet"])
    stats = json.loads(out)
    row("zstd of bf16 tensors after byte grouping (size after / before, speed)",
        f"{stats['floatCompressed'] / stats['floatBytes'] * 100:.1f}% at {(stats['floatBytes'] + stats['otherBytes']) / seconds / 1e9:.2f} GB/s",
        "ZipNN (published): 66.3% for BF16; plain zstd 78.3%", "random normal weights: only the exponent byte compresses")

    # Pack open time at three sizes and PLE lookups.
    small = work / "types.lpk"
    run([lpk["lpk-pack"], str(Path("Fixtures/gguf/types.gguf").resolve()), "-o", str(small), "--quiet"], capture=False)
    int8_270m = work / "gemma3-270m.int8.lpk"
    run([lpk["lpk-quantize"], model, "-o", str(int8_270m), "--quiet"], capture=False)
    for path in [small, int8_270m, work / "synthetic.int8.lpk"]:
        seconds = bench_json(lpk["lpk-bench"], "open", str(path))["seconds"]
        row(f"open a pack of {path.stat().st_size / 1e6:,.1f} MB ({path.name})", f"{seconds * 1e6:.0f} µs")
    # PLE lookups: each figure the median of 3 interleaved rounds (one run takes a fraction of a second, so a slow
    # moment of the VM would otherwise decide it).
    for batch in [1, 64]:
        variants = [(preset, mapped) for preset in ["int8", "int4"] for mapped in [False, True]]
        measures = [lambda preset=preset, mapped=mapped: bench_json(
            lpk["lpk-bench"], "ple", str(work / f"synthetic.{preset}.lpk"), "--batch", str(batch), *(["--mapped"] if mapped else []))
            for preset, mapped in variants]
        results = dict(zip(variants, median_rounds(measures)))
        for preset in ["int8", "int4"]:
            result, mapped = results[(preset, False)], results[(preset, True)]
            if batch == 1:
                row(f"PLE lookups, random tokens, one {int(result['record_bytes'])}-byte record each, dequantized, the next fetched meanwhile ({preset}): "
                    "pages first touched by the lookups / already mapped (medians of 3 interleaved rounds)",
                    f"{result['lookups_per_second'] / 1e6:.2f} / {mapped['lookups_per_second'] / 1e6:.2f} M/s",
                    "", f"{memcpy * 1e9 / result['record_bytes'] / 1e6:.1f} M/s at memcpy speed")
            else:
                row(f"Prompt PLE lookups, random tokens 64 at a time, the records split between the worker threads ({preset}): "
                    "pages first touched by the lookups / already mapped (medians of 3 interleaved rounds)",
                    f"{result['lookups_per_second'] / 1e6:.2f} / {mapped['lookups_per_second'] / 1e6:.2f} M/s",
                    "", f"{read_bandwidth * 1e9 / result['record_bytes'] / 1e6:.1f} M/s at the read bandwidth (two threads)")

    # PLE models served from a separate, mapped PLE file: speed, pages touched, resident memory.
    ple_model_rows(lpk, work, "Gemma-3n-shaped model (vocab 262,144, PLE 5 × 256, AltUp, LAuReL)", synthetic_gemma3n(work))
    ple_model_rows(lpk, work, "Gemma-4-shaped model (vocab 262,144, PLE 4 × 256)", synthetic_gemma4(work))
    scaled_table_rows(lpk, work)

    # The source already quantized: presets applied to the Q4_K_M GGUF (its blocks are carried where they hold no
    # more bits than asked), size and KLD against that GGUF.
    for preset in ["int8", "int4"]:
        out_path = work / f"gemma3-270m.{preset}.lpk"
        run([lpk["lpk-quantize"], model, "-o", str(out_path), "--preset", preset, "--quiet"], capture=False)
        verify, _, _ = run([lpk["lpk-verify"], model, str(out_path), "--json", "--no-weights"])
        v = json.loads(verify)["logits"]
        row(f"270M Q4_K_M source (already quantized) → preset {preset}: {out_path.stat().st_size / 1e6:.0f} MB",
            f"KLD mean {v['meanKLD']:.4f}, same top {v['top1Agreement'] * 100:.1f}%", "", f"source {os.path.getsize(model) / 1e6:.0f} MB")

    # Inference speed: reference inference on GGUF, int8 and int4 packs, beside llama.cpp; medians of five rounds,
    # interleaved (this VM's speed drifts by tens of percent within minutes).
    # llama.cpp runs with extra buffer types off (as Fixtures/scripts/make_llama_fixtures.py does): on machines that
    # advertise AMX but fault on it, llama.cpp's AMX buffers raise SIGILL.
    code = ("import llama_cpp,time,sys\n"
            "o=llama_cpp.llama_cpp.llama_model_default_params\n"
            "def p():\n q=o(); q.use_extra_bufts=False; return q\n"
            "llama_cpp.llama_cpp.llama_model_default_params=p\n"
            "m=llama_cpp.Llama(sys.argv[1],n_ctx=256,n_threads=2,verbose=False)\n"
            "t=[2]+[1000+(i*7919)%20000 for i in range(1,128)];s=time.perf_counter();m.eval(t);pf=time.perf_counter()-s\n"
            "s=time.perf_counter()\nfor i in range(32): m.eval([int(m.scores[m.n_tokens-1].argmax())])\n"
            "d=time.perf_counter()-s;print(128/pf,32/d)")
    files = [("GGUF Q4_K_M", model), ("int8 pack", str(int8_270m)), ("int4 pack", str(work / "gemma3-270m.int4.lpk"))]
    # Each run starts with its file read whole into the page cache (llama.cpp's too: the GGUF row's file).
    decodes = [lambda path=path: read_into_cache(path) or bench_json(lpk["lpk-bench"], "decode", path) for _, path in files]
    # Each round also measures the read bandwidth, so that decode's share of its limit is taken within a round too.
    bandwidth = [lambda: bench_json(lpk["lpk-bench"], "read-bandwidth")]
    # And each file's compute ceiling: its products timed on cached slices of its own weights (lpk-bench decode-ceiling).
    ceilings = [lambda path=path: bench_json(lpk["lpk-bench"], "decode-ceiling", path) for _, path in files]
    llama = [] if args.skip_llama else [lambda: read_into_cache(model) or [float(v) for v in run([sys.executable, "-c", code, model])[0].split()]]
    each = []
    try:
        results = median_rounds(decodes + bandwidth + ceilings + llama, rounds=5, each=each)
    except RuntimeError as error:  # llama.cpp could not run: ours alone
        row("270M GGUF in llama.cpp (llama-cpp-python)", "", f"could not run here: {str(error)[-120:]}")
        each, llama = [], []
        results = median_rounds(decodes + bandwidth + ceilings, rounds=5, each=each)
    limits = each[len(files)]
    for i, ((label, path), result, rounds) in enumerate(zip(files, results, each)):
        size = os.path.getsize(path)
        share = round_ratio([r["decode_tokens_per_second"] * size for r in rounds], [b["gigabytes_per_second"] * 1e9 for b in limits])
        row(f"270M {label}: prefill (128 tokens) / decode, 2 threads (medians of 5 rounds)",
            f"{result['prefill_tokens_per_second']:.0f} / {result['decode_tokens_per_second']:.1f} tokens/s",
            "", f"decode ≤ {read_bandwidth * 1e9 / size:.0f} tokens/s (weights {size / 1e6:.0f} MB read per token at {read_bandwidth:.0f} GB/s); "
                f"within each round, {share * 100:.0f}% of the limit that round's read bandwidth sets (median of 5; goal ≥ 85%)")
        ceiling, ceiling_rounds = results[len(files) + 1 + i], each[len(files) + 1 + i]
        ceiling_share = round_ratio([c["gigabytes_per_second"] for c in ceiling_rounds], [b["gigabytes_per_second"] for b in limits])
        reached = round_ratio([r["decode_tokens_per_second"] for r in rounds], [c["ceiling_tokens_per_second"] for c in ceiling_rounds])
        kinds = ", ".join(f"{k.split(' ', 1)[1]} {v:.0f}" for k, v in sorted(ceiling.items()) if k.startswith("gigabytes_per_second "))
        row(f"270M {label}: decode's compute ceiling, every product timed on cached slices of its own weights "
            "(f32 activations, 2 threads, medians of 5 rounds)",
            f"{ceiling['ceiling_tokens_per_second']:.1f} tokens/s ({ceiling['gigabytes_per_second']:.1f} GB/s of weights: {kinds} GB/s)",
            "", f"within each round, the ceiling is {ceiling_share * 100:.0f}% of the read-bandwidth limit and decode reaches "
                f"{reached * 100:.0f}% of the ceiling (medians of 5)")
        streamed_share = round_ratio([c["streamed_gigabytes_per_second"] for c in ceiling_rounds], [b["gigabytes_per_second"] for b in limits])
        streamed_reached = round_ratio([r["decode_tokens_per_second"] for r in rounds], [c["streamed_tokens_per_second"] for c in ceiling_rounds])
        row(f"270M {label}: a token's products alone, every matrix whole and read from memory in decode's order "
            "(f32 activations, 2 threads, medians of 5 rounds)",
            f"{ceiling['streamed_tokens_per_second']:.1f} tokens/s ({ceiling['streamed_gigabytes_per_second']:.1f} GB/s of weights)",
            "", f"within each round, {streamed_share * 100:.0f}% of the read-bandwidth limit; decode, which adds attention, norms "
                f"and sampling, reaches {streamed_reached * 100:.0f}% of it (medians of 5)")
    if llama:
        prefill, decode = results[-1]
        row("270M GGUF Q4_K_M in llama.cpp (llama-cpp-python), prefill / decode, 2 threads (medians of 5 rounds)", "",
            f"{prefill:.0f} / {decode:.1f} tokens/s")
        theirs = each[-1]
        ratios = {key: [round_ratio([r[f"{key}_tokens_per_second"] for r in ours], [r[j] for r in theirs]) for ours in each[:len(files)]]
                  for j, key in enumerate(["prefill", "decode"])}
        row("270M, LayerPack ÷ llama.cpp within each round (median of the 5 rounds' ratios): decode; prefill "
            "(GGUF / int8 pack / int4 pack)",
            f"{' / '.join(f'{x:.2f}' for x in ratios['decode'])}×; {' / '.join(f'{x:.2f}' for x in ratios['prefill'])}×", "",
            "goals: decode ≥ 1.3×, prefill ≥ 1.0×")

    if not args.skip_llama:
        from bench_llama_models import gemma3n_llama_rows, gemma4_llama_rows
        try:
            gemma3n_llama_rows(lpk, work, args.llama_tools, run, row, bench_json)
        except RuntimeError as error:
            row("22-layer Gemma-3n-shaped model beside llama.cpp", "", f"could not run here: {str(error)[-160:]}")
        try:
            gemma4_llama_rows(lpk, work, args.llama_tools, run, row, bench_json)
        except RuntimeError as error:
            row("10-layer Gemma-4-shaped model beside llama.cpp", "", f"could not run here: {str(error)[-160:]}")

    if args.float_model and not args.skip_llama:
        from bench_quality import conversion_pair_rows, verification_rows
        conversion_pair_rows(lpk, args.float_model, work, args.llama_tools, run, row)
        verification_rows(lpk, args.float_model, work, args.llama_tools, run, row)

    print("| figure | LayerPack | peer | limit |")
    print("|---|---|---|---|")
    for what, ours, peer, limit in ROWS:
        print(f"| {what} | {ours} | {peer} | {limit} |")
    if args.float_model:
        from bench_quality import quality_table, sensitivity_table
        quality_table(lpk, args.float_model, work, args.llama_tools, args.mlx_python, chunks=args.quality_chunks)
        sensitivity_table(lpk, args.float_model, work)


if __name__ == "__main__":
    main()
