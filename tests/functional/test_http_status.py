"""Every status code the service documents, through Flask and through gunicorn."""

from __future__ import annotations

import copy

import pytest

from cds_service.protocol import CardResponseSchema
from tests.functional.conftest import BODY_LIMIT
from tests.support.builders import acute_back_pain_prefetch, hook_request, service_id, service_request


def _without(body: dict, dotted: str) -> dict:
    body = copy.deepcopy(body)
    *parents, leaf = dotted.split(".")
    target = body
    for p in parents:
        target = target[p]
    del target[leaf]
    return body


def _with(body: dict, dotted: str, value) -> dict:
    body = copy.deepcopy(body)
    *parents, leaf = dotted.split(".")
    target = body
    for p in parents:
        target = target[p]
    target[leaf] = value
    return body


def assert_error(reply, status: int, field: str | None = None) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.body["status"] == status
    assert reply.body["operationOutcome"]["resourceType"] == "OperationOutcome"
    assert "Traceback" not in reply.text and 'File "' not in reply.text
    if field:
        assert field in reply.body["errors"], reply.body


SELECT = hook_request("order-select")
SIGN = hook_request("order-sign")
AUTH = {"access_token": "tok", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "cds"}

INVALID_CASES = [
    # (name, hook, body, field named in the errors)
    ("wrong hook", "order-select", _with(SELECT, "hook", "order-sign"), "hook"),
    ("unknown hook", "order-sign", _with(SIGN, "hook", "patient-view"), "hook"),
    ("no hook", "order-select", _without(SELECT, "hook"), "hook"),
    ("no hookInstance", "order-select", _without(SELECT, "hookInstance"), "hookInstance"),
    ("hookInstance not a uuid", "order-select", _with(SELECT, "hookInstance", "abc"), "hookInstance"),
    ("no context", "order-select", _without(SELECT, "context"), "context"),
    ("context not an object", "order-sign", _with(SIGN, "context", ["x"]), "context"),
    ("no userId", "order-select", _without(SELECT, "context.userId"), "context.userId"),
    ("no patientId", "order-sign", _without(SIGN, "context.patientId"), "context.patientId"),
    ("patientId with a query", "order-sign", _with(SIGN, "context.patientId", "1&_id=2"), "context.patientId"),
    ("no selections on order-select", "order-select", _without(SELECT, "context.selections"), "context.selections"),
    ("empty selections", "order-select", _with(SELECT, "context.selections", []), "context.selections"),
    ("selection not a reference", "order-select", _with(SELECT, "context.selections", ["x"]), "context.selections"),
    ("no draftOrders", "order-sign", _without(SIGN, "context.draftOrders"), "context.draftOrders"),
    ("draftOrders not a Bundle", "order-sign",
     _with(SIGN, "context.draftOrders", {"resourceType": "ServiceRequest"}), "context.draftOrders"),
    ("draftOrders a list", "order-select", _with(SELECT, "context.draftOrders", []), "context.draftOrders"),
    ("fhirServer not a URL", "order-sign", _with(SIGN, "fhirServer", "not a url"), "fhirServer"),
    ("fhirAuthorization without fhirServer", "order-sign", _with(SIGN, "fhirAuthorization", AUTH), "fhirServer"),
    ("fhirAuthorization missing scope", "order-sign",
     _with(_with(SIGN, "fhirServer", "https://ehr.example.org/fhir"), "fhirAuthorization",
           {k: v for k, v in AUTH.items() if k != "scope"}), "fhirAuthorization"),
    ("token_type not Bearer", "order-sign",
     _with(_with(SIGN, "fhirServer", "https://ehr.example.org/fhir"), "fhirAuthorization",
           {**AUTH, "token_type": "MAC"}), "fhirAuthorization"),
    ("prefetch value not a resource", "order-sign", _with(SIGN, "prefetch", {"conditions": [1, 2]}), "prefetch"),
    ("body is a list", "order-sign", [SIGN], "_body"),
]


@pytest.mark.parametrize("name,hook,body,field", INVALID_CASES, ids=[c[0] for c in INVALID_CASES])
def test_invalid_request_is_400_with_the_field(http, name, hook, body, field):
    reply = http.send("POST", f"/cds-services/{service_id(hook)}", json_body=body)
    assert_error(reply, 400, field)


@pytest.mark.parametrize("raw", ["{", '{"hook": }', "[1,", "\x00"], ids=["open brace", "no value", "open list", "nul"])
def test_malformed_json_is_400(http, raw):
    reply = http.send("POST", "/cds-services/spine-order-select", data=raw, content_type="application/json")
    assert_error(reply, 400, "_body")


def test_empty_body_is_400(http):
    reply = http.send("POST", "/cds-services/spine-order-sign", data=b"", content_type="application/json")
    assert_error(reply, 400, "_body")


def test_deeply_nested_json_is_400_not_500(http):
    raw = "[" * 100_000 + "]" * 100_000
    reply = http.send("POST", "/cds-services/spine-order-sign", data=raw, content_type="application/json")
    assert reply.status in (400, 413)  # under the body limit: 400 from the parser guard
    assert_error(reply, reply.status)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_non_json_body_is_415(http, content_type):
    reply = http.send("POST", "/cds-services/spine-order-select", data="{}", content_type=content_type)
    assert_error(reply, 415)


def test_missing_content_type_is_415(http):
    reply = http.send("POST", "/cds-services/spine-order-select", data=b"{}")
    assert_error(reply, 415)


def test_fhir_json_content_type_is_accepted(http):
    reply = http.send("POST", "/cds-services/spine-order-sign", json_body=SIGN, content_type="application/fhir+json")
    assert reply.status == 200, reply.text


def test_body_over_the_limit_is_413(http):
    body = hook_request("order-sign", orders=[service_request(note=[{"text": "x" * BODY_LIMIT}])])
    reply = http.send("POST", "/cds-services/spine-order-sign", json_body=body)
    assert_error(reply, 413)


@pytest.mark.parametrize("path", ["/cds-services/unknown-service", "/cds-services/unknown/feedback", "/nothing"])
def test_unknown_path_is_404(http, path):
    reply = http.send("POST", path, json_body=SIGN)
    assert_error(reply, 404)


@pytest.mark.parametrize("method,path", [
    ("GET", "/cds-services/spine-order-select"),
    ("PUT", "/cds-services/spine-order-select"),
    ("DELETE", "/cds-services"),
    ("POST", "/cds-services"),
    ("GET", "/cds-services/spine-order-select/feedback"),
])
def test_wrong_method_is_405_with_allow(http, method, path):
    reply = http.send(method, path)
    assert_error(reply, 405)
    assert "POST" in reply.headers["allow"] or "GET" in reply.headers["allow"]


def test_missing_essential_data_is_412(http):
    # The conditions key is essential; without prefetch or a usable FHIR server: 412.
    body = hook_request("order-sign", prefetch={})
    reply = http.send("POST", "/cds-services/spine-order-sign", json_body=body)
    assert_error(reply, 412)
    assert "conditions" in reply.body["error"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_valid_call_is_200_with_valid_cards(http, hook):
    body = hook_request(hook, prefetch=acute_back_pain_prefetch())
    reply = http.send("POST", f"/cds-services/{service_id(hook)}", json_body=body)
    assert reply.status == 200, reply.text
    assert CardResponseSchema().validate(reply.body) == {}
    assert [c["source"]["topic"]["code"] for c in reply.body["cards"]] == ["lbp-imaging-premature"]


def test_valid_call_with_nothing_to_say_is_200_with_no_cards(http):
    reply = http.send("POST", "/cds-services/spine-order-sign", json_body=hook_request("order-sign"))
    assert reply.status == 200, reply.text
    assert reply.body["cards"] == []


def test_discovery_is_200(http):
    reply = http.send("GET", "/cds-services")
    assert reply.status == 200
    assert {s["hook"] for s in reply.body["services"]} == {"order-select", "order-sign"}


def test_feedback_valid_is_200_and_invalid_is_400(http):
    ok = {"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719", "outcome": "overridden",
                        "outcomeTimestamp": "2026-11-26T10:05:31Z"}]}
    reply = http.send("POST", "/cds-services/spine-order-sign/feedback", json_body=ok)
    assert reply.status == 200, reply.text
    bad = {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:05:31Z"}]}
    reply = http.send("POST", "/cds-services/spine-order-sign/feedback", json_body=bad)
    assert_error(reply, 400, "feedback")


def test_cors_preflight_allows_authorization(http):
    reply = http.send("OPTIONS", "/cds-services/spine-order-select", headers={
        "Origin": "https://sandbox.cds-hooks.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    allowed = reply.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
