# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python is built without GGML_NATIVE: the native build turns on AMX, which this machine's CPU reports to the
# compiler but its kernel does not enable, and segfaults at the first decode. Instead it is built for the x86 vector
# extensions the kernel lists in /proc/cpuinfo: AVX-512 where listed (prompts evaluate about 1.4x faster than with the
# AVX2 build on these machines; decoding is no faster), otherwise llama.cpp's portable AVX2 build; never AMX. pip's wheel cache ignores CMAKE_ARGS, so we build the wheel
# ourselves, without the cache, into a wheelhouse whose name says how it was built, and install from there.
# LLAMA_SIMD=portable forces the AVX2 build.
LLAMA_VERSION := 0.3.36
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has_all = $(if $(strip $(foreach f,$(1),$(if $(filter $(f),$(CPU_FLAGS)),,missing))),,yes)
LLAMA_SIMD ?= $(if $(call has_all,avx512f avx512cd avx512vl avx512dq avx512bw),avx512$(if \
  $(call has_all,avx512vbmi),-vbmi)$(if $(call has_all,avx512_vnni),-vnni)$(if $(call has_all,avx512_bf16),-bf16),portable)
LLAMA_CMAKE_avx512 := -DGGML_AVX512=ON
LLAMA_CMAKE_vbmi := -DGGML_AVX512_VBMI=ON
LLAMA_CMAKE_vnni := -DGGML_AVX512_VNNI=ON
LLAMA_CMAKE_bf16 := -DGGML_AVX512_BF16=ON
export CMAKE_ARGS := -DGGML_NATIVE=OFF $(foreach part,$(subst -, ,$(LLAMA_SIMD)),$(LLAMA_CMAKE_$(part)))
WHEELHOUSE ?= $(HOME)/.cache/workbench/wheels-llama-$(LLAMA_SIMD)-$(LLAMA_VERSION)
# A venv installed with another llama.cpp build is reinstalled.
STAMP := $(VENV)/.workbench-installed-llama-$(LLAMA_SIMD)
export MLFLOW_DISABLE_TELEMETRY := true
export RAGAS_DO_NOT_TRACK := true
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast ui lint clean browser-deps team-deps bench-speed bench-scaling bench-racing

# The browser test (tests/browser) drives JupyterLab in Debian's headless chromium with playwright-core from npm
# (`npx playwright install` cannot download browsers here). Installed when missing; WORKBENCH_SKIP_BROWSER=1 skips
# the test and this step, except in CI (CI=true).
BROWSER_DIR := tests/browser
CHROMIUM ?= /usr/bin/chromium
# The team-store tests (tests/team) run MLflow on a real PostgreSQL 15 started by the test. Debian keeps the server
# binaries (initdb, pg_ctl) in $(PG_BIN), not on PATH; installed with apt when missing. Those tests never skip in CI.
PG_BIN ?= /usr/lib/postgresql/15/bin

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@if ! ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "Building llama-cpp-python $(LLAMA_VERSION) for $(LLAMA_SIMD) ($(CMAKE_ARGS)); about 5 minutes on 2 cores..."; \
	  mkdir -p $(WHEELHOUSE).tmp && \
	  $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
	    -w $(WHEELHOUSE).tmp llama-cpp-python==$(LLAMA_VERSION) && \
	  rm -rf $(WHEELHOUSE) && mv $(WHEELHOUSE).tmp $(WHEELHOUSE); \
	fi
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) --only-binary llama-cpp-python \
	  -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	@rm -f $(VENV)/.workbench-installed*
	@touch $(STAMP)

demo: install
	$(BIN)/workbench run experiments/quickstart.yaml
	@echo "(the command is $(BIN)/workbench; activate with: source $(BIN)/activate)"

# The import contracts in pyproject.toml ([tool.importlinter]); `make test` runs this first.
lint: install
	$(BIN)/lint-imports --no-cache

# Two pytest workers, a test file each at a time (module fixtures are built once), in the order tests/conftest.py
# gives (files of slow tests first; xdist would otherwise start the files with most tests first); each
# worker runs llama.cpp and torch on one thread (tests/conftest.py). PYTEST_WORKERS=0 runs the suite in one process.
# A worker that dies is not restarted: xdist then names the test it was running and the suite ends (a restarted
# worker left `--dist loadfile` waiting forever, until CI's time limit).
# Bytecode is written (into the gitignored __pycache__ folders) even where PYTHONDONTWRITEBYTECODE is set, as it is in
# some CI images: without it every process compiled the workbench again (each pytest worker, and every notebook kernel,
# forkserver, Ray worker and CLI run the tests start), and each worker rewrote the asserts of every test module while
# collecting (16 s of CPU a worker instead of 7 s with pytest's cache of rewritten modules).
PYTEST_WORKERS ?= 2
test: install browser-deps team-deps lint
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q --durations=25 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart=0

browser-deps:
	@if [ "$$WORKBENCH_SKIP_BROWSER" = "1" ] && [ "$$CI" != "true" ]; then echo "WORKBENCH_SKIP_BROWSER=1: browser test dependencies not installed"; exit 0; fi; \
	if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing chromium (apt) for the browser test..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium || exit 1; \
	fi; \
	command -v npm >/dev/null || { echo "the browser test needs node >= 20 and npm (or set WORKBENCH_SKIP_BROWSER=1)"; exit 1; }; \
	if [ ! -f $(BROWSER_DIR)/node_modules/.package-lock.json ] || [ $(BROWSER_DIR)/package-lock.json -nt $(BROWSER_DIR)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(BROWSER_DIR) --no-audit --no-fund; \
	fi

team-deps:
	@if command -v initdb >/dev/null || [ -x $(PG_BIN)/initdb ]; then exit 0; fi; \
	echo "Installing the PostgreSQL 15 server (apt) for the team-store tests..."; \
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-15 || exit 1; \
	[ -x $(PG_BIN)/initdb ] || { echo "apt installed postgresql-15 but $(PG_BIN)/initdb is missing"; exit 1; }

test-fast: install
	$(BIN)/python -m pytest -q -m "not integration and not browser"

# What caching and reuse save on the quickstart sweep (naive loop, cold, warm, +1 prompt, +1 chunker, kill -9 and
# resume), measured in one run: about 15-25 minutes on 2 quiet cores. BENCH_ARGS="--questions 3" for a quick check.
bench-speed: install
	$(BIN)/python bench/sweep_speed.py $(BENCH_ARGS)

# How a sweep scales out (issue 10): a hosted model (a real OpenAI-compatible stub on loopback, 0.3 s per call, through
# the real openai: provider) with workers = 1, 2, 4, 8 on 8 variants x 24 questions (results must be identical), the
# same sweep on a local Ray instance vs local, and the local Gemma 3 270M with 1 vs 2 workers; prints a table, the
# ratios against 1 worker and where the time goes. About 5 minutes on 2 quiet cores. BENCH_ARGS="--variants 4
# --questions 4 --workers 1,4 --no-ray --no-local" for a quick check.
bench-scaling: install
	$(BIN)/python bench/scaling.py $(BENCH_ARGS)

# What racing saves: 12 variants (3 prompts x 2 chunkers x k 3/1, weak ones on purpose) with the local Gemma 3 270M,
# run in full, with racing and with racing at tolerance 0.05, each from a cold cache; prints each sweep's generation
# calls, their ratio to the full sweep's and whether racing picks the same best variant (16 minutes on 2 cores).
# BENCH_ARGS="--questions 4 --min-questions 2 --batch 2" for a quick check (about 5 min).
bench-racing: install
	$(BIN)/python bench/racing.py $(BENCH_ARGS)

ui: install
	$(BIN)/workbench ui

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
