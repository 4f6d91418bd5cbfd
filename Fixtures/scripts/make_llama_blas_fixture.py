#!/usr/bin/env python3
"""llama.cpp's logits of the Gemma 3 270M passage with its BLAS backend, for LayerPack's agreement tests.

Run from the repository root with a llama-cpp-python built with OpenBLAS (`make fixtures` builds one in
~/.cache/layerpack/venv-blas: CMAKE_ARGS="-DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS", libopenblas-dev):

    ~/.cache/layerpack/venv-blas/bin/python Fixtures/scripts/make_llama_blas_fixture.py

ggml's BLAS backend takes every matrix product whose output rows, tokens and inner length are all at least 32: it
converts the weight rows to f32 (ggml's own dequantizer) and calls cblas_sgemm on the f32 activations. A whole
passage in one llama_decode therefore multiplies in f32, where the plain CPU backend first rounds the activations
to 8 bits (Fixtures/llama/README.md); products of fewer than 32 tokens, a token-by-token run included, still take
the CPU backend. Everything else (the settings, the passage, the file format) is make_llama_fixtures.py's, whose
functions this script calls.

Writes Fixtures/llama/gemma3-270m.blas.logits.json (the format of gemma3-270m.logits.json).
"""
from pathlib import Path

import llama_cpp

import make_llama_fixtures as llama


def main() -> None:
    library = Path(llama_cpp.__file__).parent / "lib" / "libggml-blas.so"
    assert library.exists(), f"{library} is missing: this llama-cpp-python was built without GGML_BLAS"
    print(llama_cpp.llama_print_system_info().decode())
    logits = llama.make_logits(llama.sha256(llama.MODEL))
    logits["producer"] += ", built with GGML_BLAS=ON (OpenBLAS)"
    logits["method"] += "; ggml's BLAS backend (dequantized weights, cblas_sgemm in f32) takes every product"
    llama.write_json("gemma3-270m.blas.logits.json", logits)


if __name__ == "__main__":
    main()
