# Every public target installs first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test dev lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/inventag demo

test: install
	$(BIN)/pytest -n 2 -q

dev: install
	$(BIN)/inventag dev

# A simulated organization (management account + two members through assume-role): one partition per
# account and day in the UI.
.PHONY: demo-accounts dev-accounts
demo-accounts: install
	$(BIN)/inventag demo --accounts 3

dev-accounts: install
	$(BIN)/inventag dev --accounts 3

lint: install
	$(BIN)/ruff check .

# Dagster's run, event-log and schedule storage on a throwaway PostgreSQL server (installed from Debian's
# packages when missing, started on 127.0.0.1 and removed afterwards), the data on S3 (moto).
.PHONY: test-postgres
PG_STAMP := $(VENV)/.installed-postgres

$(PG_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(PG_STAMP)

test-postgres: install $(PG_STAMP)
	scripts/with_postgres.sh $(BIN)/pytest -q -rs inventag_pipeline_tests/deploy

# The UI and the HTML reports in headless Chromium (installed from Debian's packages when missing): a demo
# history in .inventag/ui-check/state, `dagster dev` on a free port (always stopped), PNGs in .inventag/ui-check.
.PHONY: ui-check
ui-check: install
	$(BIN)/python scripts/ui_check.py

clean:
	rm -rf .inventag
