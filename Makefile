# gil — all set-up happens here; a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Every version `make setup` installs, torch's CPU wheel included (`make lock` regenerates it).
LOCK   := requirements.lock
TORCH_PIN ?= torch==2.13.0+cpu
# GPU users: install your own torch into .venv first, then `make setup KEEP_TORCH=1` (README, "GPU users").
KEEP_TORCH ?=
# `make kernel`'s name: one per checkout (a hash of its path), so a kernel never runs another checkout's .venv
KERNEL := gil-$(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
PRESET ?= small
DATA   := data/syngait-$(PRESET)
VALIDATION := $(DATA)-val
WORKERS ?= 2
# where `make lock` finds the CPU torch wheel: this machine's pip find-links, else the PyTorch CPU index
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
TORCH_INDEX ?= $(if $(FIND_LINKS),--find-links $(FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)

.PHONY: setup kernel lab lock data validation-data second-twin test test-all book bench lint select study clean help

help:
	@echo "make book   - set up, generate the embedded data, execute the notebooks, build the book"
	@echo "make test   - set up and run the test suite"
	@echo "make test-all - make test, then every benchmark harness in quick mode"
	@echo "make lab    - JupyterLab of this checkout's .venv on notebooks/ (kernel: Python 3 of .venv)"
	@echo "make data | lock | bench | lint | select | study | clean"

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "$(LOCK) is for Python 3.11; run make with PYTHON=python3.11 (or make lock for your Python)")'
	$(PYTHON) -m venv $(if $(KEEP_TORCH),,--clear) $(VENV)
	$(if $(KEEP_TORCH),grep -v '^torch==' $(LOCK) > $(VENV)/lock-without-torch.txt)
	$(PY) -m pip install -q --no-deps -r $(if $(KEEP_TORCH),$(VENV)/lock-without-torch.txt,$(LOCK))
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

# optional: this checkout's .venv as a kernel of your own JupyterLab or VS Code, named for this checkout only
# (`make lab` and papermill need none: the notebooks name `python3`, the Python of the Jupyter that runs them)
kernel:
	$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "Python 3 (gil: $(CURDIR))"

# JupyterLab of this .venv; JUPYTER_PATH puts the .venv's own `python3` kernel before any registered for the user.
# JupyterLab refuses to run as root unless told (containers often are root)
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab: setup
	JUPYTER_PATH="$(abspath $(VENV))/share/jupyter" $(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

# regenerate the lock from pyproject.toml's dependencies and extras, for Python 3.11 and the CPU torch pin
lock:
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q uv; }
	echo "$(TORCH_PIN)" | $(VENV)/bin/uv pip compile pyproject.toml - --extra book --extra dev \
		--python-version 3.11 $(TORCH_INDEX) --no-header --quiet -o $(LOCK).tmp
	( echo "# Every version \`make setup\` installs (Python 3.11, Linux x86-64, CPU torch). Regenerate: make lock"; \
	  echo "# (uv pip compile pyproject.toml --extra book --extra dev, plus $(TORCH_PIN))."; cat $(LOCK).tmp ) > $(LOCK)
	rm -f $(LOCK).tmp

# always asked: a no-op when $(DATA) holds this preset already, a clear error when it holds an older one
data: setup
	$(PY) -m gil data generate --preset $(PRESET) --out $(DATA) --workers $(WORKERS)

# the validation twin: the same preset with seed 1, i.e. other people; GIL's choices are made on it (gil select)
validation-data: setup
	$(PY) -m gil data generate --preset $(PRESET) --seed 1 --out $(VALIDATION) --workers $(WORKERS)

test: setup
	$(PY) -m pytest -n 2

# make test, then the benchmarks' quick mode: their own checks, without appending to RESULTS.md (make bench does)
test-all: test
	$(PY) -m gil bench --quick

# quick mode of every harness (about 7 min on 2 idle cores); appends bench_pipeline's ratio table to RESULTS.md
bench: setup
	$(PY) -m gil bench --quick --write benchmarks/RESULTS.md

lint: setup
	$(PY) -m ruff check gil tests benchmarks notebooks
	$(PY) -m ruff format --check gil tests benchmarks

book: setup data
	$(PY) -m gil book --data $(DATA)

# GIL's default margin form chosen on the validation identities: backbone x candidate x seed (hours on CPU)
select: setup data validation-data
	$(PY) -m gil select --data $(DATA) --validation-data $(VALIDATION) --out results/study

# the study (results/study): triplet, GIL margin (the default), GIL softmax and the first reconstruction on three
# backbones x 3 seeds (the triplet and margin cells reuse the selection's runs), then on GaitGL the term ablations
# and the authors' recipes
STUDY_BACKBONES := --backbone gaitset --backbone gaitpart --backbone gaitgl
STUDY_VARIANTS := --variant triplet --variant gil_margin --variant gil_softmax --variant gil_margin_first
ABLATIONS := --variant gil_margin_first-no_pair_weights --variant gil_margin_first-fixed_margin \
	--variant gil_margin-no_uniformity --variant authors_triplet --variant authors_pr

# the power plan (issue #27, results/study/README.md): the three backbones' triplet and GIL forms on seeds 3-7;
# GaitBase (joined later) has its default checked on the validation identities (seeds 0-2, the selection's), then
# the same variants on seeds 0-7; the noise split scores every seed's checkpoints on a second twin (the same preset,
# seed 2: other people)
POWER_BACKBONES := --backbone gaitset --backbone gaitpart --backbone gaitgl
POWER_VARIANTS := --variant triplet --variant gil_margin --variant gil_softmax
POWER_SEEDS := --seed 3 --seed 4 --seed 5 --seed 6 --seed 7
ALL_SEEDS := --seed 0 --seed 1 --seed 2 $(POWER_SEEDS)
SECOND_TWIN := $(DATA)-seed2
# step 3, set by the split on eight seeds: triplet and GIL softmax on more seeds where the softmax form's interval
# is wider than +-2 (GaitSet to 17 seeds, GaitPart to 32, GaitGL to 10); GaitBase's CL needs both forms on 10 seeds;
# then steps of four seeds while an achieved half-width stays above 2 (GaitSet's NM and BG at 17: seeds 17-20)
STEP3_VARIANTS := --variant triplet --variant gil_softmax
seeds = $(foreach s,$(shell seq $(1) $(2)),--seed $(s))

second-twin: setup
	$(PY) -m gil data generate --preset $(PRESET) --seed 2 --out $(SECOND_TWIN) --workers $(WORKERS)

study: setup data select second-twin
	$(PY) -m gil study --data $(DATA) --out results/study $(STUDY_BACKBONES) $(STUDY_VARIANTS)
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitgl $(ABLATIONS)
	$(PY) -m gil calibrate --data $(DATA) --out results/study
	$(PY) -m gil curves --data $(DATA) --out results/study
	$(PY) -m gil study --data $(DATA) --out results/study $(POWER_BACKBONES) $(POWER_VARIANTS) $(POWER_SEEDS)
	$(PY) -m gil select --data $(DATA) --validation-data $(VALIDATION) --out results/study --backbone gaitbase \
		--candidate triplet --candidate lambda_0.01
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitbase $(POWER_VARIANTS) $(ALL_SEEDS)
	$(PY) -m gil noise --data $(DATA) --twin $(SECOND_TWIN) --out results/study $(POWER_BACKBONES) --backbone gaitbase \
		$(ALL_SEEDS)
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitset $(STEP3_VARIANTS) $(call seeds,8,20)
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitpart $(STEP3_VARIANTS) $(call seeds,8,31)
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitgl $(STEP3_VARIANTS) $(call seeds,8,9)
	$(PY) -m gil study --data $(DATA) --out results/study --backbone gaitbase $(POWER_VARIANTS) $(call seeds,8,9)

clean:
	rm -rf $(VENV) book/_build book/notebooks
