# make run   set up .venv and execute every notebook from its .py source into build/ (+ HTML)
# make test  set up .venv and run every test: helper unit tests, notebook pairs, strict nbval
# make lab   open the notebooks in JupyterLab
# make sync  after editing notebooks/NN_topic.py: rewrite and re-execute its .ipynb twin
#            (all notebooks, or one: make sync NB=notebooks/03_training.py)
# make bench print the benchmark table, also written to build/benchmarks.json

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
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
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

lab: install
	$(BIN)/jupyter lab notebooks

sync: install
	$(BIN)/python tests/nbtools.py sync $(NB)

bench: install
	$(BIN)/python benchmarks/run.py --json build/benchmarks.json

clean:
	rm -rf build
