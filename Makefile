# Quick start:  make demo   (set up everything, run the demo)
#               make test   (set up everything, run every test)
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 8000

.PHONY: demo serve test test-py test-web web bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pip install builds the web client (hatch build hook runs npm) when it is missing
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

web: $(STAMP)
	cd web && npm install --no-audit --no-fund && npm run build

demo: $(STAMP)
	$(BIN)/beamwatch demo --port $(PORT)

serve: $(STAMP)
	$(BIN)/beamwatch serve --port $(PORT)

test: $(STAMP)
	$(MAKE) test-web
	$(BIN)/python -m pytest -q -ra

test-py: $(STAMP)
	$(BIN)/python -m pytest -q -ra

test-web:
	@if [ -f web/package.json ]; then cd web && npm install --no-audit --no-fund >/dev/null && npx vitest run; fi

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) web/node_modules web/dist src/beamwatch/server/static
