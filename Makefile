# The two commands of the quick start: `make report` and `make test`.
# Each sets itself up on a fresh machine: a .venv with the project installed, and for the
# tests the Debian packages of the DNS test bed (nsd, unbound) when they are missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: report test lint format testbed-packages clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Audit domains.yaml (the demo tenant, served by the embedded DNS server) and write reports/.
# Failing checks are findings, not a failed build: exit codes above 1 (bad input, internal
# error, no tests) still fail.
report: $(STAMP)
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	echo "report: $(CURDIR)/reports/report.html (pytest exit $$rc)"

test: $(STAMP) testbed-packages lint
	$(BIN)/pytest -c selftests/pytest.ini selftests -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src selftests tests bench conftest.py
	$(BIN)/ruff format --check src selftests tests bench conftest.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src selftests tests bench conftest.py
	$(BIN)/ruff check --fix src selftests tests bench conftest.py

# NSD and Unbound for the realistic test bed (selftests/testbed.py), and Chromium.
testbed-packages:
	@if ! command -v nsd >/dev/null 2>&1 || ! command -v unbound >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nsd and unbound"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nsd unbound >/dev/null; \
	  else \
	    echo "nsd/unbound missing and cannot be installed here (need root and apt-get)" >&2; exit 1; \
	  fi; \
	fi
	@# Chromium renders report.html for selftests/test_report_browser.py (skipped without it).
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium missing and cannot be installed here: the browser selftest will be skipped" >&2; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json reports/*.svg reports/*.csv
