# Deux commandes suffisent sur une machine neuve (Python 3.11) :
#   make app   installe puis lance l'application
#   make test  installe puis lance toute la suite de tests
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installe

.PHONY: install app test bench lint demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

app: $(STAMP)
	$(VENV)/bin/observatoire base initialiser
	$(VENV)/bin/streamlit run app.py --server.headless=true --browser.gatherUsageStats=false

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check observatoire tests benchmarks scripts app.py

clean:
	rm -rf $(VENV) build .pytest_cache
