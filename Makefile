# Portico: `make run` to serve locally, `make test` to run the whole suite.
# Every target bootstraps .venv when it is missing and honours settings already
# in the environment (PORT, DATABASE_URL, MAIL_SERVER, …).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app app
PORT ?= 5000
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run serve test test-sqlite test-postgres lint fuzz bench audit clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: migrate, seed (with demo sessions) and serve on http://127.0.0.1:$(PORT) (SQLite, mail to instance/mail/)
run: $(VENV)/.runtime
	APP_ENV=$${APP_ENV:-development} $(FLASK) db upgrade
	APP_ENV=$${APP_ENV:-development} $(FLASK) seed --demo
	APP_ENV=$${APP_ENV:-development} $(FLASK) run --host 127.0.0.1 --port $(PORT)

## serve: production settings under gunicorn (needs SECRET_KEY); builds static files and migrates first
serve: $(VENV)/.runtime
	$(PY) assets.py
	APP_ENV=production $(FLASK) db upgrade
	APP_ENV=production PORT=$(PORT) $(VENV)/bin/gunicorn --config gunicorn.conf.py 'app:create_app()'

## test: the whole suite on SQLite, then again on PostgreSQL (required in CI, skipped with a note elsewhere)
test: $(VENV)/.dev
	$(MAKE) --no-print-directory test-sqlite
	@if [ "$${CI:-}" = "true" ] || $(PY) -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(TEST_POSTGRES_URL))', connect_timeout=2).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL not reachable at $(TEST_POSTGRES_URL): skipped the PostgreSQL run (set TEST_POSTGRES_URL)."; \
	fi

test-sqlite: $(VENV)/.dev
	$(PY) -m pytest

test-postgres: $(VENV)/.dev
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest -m "not browser"

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
