# Model Commons — `make run` starts everything with a demo; `make test` runs ruff, mypy and pytest.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
# ONNX Runtime Web (package-lock.json pins it), served to the Segment page from /static/vendor/ort/ (no CDN):
# `npm ci` into node_modules/, then only the WebAssembly build's files are copied; both folders are gitignored.
ORT_DIR := api/web/static/vendor/ort
ORT_DIST := node_modules/onnxruntime-web/dist
ORT_FILES := ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm
ORT_STAMP := $(ORT_DIR)/.installed-$(shell cat package.json package-lock.json | sha256sum | cut -c1-16)

.PHONY: install run up test lint typecheck pytest bench bench-train fuzz clean

install: $(STAMP) $(ORT_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

$(ORT_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(ORT_DIR)
	mkdir -p $(ORT_DIR)
	cp $(addprefix $(ORT_DIST)/,$(ORT_FILES)) $(ORT_DIR)/
	touch $@

run: install
	$(BIN)/commons up --demo

up: install
	$(BIN)/commons up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest -p no:cacheprovider

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/sam_platform_vs_direct.py

bench-train: install
	$(BIN)/python bench/classifier_epoch.py

# Fuzz each harness in fuzz/ for FUZZ_SECONDS (atheris/libFuzzer), starting from the kept seeds in
# fuzz/corpus/<harness>/; new inputs and crash files go to FUZZ_WORK. Not part of `make test`, which replays
# the kept seeds only (tests/security/test_fuzz_corpus.py).
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?= zip_import weights configs images
FUZZ_WORK ?= $(or $(TMPDIR),/tmp)/commons-fuzz
fuzz: install
	@for harness in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_WORK)/$$harness/new $(FUZZ_WORK)/$$harness/crashes; \
		echo "fuzz $$harness for $(FUZZ_SECONDS) s (crash files: $(FUZZ_WORK)/$$harness/crashes/)"; \
		$(BIN)/python -m fuzz.fuzz_$$harness $(FUZZ_WORK)/$$harness/new fuzz/corpus/$$harness \
			-max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=3072 -max_len=65536 \
			-artifact_prefix=$(FUZZ_WORK)/$$harness/crashes/ -print_final_stats=1 || exit 1; \
	done

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache node_modules api/web/static/vendor
