# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.workbench-installed
# llama-cpp-python must be built portable: the native build uses AMX and segfaults here at the first decode.
# pip's wheel cache ignores CMAKE_ARGS, so we build the wheel ourselves, without the cache, into a wheelhouse
# whose name says how it was built, and install from there.
LLAMA_VERSION := 0.3.36
WHEELHOUSE ?= $(HOME)/.cache/workbench/wheels-llama-portable-$(LLAMA_VERSION)
export CMAKE_ARGS := -DGGML_NATIVE=OFF
export MLFLOW_DISABLE_TELEMETRY := true
export RAGAS_DO_NOT_TRACK := true
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast ui lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@if ! ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "Building llama-cpp-python $(LLAMA_VERSION) portable (GGML_NATIVE=OFF); about 5 minutes on 2 cores..."; \
	  mkdir -p $(WHEELHOUSE).tmp && \
	  $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
	    -w $(WHEELHOUSE).tmp llama-cpp-python==$(LLAMA_VERSION) && \
	  rm -rf $(WHEELHOUSE) && mv $(WHEELHOUSE).tmp $(WHEELHOUSE); \
	fi
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) --only-binary llama-cpp-python \
	  -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/workbench run experiments/quickstart.yaml
	@echo "(the command is $(BIN)/workbench; activate with: source $(BIN)/activate)"

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not integration and not browser"

ui: install
	$(BIN)/workbench ui

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
