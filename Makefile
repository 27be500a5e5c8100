# Model Commons — `make run` starts everything with a demo; `make test` runs ruff, mypy and pytest.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: install run up test lint typecheck pytest bench bench-train fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
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
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
