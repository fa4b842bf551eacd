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

# What the selftest tiers need: NSD and Unbound for the realistic test bed
# (selftests/testbed.py runs nsd, nsd-checkzone, unbound and unbound-control; Debian's nsd
# and unbound packages carry all four), Chromium for the browser test. Installed as root
# with apt-get. When they cannot be installed the tiers skip: allowed on a developer's
# machine, an error under CI=true (selftests/conftest.py fails such a skip too).
TIER_BINARIES := nsd nsd-checkzone unbound unbound-control chromium
SBIN_PATH := $(PATH):/usr/sbin:/sbin:/usr/local/sbin

testbed-packages:
	@missing=$$(for b in $(TIER_BINARIES); do PATH="$(SBIN_PATH)" command -v $$b >/dev/null 2>&1 || echo $$b; done | xargs); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing nsd unbound chromium (missing: $$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nsd unbound chromium >/dev/null; \
	  missing=$$(for b in $(TIER_BINARIES); do PATH="$(SBIN_PATH)" command -v $$b >/dev/null 2>&1 || echo $$b; done | xargs); \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$CI" = true ]; then \
	    echo "CI=true: $$missing missing and not installable here (need root and apt-get): the test-bed/browser tiers cannot run" >&2; exit 1; \
	  fi; \
	  echo "$$missing missing (need root and apt-get to install): the tiers needing them will be skipped" >&2; \
	fi

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json reports/*.svg reports/*.csv
