#!/usr/bin/env python3
"""MLX-LM running LayerPack's MLX exports: the logits MLX computes from checkpoints `lpk-pack --mlx` wrote.

Run from the repository root with the MLX venv (mlx[cpu] 0.32.4, mlx-lm 0.32.2), after `swift build -c release`:

    ~/.cache/layerpack/venv-mlx/bin/python Fixtures/scripts/make_mlx_export_fixtures.py

For each case, in a temporary directory: `lpk-quantize SOURCE -o pack.lpk RECIPE`, then `lpk-pack pack.lpk -o
export/model.safetensors --mlx`; mlx_lm.utils.load_model(export) runs the case's tokens (float32 activations,
`model(tokens[None])`). Writes Fixtures/mlx-export/NAME/{export/, logits.npy, reference.json}: the exported files
themselves (the test re-exports and must get the same bytes, so that these logits are the logits of its export),
the tokens, the commands, which modules MLX built as QuantizedLinear / QuantizedEmbedding, and the versions.
"""
import importlib.metadata as im
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx_lm.utils import load_model

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".build/release"
TOKENS = [2, 17, 300, 45, 511, 9, 128, 77, 3, 250, 400, 6]
CASES = [
    ("tiny-gemma3-int4-mixed", "Fixtures/models/tiny-gemma3-f32",
     ["--core", "int4:g32", "--embed", "int8:g64", "--override", "down_proj=int8:g32"]),
    ("tiny-gemma4-int4", "Fixtures/models/tiny-gemma4-f32", ["--core", "int4:g64", "--embed", "int8:g32", "--ple", "int8"]),
    ("tiny-gemma3-int2-embed", "Fixtures/models/tiny-gemma3-f32", ["--core", "int4:g32", "--embed", "int2:g32", "--scale-search"]),
]


def main() -> None:
    for name, source, recipe in CASES:
        out = ROOT / "Fixtures/mlx-export" / name
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            pack = Path(scratch) / "pack.lpk"
            export = Path(scratch) / "export"
            export.mkdir()
            quantize = [str(BIN / "lpk-quantize"), str(ROOT / source), "-o", str(pack), "--quiet", *recipe]
            subprocess.run(quantize, check=True, capture_output=True)
            subprocess.run([str(BIN / "lpk-pack"), str(pack), "-o", str(export / "model.safetensors"), "--mlx", "--quiet"],
                           check=True, capture_output=True)
            model, _ = load_model(export)
            logits = np.array(model(mx.array([TOKENS]))[0].astype(mx.float32))
            np.save(out / "logits.npy", logits)
            shutil.rmtree(out / "export", ignore_errors=True)
            shutil.copytree(export, out / "export")
            quantized = sorted(path for path, module in model.named_modules()
                               if type(module).__name__ in ("QuantizedLinear", "QuantizedEmbedding"))
            reference = {
                "source": source, "tokens": TOKENS,
                "commands": [f"lpk-quantize {source} -o pack.lpk --quiet " + " ".join(recipe),
                             "lpk-pack pack.lpk -o export/model.safetensors --mlx --quiet"],
                "export_files": {p.name: p.stat().st_size for p in sorted(export.iterdir())},
                "mlx_quantized_modules": len(quantized), "mlx_quantized_examples": quantized[:4],
                "forward": "mlx_lm.utils.load_model(export)[0](tokens[None]), float32",
                "producer": {"mlx": im.version("mlx"), "mlx_lm": im.version("mlx-lm"), "python": sys.version.split()[0]},
                "logits_shape": list(logits.shape),
            }
            (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
            print(name, len(quantized), "quantized modules", file=sys.stderr)


if __name__ == "__main__":
    main()
