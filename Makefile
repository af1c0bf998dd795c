# Two commands do all the set-up on a fresh machine:
#   make run    start the service on its embedded defaults (http://127.0.0.1:8080)
#   make test   run the whole test suite (what .ci/run runs)
VENV   ?= .venv
PYTHON ?= python3
# One stamp per lock: `make run` installs only what the service needs (requirements.lock);
# `make test` adds the test tools (requirements-test.lock: pytest, playwright, schemathesis, ...).
RUN_STAMP  := $(VENV)/.installed-run-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
STAMP      := $(VENV)/.installed-test-$(shell cat pyproject.toml requirements-test.lock | cksum | cut -d' ' -f1)
PIP    := $(VENV)/bin/pip --disable-pip-version-check

.PHONY: run test test-fast install lock audit clean

# Dependencies come from the lock file, every file checked against its hash; then the
# project itself, without dependencies (all of them are in the lock). pip lists each package
# as it goes, so the first set-up (a few minutes) is not silent.
$(RUN_STAMP): pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the service's locked dependencies (first time: a minute or two)"
	$(PIP) install --progress-bar off --require-hashes -r requirements.lock
	$(PIP) install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-run-* && touch $(RUN_STAMP)

$(STAMP): pyproject.toml requirements-test.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked service and test dependencies (first time: two to three minutes)"
	$(PIP) install --progress-bar off --require-hashes -r requirements-test.lock
	$(PIP) install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-test-* && touch $(STAMP)

install: $(STAMP)

# Local demo: JWT checking is switched off (CDS_AUTH_DISABLED=true) so that curl
# works without a signed token; the console at / and /metrics are on; any page may
# call from a browser (CDS_CORS_ORIGINS=*) and a public page (the CDS Hooks sandbox)
# may call localhost (CDS_CORS_ALLOW_PRIVATE_NETWORK=true). The production defaults
# have all of these off. Never run a real deployment like this.
DEMO_ENV := CDS_AUTH_DISABLED=true CDS_DEMO_ENABLED=true CDS_CONSOLE_ENABLED=true CDS_METRICS_ENABLED=true \
	CDS_CORS_ORIGINS='*' CDS_CORS_ALLOW_PRIVATE_NETWORK=true

run: $(RUN_STAMP)
	$(DEMO_ENV) $(VENV)/bin/cds-service serve

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# Everything but the tests marked e2e (real gunicorn, Medplum, Chromium, load and fault tests:
# tests/conftest.py marks them): for the edit-test loop. `make test` stays the whole suite.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not e2e"

# Re-pin after a change of pyproject.toml: requirements.lock (the image) and
# requirements-test.lock (CI and developers), with the hashes of every file on PyPI.
lock:
	test -x $(VENV)/bin/uv || $(PIP) install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 \
	  --custom-compile-command "make lock" -q -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --generate-hashes --universal --python-version 3.11 \
	  --custom-compile-command "make lock" -q -o requirements-test.lock

# The locked versions against known vulnerabilities (docs/security.md, "Dependency audit").
audit: $(STAMP)
	$(VENV)/bin/python scripts/audit_dependencies.py

clean:
	rm -rf $(VENV) .pytest_cache
