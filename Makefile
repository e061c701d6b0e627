# One entry point for people and CI: `make run`, `make test`, `make lint`, `make bench`.
# Every target sets up what it needs on a fresh machine, so none has to be run first.

PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
# PostgreSQL and Redis for run-cluster, and for test-cluster (whose test database pytest-django
# makes next to TEST_DATABASE_URL's, test_fusionroom; Redis database 15 is the tests', emptied).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fusionroom
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fusionroom
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
CLUSTER_ENV = DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)"

.PHONY: venv runtime run run-cluster test test-fast test-cluster lint fmt bench check-python check-deploy screenshots clean

# What is installed follows pyproject.toml: serving needs its dependencies (the runtime stamp);
# the tests, linters, benchmarks and screenshots need the dev extra as well (the dev stamp). The
# project itself is not installed: it runs from this checkout (scripts/dependencies.py says why).
$(BIN)/python:
	@test -n "$(PYTHON)" || { scripts/find-python; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python scripts/dependencies.py > $(VENV)/requirements-runtime.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-runtime.txt
	@touch $@

$(BIN)/.dev: pyproject.toml $(BIN)/.runtime
	$(BIN)/python scripts/dependencies.py dev > $(VENV)/requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-dev.txt
	@touch $@

# Everything, for working on FusionRoom; `make run` needs only runtime.
venv: $(BIN)/.dev
runtime: $(BIN)/.runtime

# Says where to open it (fusionroom/serve.py), then serves.
run: runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py check
	$(BIN)/python -m fusionroom.serve -b $(HOST) -p $(PORT) fusionroom.asgi:application

# Two web processes, two run workers and a round-robin load balancer on PORT, on PostgreSQL and
# Redis (DATABASE_URL, REDIS_URL; the database is created if missing). See docs/deploy.md.
run-cluster: runtime
	DATABASE_URL="$(DATABASE_URL)" REDIS_URL="$(REDIS_URL)" \
	$(BIN)/python scripts/cluster.py run --host $(HOST) --port $(PORT)

# Two runs: Playwright's sync API keeps an event loop running in the main thread for the
# whole session, which would stop the asyncio tests from running theirs.
test: venv
	@scripts/check-chromium $(CHROMIUM)
	$(BIN)/python -m pytest -m "not e2e and not cluster" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-cluster

# Everything but the browser tests, for a quick loop while coding.
test-fast: venv
	$(BIN)/python -m pytest -m "not e2e and not cluster" $(PYTEST_ARGS)

# The whole suite again on PostgreSQL and Redis, with tests/cluster's web processes and run
# workers. Without the two servers it says so and passes, except in CI (CI=true), where it fails.
test-cluster: venv
	@if $(BIN)/python scripts/cluster.py check --flush-redis \
		--database-url "$(TEST_DATABASE_URL)" --redis-url "$(TEST_REDIS_URL)"; then \
		$(CLUSTER_ENV) $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS) && \
		$(CLUSTER_ENV) $(BIN)/python -m pytest -m e2e $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "CI: the cluster suite needs PostgreSQL and Redis (above); failing."; exit 1; \
	else \
		echo "Cluster suite SKIPPED: PostgreSQL and Redis do not both answer (above)."; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Django's deployment checks on the production settings (DJANGO_DEBUG=0), with throwaway secrets:
# see SECURITY.md for what a real deployment sets.
check-deploy: runtime
	DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS=fusionroom.example \
	DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	FUSIONROOM_ENCRYPTION_KEYS="$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

screenshots: venv
	@scripts/check-chromium $(CHROMIUM)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
