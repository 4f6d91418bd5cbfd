#!/usr/bin/env python3
"""make bench: LayerPack's speed and memory figures, each beside its peer and the machine's limit, in one run.

Runs the release binaries and the peers (gguf-py, llama.cpp through llama-cpp-python) on the same files and prints
one markdown table. Work files go to ~/.cache/layerpack/bench (a 2.3 GB synthetic Gemma 3n E2B-shaped checkpoint
is made there once).
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

import numpy as np

ROWS = []


def row(what, ours, peer="", limit=""):
    ROWS.append((what, ours, peer, limit))
    print(f"  {what}: {ours} | {peer} | {limit}", file=sys.stderr, flush=True)


def run(cmd, capture=True):
    """Runs a command, returning (stdout, seconds, peak RSS in bytes) measured with wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    out = proc.stdout.read() if capture else b""
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {err.decode()[-2000:]}")
    return out.decode(), seconds, usage.ru_maxrss * 1024


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--skip-llama", action="store_true")
    args = parser.parse_args()
    b = Path(args.bin)
    lpk = {name: str(b / name) for name in ["lpk-inspect", "lpk-quantize", "lpk-pack", "lpk-verify", "lpk-bench"]}
    work = Path.home() / ".cache/layerpack/bench"
    work.mkdir(parents=True, exist_ok=True)
    model = args.gguf

    memcpy = bench_json(lpk["lpk-bench"], "memcpy")["gigabytes_per_second"]
    row("memcpy, one thread, 1 GiB buffers (the machine's limit for streaming work)", f"{memcpy:.1f} GB/s")

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
    for preset, label in [("int8", "bf16 → int8 rows"), ("int4-row", "bf16 → int4 rows")]:
        out = work / f"synthetic.{preset}.lpk"
        _, seconds, rss = run([lpk["lpk-quantize"], str(synthetic), "-o", str(out), "--preset", preset, "--quiet"], capture=False)
        row(f"convert {gb(size)} E2B-shaped safetensors, {label} (source read rate)", f"{size / seconds / 1e9:.2f} GB/s",
            "", f"memcpy {memcpy:.1f} GB/s")
        row(f"peak RSS of that conversion", f"{rss / 1e6:.0f} MB", "", f"largest tensor {largest / 1e6:.0f} MB")
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
    for preset in ["int8", "int4-row"]:
        result = bench_json(lpk["lpk-bench"], "ple", str(work / f"synthetic.{preset}.lpk"))
        row(f"PLE lookups, random tokens, one {int(result['record_bytes'])}-byte record each, dequantized ({preset})",
            f"{result['lookups_per_second'] / 1e6:.2f} M/s",
            "", f"{memcpy * 1e9 / result['record_bytes'] / 1e6:.1f} M/s at memcpy speed")

    # Size and error per recipe on the real model, with the KLD against the original.
    for preset in ["int8", "int4", "int4-row", "mobile"]:
        out_path = work / f"gemma3-270m.{preset}.lpk"
        out, _, _ = run([lpk["lpk-quantize"], model, "-o", str(out_path), "--preset", preset, "--json", "--quiet"])
        report = json.loads(out)["report"]
        bits = sum(t["bytesAfter"] for t in report["tensors"]) * 8 / max(1, sum(t["elements"] for t in report["tensors"]))
        errors = {}
        for t in report["tensors"]:
            if t.get("error"):
                e = errors.setdefault(t["role"], [0.0, 0.0])
                e[0] += t["error"]["sumSquaredError"]; e[1] += t["error"]["sumSquaredReference"]
        rmse = ", ".join(f"{role} {np.sqrt(a / b):.3f}" for role, (a, b) in sorted(errors.items()))
        verify, _, _ = run([lpk["lpk-verify"], model, str(out_path), "--json", "--no-weights"])
        v = json.loads(verify)["logits"]
        row(f"270M recipe {preset}: {out_path.stat().st_size / 1e6:.0f} MB, {bits:.2f} bits/weight; rel. RMSE {rmse}",
            f"KLD mean {v['meanKLD']:.4f}, p99 {v['p99KLD']:.3f}, same top {v['top1Agreement'] * 100:.1f}%",
            "llama.cpp anchors (8B): Q8_0 0.0014, Q4_K_M 0.031, Q4_0 0.072")

    # Inference speed: reference inference on GGUF, int8 and int4 packs, beside llama.cpp.
    weight_bytes = os.path.getsize(model)
    for label, path in [("GGUF Q4_K_M", model), ("int8 pack", str(int8_270m)), ("int4 pack", str(work / "gemma3-270m.int4.lpk"))]:
        result = bench_json(lpk["lpk-bench"], "decode", path)
        size = os.path.getsize(path)
        row(f"270M {label}: prefill (128 tokens) / decode, 2 threads",
            f"{result['prefill_tokens_per_second']:.0f} / {result['decode_tokens_per_second']:.1f} tokens/s",
            "", f"decode ≤ {memcpy * 1e9 / size:.0f} tokens/s (weights {size / 1e6:.0f} MB per token at memcpy speed)")
    if not args.skip_llama:
        code = ("import llama_cpp,time,sys;m=llama_cpp.Llama(sys.argv[1],n_ctx=256,n_threads=2,verbose=False);"
                "t=[2]+[1000+(i*7919)%20000 for i in range(1,128)];s=time.perf_counter();m.eval(t);p=time.perf_counter()-s;"
                "s=time.perf_counter()\nfor i in range(32): m.eval([int(m.scores[m.n_tokens-1].argmax())])\n"
                "d=time.perf_counter()-s;print(128/p,32/d)")
        try:
            out, _, _ = run([sys.executable, "-c", code, model])
            prefill, decode = map(float, out.split())
            row("270M GGUF Q4_K_M in llama.cpp (llama-cpp-python), prefill / decode, 2 threads", "",
                f"{prefill:.0f} / {decode:.1f} tokens/s")
        except RuntimeError as error:
            row("270M GGUF in llama.cpp (llama-cpp-python)", "", f"could not run here: {str(error)[-120:]}")

    print("| figure | LayerPack | peer | limit |")
    print("|---|---|---|---|")
    for what, ours, peer, limit in ROWS:
        print(f"| {what} | {ours} | {peer} | {limit} |")


if __name__ == "__main__":
    main()
