# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run dev test test-browser test-drills lint format check-migrations ci clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.x).")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# `make run` serves as production does (DEBUG off, gunicorn, WhiteNoise's compressed static files,
# the database pool), over plain HTTP on loopback, with emails printed to the terminal. Its secret
# key is made once per checkout (.secret-key) unless SECRET_KEY is set.
RUN_ENV = HTTPS=0 EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend} \
	SECRET_KEY="$${SECRET_KEY:-$$(cat .secret-key)}"

run: $(VENV)/.installed .secret-key
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) PORT=$(PORT) $(PY) manage.py runlocal

# For developers: DEBUG on and Django's development server, which reloads on code changes.
dev: $(VENV)/.installed
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 PORT=$(PORT) $(PY) manage.py runlocal --dev

.secret-key:
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

# Unit, integration and view tests. With no DATABASE_URL/REDIS_URL: SQLite and an embedded
# Redis of its own (.redis-test), so it never touches `make run`'s data.
test: $(VENV)/.installed
	EMBEDDED_REDIS_DIR=.redis-test $(PY) -m pytest -q -m "not browser and not drill" $(PYTEST_ARGS)

# Playwright driving Debian's chromium (/usr/bin/chromium); never a browser download.
test-browser: $(VENV)/.installed
	EMBEDDED_REDIS_DIR=.redis-test $(PY) -m pytest -q -m browser $(PYTEST_ARGS)

# Fault drills (tests/drills, docs/ARCHITECTURE.md): real workers, gunicorn, redis-server and the
# Twilio stub, killed and cut off. PostgreSQL only (DATABASE_URL=postgres://…; skipped otherwise);
# each drill starts a Redis of its own. DRILL_PORTS=8105-8110 keeps their servers in a range.
test-drills: $(VENV)/.installed
	EMBEDDED_REDIS_DIR=.redis-test $(PY) -m pytest -q -rs -m drill $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-migrations: $(VENV)/.installed
	DEBUG=1 EMBEDDED_REDIS_DIR=.redis-test $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .redis .redis-test db.sqlite3* staticfiles .secret-key
