# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
export PAYSTEAD_DATABASE_URL ?= sqlite+aiosqlite:///./paystead.db

.PHONY: run test install install-dev lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@# The dashboard test drives Debian's Chromium (a browser download is not possible here).
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate the SQLite file, print a demo API key, serve on :8000
## with live demo traffic (paystead simulate, 2 payments/s for up to 24 h)
run: export PAYSTEAD_SELLER_GSTIN ?= 29AAACP1234A1Z1
run: export PAYSTEAD_SELLER_NAME ?= Paystead Demo Pvt Ltd
run: export PAYSTEAD_SELLER_ADDRESS ?= 1 MG Road, Bengaluru 560001, Karnataka
run: install
	$(BIN)/paystead migrate
	@KEY=$$($(BIN)/paystead apikey create --name demo 2>/dev/null); \
	echo "Demo API key (shown once): $$KEY"; \
	echo "Dashboard http://127.0.0.1:8000/   API http://127.0.0.1:8000/v1   docs http://127.0.0.1:8000/docs"; \
	PAYSTEAD_LOG_LEVEL=warning $(BIN)/paystead simulate --api-key "$$KEY" --rate 2 --duration 86400 --wait >/dev/null & \
	SIM=$$!; trap 'kill $$SIM 2>/dev/null' EXIT INT TERM; \
	$(BIN)/paystead serve --host 127.0.0.1 --port 8000

## make test: install dev dependencies, lint, type-check, run every test
test: install-dev lint typecheck
	$(BIN)/pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest tests/unit

bench: install-dev
	bash bench/run.sh

clean:
	rm -rf $(VENV) paystead.db paystead.db-* .pytest_cache .mypy_cache .ruff_cache
