# Model Commons — `make run` starts everything with a demo; `make test` runs ruff, mypy and pytest.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: install run up test lint typecheck pytest bench bench-train clean

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

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest -p no:cacheprovider

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/sam_platform_vs_direct.py

bench-train: install
	$(BIN)/python bench/classifier_epoch.py

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
