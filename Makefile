# Two commands do all the set-up on a fresh machine:
#   make run    start the service on its embedded defaults (http://127.0.0.1:8080)
#   make test   run the whole test suite (what .ci/run runs)
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Local demo: JWT checking is switched off (CDS_AUTH_DISABLED=true) so that curl
# works without a signed token; the console at / and /metrics are on; any page may
# call from a browser (CDS_CORS_ORIGINS=*) and a public page (the CDS Hooks sandbox)
# may call localhost (CDS_CORS_ALLOW_PRIVATE_NETWORK=true). The production defaults
# have all of these off. Never run a real deployment like this.
DEMO_ENV := CDS_AUTH_DISABLED=true CDS_DEMO_ENABLED=true CDS_CONSOLE_ENABLED=true CDS_METRICS_ENABLED=true \
	CDS_CORS_ORIGINS='*' CDS_CORS_ALLOW_PRIVATE_NETWORK=true

run: $(STAMP)
	$(DEMO_ENV) $(VENV)/bin/cds-service serve

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
