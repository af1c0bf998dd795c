"""GET /demo/patients and GET /demo/requests/<patient>/<hook>: the console's contract, and the cards they give."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service import pipeline
from cds_service.demo import HOOKS, dates
from tests.conftest import make_settings
from tests.support import openapi

SERVICE = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}


def _check_openapi(path, reply):
    openapi.validate_response("GET", path, reply.status_code, reply.get_json(), reply.content_type)


def kinds(response_json: dict) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response_json["cards"]]


def test_patients_list_follows_the_contract(demo_client, catalog):
    reply = demo_client.get("/demo/patients")
    assert reply.status_code == 200
    _check_openapi("/demo/patients", reply)
    body = reply.get_json()
    assert body["referenceDate"] == "2026-11-26" == catalog.reference_date.isoformat()
    assert [p["id"] for p in body["patients"]] == [p.id for p in catalog.patients]
    first = body["patients"][0]
    assert first["requests"] == {h: f"/demo/requests/{first['id']}/{h}" for h in HOOKS}
    for listed in body["patients"]:
        patient = catalog.get(listed["id"])
        assert listed["expected"] == {h: list(patient.expected[h]) for h in HOOKS}
        assert listed["title"] == patient.title and listed["story"] == patient.story


def test_each_get_is_a_fresh_hook_instance_and_is_not_cached(demo_client):
    path = "/demo/requests/demo-cervical-1/order-select"
    first, second = demo_client.get(path), demo_client.get(path)
    assert first.status_code == second.status_code == 200
    _check_openapi(path, first)
    assert first.headers["Cache-Control"] == "no-store"
    assert first.get_json()["hookInstance"] != second.get_json()["hookInstance"]
    a, b = first.get_json(), second.get_json()
    a.pop("hookInstance"), b.pop("hookInstance")
    assert a == b


@pytest.mark.parametrize("path", ["/demo/requests/no-such-patient/order-select",
                                  "/demo/requests/demo-cervical-1/patient-view",
                                  "/demo/requests/demo-cervical-1", "/demo/nothing"])
def test_unknown_patient_or_hook_is_404_with_an_operation_outcome(demo_client, path):
    reply = demo_client.get(path)
    assert reply.status_code == 404
    body = reply.get_json()
    assert body["operationOutcome"]["issue"][0]["code"] == "not-found"
    if path.startswith("/demo/requests/") and path.count("/") == 4:
        _check_openapi(path, reply)


def test_wrong_method_is_405(demo_client):
    reply = demo_client.post("/demo/patients", json={})
    assert reply.status_code == 405
    openapi.validate_response("POST", "/demo/patients", 405, reply.get_json(), reply.content_type)


@pytest.mark.parametrize("path", ["/demo/patients", "/demo/requests/demo-cervical-1/order-select"])
def test_switched_off_by_default(client, path):
    reply = client.get(path)
    assert reply.status_code == 404
    assert reply.get_json()["operationOutcome"]["resourceType"] == "OperationOutcome"
    _check_openapi(path, reply)


def test_no_jwt_needed_even_when_hook_calls_need_one():
    from cds_service.app import create_app

    app = create_app(make_settings(demo_enabled=True, auth_disabled=False))
    client = app.test_client()
    body = client.get("/demo/requests/demo-cauda-1/order-sign")
    assert body.status_code == 200 and client.get("/demo/patients").status_code == 200
    # ... while the hook call itself still needs one: the demo opens no door to the services.
    assert client.post("/cds-services/spine-order-sign", json=body.get_json()).status_code == 401


# --- the served requests give the catalog's cards, today and years from now ----------


class _Clock:
    """Patches the clock that the demo dates and the hook calls read."""

    def __init__(self, monkeypatch, now: datetime):
        fixed = now

        class FixedDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return fixed.astimezone(tz) if tz else fixed.replace(tzinfo=None)

        monkeypatch.setattr(dates, "datetime", FixedDatetime)
        monkeypatch.setattr(pipeline, "datetime", FixedDatetime)


@pytest.mark.parametrize("when", [None, datetime(2031, 7, 15, 23, 30, tzinfo=timezone.utc),
                                  datetime(2029, 2, 28, 6, 0, tzinfo=timezone.utc)],
                         ids=["today", "2031-07-15", "2029-02-28"])
def test_every_demo_request_gives_the_expected_cards(demo_client, catalog, monkeypatch, when):
    if when is not None:
        _Clock(monkeypatch, when)
    for patient in catalog.patients:
        for hook in HOOKS:
            served = demo_client.get(f"/demo/requests/{patient.id}/{hook}").get_json()
            if when is not None:  # the dates really moved by the whole days since the reference date
                shift = (when.date() - catalog.reference_date).days
                birth = served["prefetch"]["patient"]["birthDate"]
                reference_birth = catalog.reference_request(patient.id, hook)["prefetch"]["patient"]["birthDate"]
                assert (datetime.fromisoformat(birth) - datetime.fromisoformat(reference_birth)).days == shift
            reply = demo_client.post(f"/cds-services/{SERVICE[hook]}", json=served)
            assert reply.status_code == 200, reply.get_json()
            assert kinds(reply.get_json()) == list(patient.expected[hook]), (patient.id, hook)


def test_the_timing_cards_need_the_shift(demo_app, catalog):
    """Without moving the dates, a year later the 10-day sciatica is a year old: the timing card changes."""
    engine = demo_app.extensions["cds_engine"]
    later = datetime(2027, 11, 26, 12, 0, tzinfo=timezone.utc)
    stale = catalog.reference_request("demo-early-sciatica-1", "order-select")
    moved = catalog.request("demo-early-sciatica-1", "order-select", now=later)
    service = engine.registry.get(SERVICE["order-select"])

    def reasons(body):
        return [r for c in pipeline.call_service(engine, service, body, now=later)["cards"]
                for r in c.get("extension", {}).get("org.example.spine-order-cds.reasons", [])]

    assert "too-early" in reasons(moved)
    assert "too-early" not in reasons(stale)
