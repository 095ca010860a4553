# make run   set up .venv and execute every notebook from its .py source into build/ (+ HTML)
# make test  set up .venv and run every test: helper unit tests, notebook pairs, strict nbval
# make lab   open the notebooks in JupyterLab
# make sync  after editing notebooks/NN_topic.py: rewrite and re-execute its .ipynb twin
#            (all notebooks, or one: make sync NB=notebooks/03_training.py)
# make bench print the benchmark table, also written to build/benchmarks.json; runs in its own
#            .venv-bench, the pinned versions plus sae-lens (compared against, never a dependency)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_VENV := .venv-bench
SAE_LENS := sae-lens==6.54.12
NB ?= $(wildcard notebooks/[0-9]*.py)

.PHONY: install run test lab sync bench clean

install: $(VENV)/.installed

# constraints.txt pins the exact versions behind the stored outputs (torch 2.13.0, CPU build)
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements.txt -e '.[test]'
	touch $@

run: install
	$(BIN)/python tests/nbtools.py build $(NB)

test: install
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-current-env --nbval-cell-timeout=600 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

lab: install
	$(BIN)/jupyter lab notebooks

sync: install
	$(BIN)/python tests/nbtools.py sync $(NB)

$(BENCH_VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -c constraints.txt -r requirements.txt -e '.[test]' $(SAE_LENS)
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/run.py --json build/benchmarks.json

clean:
	rm -rf build
