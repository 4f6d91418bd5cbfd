#!/usr/bin/env python3
"""llama.cpp running LayerPack's GGUF exports of Hugging Face checkpoints.

Run from the repository root with the peers' venv (llama-cpp-python 0.3.36), after `swift build -c release`:

    ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_llama_export_fixtures.py

For each case: `lpk-quantize` (or a lossless `lpk-pack`) of a conformance model's safetensors into a pack, then
`lpk-pack pack.lpk -o NAME.gguf --dequantize` (rows no ggml type holds, such as int4 rows of 48 columns, as F32); llama.cpp evaluates the model's tokens.json in one batch with an f32 KV cache on 2
threads and no extra buffer types (as make_conformance_models.py runs it: AMX faults on these VMs), in a child
process. Writes Fixtures/llama-export/: NAME.gguf (the export llama.cpp ran: the test re-exports and must get these
bytes), NAME.llama.npy (llama.cpp's logits) and cases.json (commands, and how far llama.cpp's logits on the
converter's own GGUF of the same checkpoint are from float64, for scale).
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".build/release"
OUT = ROOT / "Fixtures/llama-export"
CONFORMANCE = ROOT / "Fixtures/conformance"
LOSSLESS = ["gemma3-hd8-mha-window3-tied", "gemma3-hd16-gqa2-window64-untied-softcap", "gemma3-gqa4-window3-ropelinear8-6layers",
            "gemma3-heads6-kv3-hidden36-window5-softcap", "gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3",
            "gemma4-ghd16-prop-nokvshare-ple16-window64-untied", "gemma4-keqv-globalkv1-nople-window3"]
QUANTIZED = [("gemma3-gqa4-window3-ropelinear8-6layers", "int8", ["--preset", "int8"]),
             ("gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3", "int4", ["--core", "int4:g32", "--embed", "int8:g32", "--ple", "int8"])]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    runs = [(model, model, None) for model in LOSSLESS] + [(model, f"{model}.{label}", recipe) for model, label, recipe in QUANTIZED]
    for model, name, recipe in runs:
        with tempfile.TemporaryDirectory() as scratch:
            pack = Path(scratch) / "m.lpk"
            source = str(CONFORMANCE / model)
            first = ([str(BIN / "lpk-quantize"), source, "-o", str(pack), "--quiet", *recipe] if recipe
                     else [str(BIN / "lpk-pack"), source, "-o", str(pack), "--quiet"])
            subprocess.run(first, check=True, capture_output=True)
            export = OUT / f"{name}.gguf"
            subprocess.run([str(BIN / "lpk-pack"), str(pack), "-o", str(export), "--dequantize", "--quiet"], check=True, capture_output=True)
        tokens = (CONFORMANCE / model / "tokens.json").read_text()
        logits = OUT / f"{name}.llama.npy"
        child = subprocess.run([sys.executable, str(ROOT / "Fixtures/scripts/make_conformance_models.py"), "--llama-logits",
                                str(export), str(logits), tokens], capture_output=True, text=True)
        if child.returncode != 0:
            raise SystemExit(f"llama.cpp failed on {export}: {child.stderr[-2000:]}")
        reference = json.loads((CONFORMANCE / model / "reference.json").read_text())
        cases.append({"name": name, "model": f"Fixtures/conformance/{model}",
                      "commands": [" ".join(["lpk-quantize" if recipe else "lpk-pack", f"Fixtures/conformance/{model}", "-o", "m.lpk",
                                             "--quiet", *(recipe or [])]), f"lpk-pack m.lpk -o {name}.gguf --dequantize --quiet"],
                      "llama_on_converter_gguf_vs_f64": (reference.get("gguf") or {}).get("max_abs_diff_llama_vs_f64")
                      if isinstance(reference.get("gguf"), dict) else reference.get("max_abs_diff_llama_vs_f64")})
        print(name, file=sys.stderr)
    (OUT / "cases.json").write_text(json.dumps({"producer": "llama-cpp-python 0.3.36 (make_conformance_models.py --llama-logits)",
                                                "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
