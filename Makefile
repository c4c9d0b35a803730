# The two commands in the README: `make serve` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= signpost.db
PORT ?= 8001

.PHONY: help serve build validate test check bench clean

help:
	@echo "make serve   build the directory from data/ and serve it at http://127.0.0.1:$(PORT)"
	@echo "make test    set up and run the whole test suite"
	@echo "make check   check every organization's website now (writes to $(DB))"
	@echo "make bench   run the checker benchmark against a simulated web"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/signpost build --db $(DB)

validate: $(STAMP)
	$(BIN)/signpost validate

serve: build
	$(BIN)/signpost serve --db $(DB) --port $(PORT)

check: $(STAMP)
	$(BIN)/signpost check --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_checker.py

clean:
	rm -rf $(VENV) $(DB) $(DB)-wal $(DB)-shm
