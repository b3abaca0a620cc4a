# gil — all set-up happens here; a fresh clone needs only Python >= 3.10 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The CPU wheel that installs on our machines; GPU users: see README ("GPU users").
TORCH_PIN ?= torch==2.13.0
PRESET ?= small
DATA   := data/syngait-$(PRESET)
WORKERS ?= 2

.PHONY: setup data test book bench lint study clean help

help:
	@echo "make book   - set up, generate the embedded data, execute the notebooks, build the book"
	@echo "make test   - set up and run the test suite"
	@echo "make data | bench | lint | study | clean"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[book,dev]"
	touch $(STAMP)

setup: $(STAMP)

# always asked: a no-op when $(DATA) holds this preset already, a clear error when it holds an older one
data: setup
	$(PY) -m gil data generate --preset $(PRESET) --out $(DATA) --workers $(WORKERS)

test: setup
	$(PY) -m pytest -n 2

# quick mode of every harness (about 7 min on 2 idle cores); appends bench_pipeline's ratio table to RESULTS.md
bench: setup
	$(PY) -m gil bench --quick --write benchmarks/RESULTS.md

lint: setup
	$(PY) -m ruff check gil tests benchmarks notebooks
	$(PY) -m ruff format --check gil tests benchmarks

book: setup data
	$(PY) -m gil book --data $(DATA)

study: setup data
	$(PY) -m gil study --data $(DATA) --out results/study
	$(PY) -m gil calibrate --data $(DATA) --out results/study

clean:
	rm -rf $(VENV) book/_build book/notebooks
