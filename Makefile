# Portico: `make run` to serve locally, `make test` to run the whole suite.
# Every target bootstraps .venv when it is missing and honours settings already
# in the environment (PORT, DATABASE_URL, MAIL_SERVER, …).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app app
PORT ?= 5000
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run admin serve test test-sqlite test-postgres lint fuzz bench audit clean

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
	APP_ENV=$${APP_ENV:-development} PORT=$(PORT) $(FLASK) run --host 127.0.0.1 --port $(PORT)

## admin: create (or reset) the admin account EMAIL for the `make run` site, asking for a password
admin: $(VENV)/.runtime
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=you@example.com"; exit 2; }
	APP_ENV=$${APP_ENV:-development} $(FLASK) db upgrade
	APP_ENV=$${APP_ENV:-development} $(FLASK) admin create "$(EMAIL)"

## serve: production settings under gunicorn (needs SECRET_KEY); builds static files and migrates first
serve: $(VENV)/.runtime
	$(PY) -m web.static_build
	APP_ENV=production $(FLASK) db upgrade
	APP_ENV=production PORT=$(PORT) $(VENV)/bin/gunicorn --config gunicorn.conf.py 'app:create_app()'

## test: lint, the whole suite on SQLite, then the database tests again on PostgreSQL (required in CI, skipped with a note elsewhere)
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory test-sqlite
	@if [ "$${CI:-}" = "true" ] || $(PY) -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(TEST_POSTGRES_URL))', connect_timeout=2).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL not reachable at $(TEST_POSTGRES_URL): skipped the PostgreSQL run (set TEST_POSTGRES_URL)."; \
	fi

# Parallel workers (pytest-xdist): TEST_WORKERS=auto is one per core; each worker has its own databases and ports.
TEST_WORKERS ?= auto

test-sqlite: $(VENV)/.dev test-tools
	$(PY) -m pytest -n $(TEST_WORKERS)

# The second pass re-runs only what touches the database (the `database` marker); the fuzzers' budget there is
# smaller, since what they find (form validation, escaping) does not depend on the database and the SQLite pass ran 200 a form.
test-postgres: $(VENV)/.dev
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} $(PY) -m pytest -n $(TEST_WORKERS) -m "database and not browser"

## test-tools: the Nu HTML Checker and Lighthouse from npm, exact versions from package-lock.json (needs npm; Java runs vnu)
test-tools:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory node_modules/.installed; \
	else \
		echo "npm not found: the HTML validity tests will skip (they are required in CI)."; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## audit: Lighthouse (mobile) on the main pages of a freshly seeded production-mode server; reports in reports/lighthouse/
audit: $(VENV)/.dev node_modules/.installed
	$(PY) tests/browser/audit.py

## bench: every benchmark in one run (installs wrk and nginx when missing; BENCH_DURATION=3s for a quick look)
bench: $(VENV)/.dev
	$(PY) -m bench

## fuzz: the form fuzzer with a large budget (FUZZ_EXAMPLES=2000 per form; CI runs 200 in `make test`)
fuzz: $(VENV)/.dev
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/web/test_fuzz_forms.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
