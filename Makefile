# SolSentry: `make demo` and `make test` install whatever is missing, then run.
# Every install step is stamped, so a second run installs nothing.

PYTHON   ?= python3
VENV     := .venv
MYTH     := .venv-mythril
BIN      := $(VENV)/bin
# Compilers the demo, the tests and the SmartBugs evaluation need (solc-js, user cache): the newest
# of each minor series (the fallbacks an audit tries, docs/architecture.md "Choosing a version"),
# and the versions the fixture and field projects pin (0.5.16 Uniswap v2, 0.8.10 Aave v3,
# 0.8.15 solmate, 0.8.24 tests/fixtures/projects/hardhat-app, 0.7.6 .../pinned-hardhat).
SOLC_VERSIONS := 0.4.9 0.4.24 0.4.25 0.4.26 0.5.16 0.5.17 0.6.12 0.7.6 0.8.10 0.8.15 0.8.24 0.8.30 0.8.37
# Debian's chromium: the headless-browser test of the HTML report (tests/auditor/api/test_api_browser.py).
CHROMIUM := /usr/bin/chromium
APT_CHROMIUM := env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

export HARDHAT_DISABLE_TELEMETRY_PROMPT := true

.PHONY: all install demo test test-fast lint lock clean

all: install

install: $(VENV)/.installed $(MYTH)/.installed node_modules/.installed $(VENV)/.chromium
	@$(BIN)/solsentry solc install --quiet $(SOLC_VERSIONS)

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# Mythril pins eth-abi<5, hexbytes<0.3, py-evm 0.7.0a1...: it cannot live beside web3 7.
$(MYTH)/.installed: requirements-mythril.lock
	@test -x $(MYTH)/bin/python || $(PYTHON) -m venv $(MYTH)
	$(MYTH)/bin/python -m pip install -qq --disable-pip-version-check -r requirements-mythril.lock
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

# apt-get only when $(CHROMIUM) is missing: as root, else through sudo (apt-get update and a retry
# when the package lists are empty, as on a fresh container).
$(VENV)/.chromium:
	@mkdir -p $(@D)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else echo "error: $(CHROMIUM) is missing and installing it needs root or sudo;" \
	    "run as root: apt-get install -y --no-install-recommends chromium" >&2; exit 1; fi; \
	  command -v apt-get >/dev/null 2>&1 || { echo "error: $(CHROMIUM) is missing and there is no apt-get:" \
	    "install Debian's chromium package by hand" >&2; exit 1; }; \
	  echo "$${sudo:+sudo }apt-get install -y --no-install-recommends chromium"; \
	  $$sudo $(APT_CHROMIUM) || { $$sudo apt-get update -qq && $$sudo $(APT_CHROMIUM); } \
	    || { echo "error: could not install chromium with$${sudo:+ sudo} apt-get;" \
	      "run as root: apt-get install -y --no-install-recommends chromium" >&2; exit 1; }; \
	  test -x $(CHROMIUM) || { echo "error: apt-get installed chromium but $(CHROMIUM) is missing" >&2; exit 1; }; \
	fi
	@touch $@

# Audits the bundled examples with Slither and Mythril and prints the summary table
# (findings are expected there: --fail-on none keeps the exit code 0), then runs the whole
# oracle loop on a local chain (oracle/demo.py).
demo: install
	$(BIN)/solsentry audit examples --fail-on none --mythril-timeout 30
	./node_modules/.bin/hardhat compile --quiet
	$(BIN)/python -m oracle.demo examples/EtherBank.sol

test: install
	./node_modules/.bin/hardhat test
	$(BIN)/ruff check .
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-pin the Python environments after changing pyproject.toml (needs the registries).
lock:
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	(echo "# The main environment (.venv), fully pinned; regenerate with: make lock"; \
	 $(BIN)/pip freeze --all --exclude-editable | grep -v '^pip==' | sed 's/+cpu$$//') > requirements.lock

clean:
	rm -rf $(VENV) $(MYTH) node_modules artifacts cache .pytest_cache
