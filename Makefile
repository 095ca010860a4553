# make run   set up .venv and execute every notebook from its .py source into build/ (+ HTML)
# make test  set up .venv and run every test: helper unit tests, notebook pairs, strict nbval
#            (lax, with the reason, where the stored digits cannot hold: tools/numeric.env)
# make test-kernels  strict nbval of every notebook again on one core, MKL allowed no more than AVX2:
#            the stored digits must not depend on them (fails where strict digits cannot hold)
# make lab   open the notebooks in JupyterLab
# make sync  after editing notebooks/NN_topic.py: rewrite and re-execute its .ipynb twin
#            (all notebooks, or one: make sync NB=notebooks/03_training.py)
# make site  build the course as a static site in build/site (open build/site/index.html) from the
#            stored notebooks, nothing re-executed: the learning path, every notebook, the glossary
# make browser-test  run every notebook in JupyterLab in headless chromium, and open every page
#            of the site there (tests/browser)
# make colab-test    run every notebook and the unit tests with Colab's package versions (.venv-colab);
#                    the claims across seeds (tests/test_claims_*) and the site are make test's, under the pins
# make model rebuild notebook 08's corpus and retrain its character model (about 40 minutes on
#            2 cores; both are committed, so the notebooks never need this)
# make saes retrain the SAEs shipped for notebook 08 (4 widths, TopK with the standard recipe, on
#            every training position; about 20 minutes on 2 cores; committed, like the model)
# make bench print the benchmark table, also written to build/benchmarks.json; runs in its own
#            .venv-bench, the pinned versions plus sae-lens (compared against, never a dependency)
# make saelens-test  check in .venv-bench that sae-lens loads the shipped SAEs as load_sae does

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_VENV := .venv-bench
COLAB_VENV := .venv-colab
CHROMIUM ?= /usr/bin/chromium
SAE_LENS := sae-lens==6.54.12
NB ?= $(wildcard notebooks/[0-9]*.py)

NBVAL = $(BIN)/python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=600 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg

model: install
	$(BIN)/python -m tools.make_model corpus
	$(BIN)/python -m tools.make_model train

saes: install
	$(BIN)/python -m tools.make_model saes

.PHONY: install model saes saelens-test run site test test-kernels browser-test colab-test lab sync bench clean

install: $(VENV)/.installed

# constraints.txt pins the exact versions behind the stored outputs (torch 2.13.0, CPU build)
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements.txt -e '.[test,site]'
	touch $@

run: install
	$(BIN)/python -m tools.nbtools build $(NB)

site: install
	$(BIN)/python -m tools.site

test: install
	$(NBVAL) tests notebooks --ignore=tests/browser

# on top of tools/numeric.env, which pytest sets: one core, and MKL allowed no instructions past
# AVX2 (with the pinned branch it must not matter; the other libraries' paths are pinned outright)
test-kernels: install
	env STRICT_DIGITS=required MKL_ENABLE_INSTRUCTIONS=AVX2 taskset --cpu-list 0 $(NBVAL) -q notebooks

browser-test: install
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM) || { echo "browser-test needs a chromium at $(CHROMIUM):" \
		"install Debian's package (sudo apt-get install chromium) or set CHROMIUM=/path/to/it"; exit 1; }
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/browser

$(COLAB_VENV)/.installed: tests/colab-versions.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q -c tests/colab-versions.txt -e '.[test]'
	touch $@

colab-test: $(COLAB_VENV)/.installed
	$(COLAB_VENV)/bin/python -m pip list 2>/dev/null | grep -E "^(ipywidgets|numpy|matplotlib|torch) "
	$(COLAB_VENV)/bin/python -m tools.nbtools check $(NB)
	$(COLAB_VENV)/bin/python -m pytest tests --ignore=tests/browser --ignore-glob='tests/test_claims_*' \
		--ignore=tests/test_site.py

lab: install
	$(BIN)/jupyter lab notebooks

sync: install
	$(BIN)/python -m tools.nbtools sync $(NB)

$(BENCH_VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -c constraints.txt -r requirements.txt -e '.[test]' $(SAE_LENS)
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks.run --json build/benchmarks.json

saelens-test: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m pytest -q tests/test_shipped_saes.py

clean:
	rm -rf build
