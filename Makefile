# The only commands a newcomer needs: `make up` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/dist/index.html

.PHONY: install up test test-kafka e2e lint lint-frontend format frontend frontend-deps bench clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

FRONTEND_DEPS := frontend/node_modules/.package-lock.json

frontend: $(FRONTEND_STAMP)

# npm ci again whenever package-lock.json is newer than the installed tree (a new devDependency
# reaches every checkout, not only fresh clones).
frontend-deps: $(FRONTEND_DEPS)

$(FRONTEND_DEPS): $(wildcard frontend/package-lock.json)
	@if [ -f frontend/package-lock.json ]; then \
		cd frontend && npm ci --no-audit --no-fund && touch node_modules/.package-lock.json; \
	else echo "no frontend yet"; fi

$(FRONTEND_STAMP): $(FRONTEND_DEPS) $(shell find frontend/src frontend/index.html frontend/package.json -type f 2>/dev/null)
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm run build; \
	else echo "no frontend yet"; fi

up: install frontend
	$(VENV)/bin/kafkaml up

test: install frontend
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@$(MAKE) --no-print-directory lint-frontend
	cd backend && ../$(PY) manage.py check && ../$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-kafka
	@if [ -f frontend/package.json ]; then cd frontend && npm test; fi
	@$(MAKE) --no-print-directory e2e

# The broker matrix: every test that uses the `broker` fixture again on Apache Kafka 4.x (KRaft,
# resolved with Maven by .ci/install-kafka.sh); skipped with a notice without Java and Maven.
BROKER_SUITES ?= datasources control_logger model_training model_inference backend tests
test-kafka: install
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
		TEST_BROKER=apache-kafka TEST_BROKER_ONLY=1 $(VENV)/bin/pytest $(BROKER_SUITES) $(PYTEST_ARGS); \
	else echo "test-kafka: skipped (needs Java 17+ and Maven for Apache Kafka)"; fi

# The browser journey (log in → model → train → infer → live predictions) in headless
# Chromium; skipped with a notice where Debian's chromium is not installed
# (.ci/install-browser.sh installs it).
e2e: install frontend
	@if [ -x /usr/bin/chromium ] && [ -d frontend/node_modules/playwright-core ]; then \
		cd frontend && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm run e2e; \
	else echo "e2e: skipped (no /usr/bin/chromium; run .ci/install-browser.sh)"; fi

lint: install lint-frontend
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# ESLint (typescript-eslint, react-hooks) and `prettier --check` over frontend/.
lint-frontend: frontend-deps
	@if [ -f frontend/package.json ]; then cd frontend && npm run lint; fi

format: install frontend-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	@if [ -f frontend/package.json ]; then cd frontend && npm run format; fi

bench: install
	$(PY) bench/sink.py
	$(PY) bench/executor.py
	$(PY) bench/training.py
	$(PY) bench/inference.py --quick

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist .pytest_cache .ruff_cache
