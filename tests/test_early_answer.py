"""The early answer (issue 20): an order the service does not advise on gets ``{"cards": []}`` without
its prefetch being decoded (``cds_service/envelope.py``), and that answer, like every refusal, is the
one the full path (the whole body parsed and validated first) gives.

The full path is the pipeline given the parsed body (a dict: what tests and ``replay`` do), and,
through HTTP, the app with the staged read switched off (``read_staged`` giving None).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cds_service import envelope, views
from cds_service.app import create_app
from cds_service.envelope import StagedBody, read_staged
from cds_service.pipeline import NullCardPolicy, call_service, run_call
from tests.conftest import make_settings
from tests.scenarios.build import build
from tests.scenarios.test_scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
SERVICE = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
CPT = "http://www.ama-assn.org/go/cpt"
DEPTH = 64


def _service_request(rid: str, patient: str, code: str, display: str) -> dict:
    return {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": CPT, "code": code, "display": display}], "text": display}}


def _not_advised(patient: str) -> list[dict]:
    """A chest X-ray, a knee MRI and a medication: orders the service does not advise on."""
    return [
        _service_request("other-cxr", patient, "71046", "X-ray chest 2 views"),
        _service_request("other-knee-mri", patient, "73721", "MRI knee without contrast"),
        {"resourceType": "MedicationRequest", "id": "other-med", "status": "draft", "intent": "order",
         "subject": {"reference": f"Patient/{patient}"},
         "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                   "code": "197806", "display": "Ibuprofen 600 MG Oral Tablet"}]}},
    ]


def _swapped(body: dict) -> dict:
    """``body`` with its draft orders (and selections) replaced by orders the service does not advise on."""
    body = copy.deepcopy(body)
    context = body["context"]
    orders = _not_advised(context["patientId"])
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": o} for o in orders]}
    if body["hook"] == "order-select":
        context["selections"] = [f"{o['resourceType']}/{o['id']}" for o in orders]
    return body


def _requests() -> list[tuple[str, dict, datetime]]:
    out = [(f"scenario:{s['name']}", build(s), datetime.fromisoformat(str(s["now"])).replace(tzinfo=timezone.utc))
           for s in SCENARIOS]
    for path in sorted((ROOT / "demo" / "requests").glob("*.json")) + sorted((ROOT / "examples").glob("*.json")):
        out.append((f"{path.parent.name}:{path.stem}", json.loads(path.read_text()), NOW))
    return out


REQUESTS = _requests()


@pytest.fixture(scope="module")
def engine():
    app = create_app(make_settings())
    # No store: what one call issues must not suppress the next one's cards.
    return dataclasses.replace(app.extensions["cds_engine"], policy=NullCardPolicy())


def _staged(body: dict) -> StagedBody:
    staged = read_staged(json.dumps(body).encode(), DEPTH)
    assert staged is not None
    return staged


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _no_uuids(value):
    """``value`` with the uuids made per call (cards', suggestions', suggested orders' ids) masked."""
    if isinstance(value, dict):
        return {k: _no_uuids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_uuids(v) for v in value]
    return _UUID.sub("*", value) if isinstance(value, str) else value


@pytest.mark.parametrize("name, body, now", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_an_order_not_advised_on_gets_the_full_paths_answer_without_its_prefetch_decoded(engine, name, body, now,
                                                                                          monkeypatch):
    body = _swapped(body)
    assert body.get("prefetch"), "every request here carries a prefetch"
    service = engine.registry.get(SERVICE[body["hook"]])
    full = call_service(engine, service, copy.deepcopy(body), now=now)

    def _decoded(self):
        raise AssertionError("the prefetch was decoded")

    monkeypatch.setattr(StagedBody, "full", _decoded)
    monkeypatch.setattr(StagedBody, "parse_full", _decoded)
    early = run_call(engine, service, _staged(body), now=now)
    assert early.response == full == {"cards": []}
    assert early.hook_instance == body["hookInstance"]


@pytest.mark.parametrize("name, body, now", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_an_order_advised_on_gets_the_full_paths_cards_from_the_staged_body(engine, name, body, now):
    service = engine.registry.get(SERVICE[body["hook"]])
    full = call_service(engine, service, copy.deepcopy(body), now=now)
    staged = run_call(engine, service, _staged(body), now=now)
    assert _no_uuids(staged.response) == _no_uuids(full)


def test_the_staged_body_decodes_to_what_json_loads_gives():
    body = REQUESTS[0][1]
    raw = json.dumps({"extension": {"x": [1.5, 10**30]}, **body, "zzz": None}).encode()
    staged = read_staged(raw, DEPTH)
    assert staged.full() == json.loads(raw)
    # Numbers and strings in the prefetch as json.loads reads them, also where msgspec's decoder
    # refuses what json.loads takes (a number past a float's range).
    for odd in (rb'[1.5, -0.0, 1E2, 123456789012345678901234567890, "caf\u00e9 \ud83d\ude00"]', b"[1e400]"):
        raw = b'{"hook": "order-sign", "prefetch": {"x": ' + odd + b"}}"
        staged = read_staged(raw, DEPTH)
        assert staged is not None and staged.full() == json.loads(raw), odd
    assert list(staged.full()) == list(json.loads(raw))  # members in the body's order
    assert "prefetch" not in staged.head
    # A member sent twice: the last one counts, at the first one's place, as json.loads does.
    raw = b'{"hook": "a", "context": {}, "hook": "order-sign", "prefetch": {"p": null}}'
    assert read_staged(raw, DEPTH).full() == json.loads(raw)
    assert list(read_staged(raw, DEPTH).full()) == ["hook", "context", "prefetch"]


@pytest.mark.parametrize("raw", [
    b"[1, 2]", b'"text"', b"{", b'{"hook": "order-sign"} x', b'{"prefetch": {"a": NaN}}', b'{"a": Infinity}',
    b'{"prefetch": {"a": "\xff"}}', b'{"context": "\xc3"}', b'{"a": "\\ud800"}', b"",
    b'{"context": ' + b"[" * 64 + b"]" * 64 + b"}",  # the head one level too deep
    b'{"prefetch": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # past msgspec's own nesting limit
])
def test_a_body_that_is_not_plainly_valid_is_left_to_the_full_path(raw):
    assert read_staged(raw, DEPTH) is None


# --- through HTTP: the same status and body as the full path ------------------------------------


@pytest.fixture(scope="module")
def clients():
    staged = create_app(make_settings()).test_client()
    with pytest.MonkeyPatch.context() as mp:
        # The full path: no staged read, in the depth check or in the view.
        mp.setattr(envelope, "read_staged", lambda raw, max_depth: None)
        mp.setattr(views, "read_staged", lambda raw, max_depth: None)
        full = create_app(make_settings()).test_client()
        yield staged, full


def _demo(name: str = "demo-lumbar-1.order-select") -> dict:
    return json.loads((ROOT / "demo" / "requests" / f"{name}.json").read_text())


def _deep(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _set(path: str, value):
    def change(body: dict) -> dict:
        *parents, last = path.split(".")
        target = body
        for p in parents:
            target = target[p]
        if value is _DROP:
            target.pop(last, None)
        else:
            target[last] = copy.deepcopy(value)
        return body
    return change


_DROP = object()

#: Invalid envelopes: the same refusal whether or not an order concerns the service.
ENVELOPES = {
    "bad hookInstance": _set("hookInstance", "not-a-uuid"),
    "no hookInstance": _set("hookInstance", _DROP),
    "another hook": _set("hook", "order-sign"),
    "no hook": _set("hook", _DROP),
    "context not an object": _set("context", [1]),
    "no context": _set("context", _DROP),
    "bad patientId": _set("context.patientId", "a b"),
    "no userId": _set("context.userId", _DROP),
    "draftOrders not a Bundle": _set("context.draftOrders", {"resourceType": "List"}),
    "no selections": _set("context.selections", _DROP),
    "empty selections": _set("context.selections", []),
    "bad fhirServer": _set("fhirServer", "ftp://x"),
    "fhirAuthorization without fhirServer": _set("fhirAuthorization", {
        "access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "x"}),
    "too many selections": _set("context.selections", ["ServiceRequest/x"] * 5000),
    "context too deep": _set("context.extra", _deep(70)),
    "bad hookInstance and too many prefetch resources": lambda b: _set("hookInstance", "x")(
        _set("prefetch.many", {"resourceType": "Bundle", "entry": [{}] * 6000})(b)),
    "bad hookInstance and a deep prefetch": lambda b: _set("hookInstance", "x")(_set("prefetch.deep", _deep(80))(b)),
    "bad hookInstance and a prefetch of null": lambda b: _set("hookInstance", "x")(_set("prefetch", None)(b)),
}

#: Invalid prefetch: refused when the prefetch is read (an order advised on); ignored, unread, when not.
PREFETCH = {
    "prefetch null": _set("prefetch", None),
    "prefetch a list": _set("prefetch", [1]),
    "a prefetch value not a resource": _set("prefetch.patient", "Patient/1"),
    "a prefetch value without resourceType": _set("prefetch.patient", {"id": "1"}),
    "too many resources under one key": _set("prefetch.many", {"resourceType": "Bundle", "entry": [{}] * 6000}),
    "too much report text": _set("prefetch.report", {"resourceType": "DiagnosticReport",
                                                      "conclusion": "x" * 2_000_001}),
    "a prefetch nested too deep": _set("prefetch.deep", {"resourceType": "Basic", "x": _deep(80)}),
}


def _post(client, body, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body)
    resp = client.post(f"/cds-services/{SERVICE[body['hook'] if isinstance(body, dict) else 'order-select']}",
                       data=data, content_type="application/json")
    return resp.status_code, resp.get_json()


def _bodies():
    advised = _demo()
    return {"advised": advised, "not advised": _swapped(advised)}


@pytest.mark.parametrize("case", sorted(ENVELOPES))
@pytest.mark.parametrize("orders", ["advised", "not advised"])
def test_an_invalid_envelope_gets_the_full_paths_refusal(clients, case, orders):
    staged, full = clients
    body = ENVELOPES[case](_bodies()[orders])
    raw = json.dumps(body).encode()
    got, expected = _post(staged, _demo(), raw), _post(full, _demo(), raw)
    assert got == expected
    assert got[0] in (400, 413), got


@pytest.mark.parametrize("case", sorted(PREFETCH))
def test_an_invalid_prefetch_is_refused_when_read_and_ignored_unread(clients, case):
    staged, full = clients
    advised = PREFETCH[case](_bodies()["advised"])
    got, expected = _post(staged, advised), _post(full, advised)
    assert got == expected and got[0] in (400, 413), got
    # Not advised on: the prefetch is never decoded, so what is wrong in it is not looked at (envelope.py).
    not_advised = PREFETCH[case](_bodies()["not advised"])
    assert _post(staged, not_advised) == (200, {"cards": []})
    assert _post(full, not_advised)[0] in (400, 413)  # the full path read and refused it


@pytest.mark.parametrize("raw", [
    b'{"hook": "order-select",', b'{"hook": "order-select", "prefetch": {"a": NaN}}', b"[]", b"null", b"  ",
    b'{"hook": "order-select", "context": "\xff"}', b'{"prefetch": "\xff"}',
    b'{"prefetch": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b"[" * 200_000 + b"]" * 200_000,
])
def test_a_body_that_is_not_valid_json_gets_the_full_paths_refusal(clients, raw):
    staged, full = clients
    got, expected = _post(staged, None, raw), _post(full, None, raw)
    assert got == expected and got[0] == 400, got


def test_the_early_answer_through_http(clients):
    staged, full = clients
    body = _swapped(_demo())
    assert _post(staged, body) == _post(full, body) == (200, {"cards": []})
