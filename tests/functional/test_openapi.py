"""openapi.yaml is a valid document and stays true to the running service."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from tests.support import openapi
from tests.support.builders import hook_request, service_request

FEEDBACK = {"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719", "outcome": "accepted",
                          "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                          "outcomeTimestamp": "2026-11-26T10:05:31Z"}]}

#: Requests covering every endpoint and documented status: (method, path, kwargs).
EXCHANGES = [
    ("GET", "/cds-services", {}),
    ("GET", "/healthz", {}),
    ("POST", "/cds-services/spine-order-select", {"json_body": hook_request("order-select")}),
    ("POST", "/cds-services/spine-order-sign", {"json_body": hook_request("order-sign")}),
    ("POST", "/cds-services/spine-order-sign",
     {"json_body": hook_request("order-sign", orders=[service_request(cpt="80061", display="Lipid panel")])}),
    ("POST", "/cds-services/spine-order-sign", {"json_body": hook_request("order-sign", prefetch={})}),
    ("POST", "/cds-services/spine-order-sign", {"json_body": hook_request("order-select")}),
    ("POST", "/cds-services/spine-order-sign", {"data": "{", "content_type": "application/json"}),
    ("POST", "/cds-services/spine-order-sign", {"data": "x", "content_type": "text/plain"}),
    ("POST", "/cds-services/no-such-service", {"json_body": hook_request("order-sign")}),
    ("GET", "/cds-services/spine-order-sign", {}),
    ("POST", "/cds-services/spine-order-sign/feedback", {"json_body": FEEDBACK}),
    ("POST", "/cds-services/spine-order-sign/feedback", {"json_body": {"feedback": []}}),
    ("POST", "/cds-services/spine-order-sign/feedback", {"data": "x", "content_type": "text/plain"}),
    ("POST", "/cds-services/no-such-service/feedback", {"json_body": FEEDBACK}),
    # The patient explainer the EMG/NCS cards link to (HTML, no JWT), and an unknown page.
    ("GET", "/patient/emg-ncs", {}),
    ("GET", "/patient/no-such-page", {}),
    ("POST", "/patient/emg-ncs", {"json_body": {}}),
]


def test_openapi_document_is_valid():
    validate(openapi.spec())


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"}
    documented = {re.sub(r"\{\w+\}", "{serviceId}", p) for p in openapi.spec()["paths"]}
    routes = {re.sub(r"\{\w+\}", "{serviceId}", r) for r in routes}
    assert routes == documented


@pytest.mark.parametrize("method,path,kwargs", EXCHANGES, ids=[f"{m} {p} #{i}" for i, (m, p, _) in enumerate(EXCHANGES)])
def test_live_responses_match_openapi(http, method, path, kwargs):
    reply = http.send(method, path, **kwargs)
    content_type = reply.headers.get("content-type", "")
    body = reply.text if content_type.startswith("text/") else reply.body  # the explainer page is HTML
    openapi.validate_response(method, path, reply.status, body, content_type)


def test_an_undeclared_status_is_caught():
    # The checker itself must fail on a status the spec does not declare.
    with pytest.raises(AssertionError):
        openapi.validate_response("GET", "/healthz", 418, {}, "application/json")
    with pytest.raises(AssertionError):
        openapi.validate_response("POST", "/cds-services/x", 200, {"cards": [{"summary": "no uuid"}]},
                                  "application/json")
