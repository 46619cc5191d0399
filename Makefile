# cryosse: `make demo` sets everything up and curates the embedded demo archive;
# `make test` sets everything up and runs the linters and the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cryosse-installed
CORES ?= 2

.PHONY: core-install lock setup tools test-tools demo dataset test lint clean offline offline-mirror test-slurm

setup: $(STAMP) tools

# constraints.txt locks every package (direct and transitive) at the versions CI tests.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[pipeline,test]"
	touch $(STAMP)

# After changing a pin in pyproject.toml: install it without the old lock, then rewrite the lock
# from the venv.
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[pipeline,test]"
	@{ sed -n '1,3p' constraints.txt; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^cryosse' | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# mkdssp (DSSP 4.x) and mmseqs2: installed with apt-get when missing and we are root.
tools:
	@missing=""; \
	command -v mkdssp >/dev/null 2>&1 || missing="$$missing dssp"; \
	command -v mmseqs >/dev/null 2>&1 || missing="$$missing mmseqs2"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "cryosse needs:$$missing (mkdssp 4.x, mmseqs2). Install them with one of:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    echo "  conda install -c conda-forge -c bioconda dssp mmseqs2"; \
	    exit 1; \
	  fi; \
	fi; \
	mkdssp --version | grep -q 'version 4\.' || { echo "mkdssp 4.x required, found: $$(mkdssp --version)"; exit 1; }

demo: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml
	@echo
	@echo "Demo report: results/demo/report.html  (open it in a browser: tables, plots, splits, curation log)"
	@echo
	@echo "Demo outputs in results/demo/:"
	@echo "  results/demo/curation_log.tsv   every entry, model and chain: kept or excluded, with reason"
	@echo "  results/demo/manifest.tsv       one row per labelled sample"
	@echo "  results/demo/entries/EMD-*/samples/<sample>/{density,labels}.mrc, residues.tsv, sample.json"
	@echo "  results/demo/splits/{main,cv}.tsv, report.md   train/validation/test, CV folds, leakage check"
	@echo "  results/demo/training/best_runs.tsv   best run per loss (runs: training/<run>/)"
	@echo "  results/demo/tables/                  Table 1, Table 2, Wilcoxon tests, Table S1"
	@echo "  results/demo/shipped_model/           the shipped model on a test map: segmentation/, figure.png, scores.tsv"
	@echo "The report also shows the loss study's committed record (docs/benchmark/), marked as such."

# The data set alone (curation log, manifest, splits and their report), nothing trained:
# make dataset CONFIG=config/config.yaml (default: the demo archive).
CONFIG ?= config/demo.yaml
dataset: setup
	$(BIN)/snakemake dataset --cores $(CORES) --configfile $(CONFIG)
	@echo "data set in results/<run>/: curation_log.tsv, manifest.tsv, splits/{main,cv}.tsv, splits/report.md"

# The core alone, as `pip install cryosse` gives it (what `cryosse segment` needs: no Snakemake,
# no test stack), in a fresh venv; then it segments a demo map. Part of `make test`.
CORE_VENV := .venv-core
core-install:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/pip install --quiet -c constraints.txt .
	rm -rf build  # setuptools' staging copy of the package, not a source
	$(CORE_VENV)/bin/python tests/support/no_extras.py
	$(CORE_VENV)/bin/cryosse segment demo/mirror/emdb/structures/EMD-8518/map/emd_8518.map.gz \
	  --out $(CORE_VENV)/emd_8518_sse
	test -s $(CORE_VENV)/emd_8518_sse/emd_8518_labels.mrc
	@echo "core install: $$(du -sh $(CORE_VENV) | cut -f1) in $(CORE_VENV), segments a map"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rnE --include='*.py' '# fmt: (skip|off)' src tests benchmarks workflow_scripts demo \
	  || { echo "the formatter is switched off above: format the code instead"; exit 1; }
	$(BIN)/mypy  # [tool.mypy] in pyproject.toml: strict on core and io
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --configfile config/demo.yaml

# A headless browser for the test that looks at the HTML report (tests only, not the demo).
test-tools:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing: chromium (for the report screenshot test)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	    echo "chromium could not be installed: the report screenshot test will be skipped"; \
	  else \
	    echo "the report test needs chromium: sudo apt-get install -y chromium"; \
	  fi; }

test: lint test-tools core-install
	$(BIN)/pytest

# The README's SLURM recipe on the demo, through a real one-node SLURM cluster
# (tests/e2e/test_slurm.py, marker `slurm`): needs root; installs slurm-wlm and munge with apt-get
# when missing. CRYOSSE_REQUIRE_SLURM makes a missing prerequisite a failure, not a skip. Run
# by .ci/run after `make test`.
test-slurm: setup
	@if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing: slurm-wlm munge (for the SLURM test)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; \
	  else \
	    echo "the SLURM test needs root and: sudo apt-get install -y slurm-wlm munge"; exit 1; \
	  fi; \
	fi
	CRYOSSE_REQUIRE_SLURM=1 $(BIN)/pytest -m slurm tests/e2e/test_slurm.py

# Offline training data (README, "Simulated and derived maps"): simulated maps of the real
# structures, low-passed real high-resolution maps, the real medium-resolution pairs for
# evaluation; then the workflow on config/offline.yaml. OFFLINE_STRUCTURES=0 simulates all.
STRUCTURES ?= ../shared/structures
REALDATA ?= ../shared/realdata
OFFLINE_MIRROR := results/offline/mirror
OFFLINE_STRUCTURES ?= 0
offline-mirror: setup
	$(BIN)/cryosse offline-mirror --structures $(STRUCTURES) --realdata $(REALDATA) \
	  --mirror $(OFFLINE_MIRROR) --n-structures $(OFFLINE_STRUCTURES) --jobs $(CORES)

offline: offline-mirror
	$(BIN)/snakemake --cores $(CORES) --configfile config/offline.yaml

clean:
	rm -rf results .snakemake
