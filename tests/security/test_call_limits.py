"""Issue 17, unbounded work per call: 5,000 draft orders gave 5,000 cards (13.6 MB); 30,000
ran past gunicorn's timeout. Every count that drives the work is bounded, and a call over a
limit is refused with 413 naming the limit, before any of the work is done."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.limits import report_text_chars
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
SELECT = "/cds-services/spine-order-select"
SIGN = "/cds-services/spine-order-sign"
EXAMPLE = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())


@pytest.fixture(scope="module")
def client():
    app = create_app(make_settings())
    app.testing = True
    return app.test_client()


def _with_orders(n: int, hook: str = "order-sign") -> dict:
    body = copy.deepcopy(EXAMPLE)
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    entries = []
    for i in range(n):
        o = copy.deepcopy(order)
        o["id"] = f"draft-{i}"
        entries.append({"resource": o})
    body["context"]["draftOrders"]["entry"] = entries
    body["hook"] = hook
    if hook == "order-sign":
        body["context"].pop("selections", None)
    else:
        body["context"]["selections"] = [f"ServiceRequest/draft-{i}" for i in range(n)]
    return body


def _assert_413(resp, setting: str, field: str):
    assert resp.status_code == 413, resp.get_json()
    data = resp.get_json()
    assert setting in data["error"]
    assert data["operationOutcome"]["issue"][0]["code"] == "too-costly"
    assert field in data["errors"]


def test_thousands_of_draft_orders_are_refused_with_413_naming_the_limit(client):
    started = time.monotonic()
    resp = client.post(SIGN, json=_with_orders(5000))
    _assert_413(resp, "max_draft_orders", "context.draftOrders")
    assert "At most 50 draft orders" in resp.get_json()["error"]
    assert time.monotonic() - started < 10  # generous: refused on a count, not after the work


def test_order_select_with_too_many_selections_is_refused(client):
    body = _with_orders(3, "order-select")
    body["context"]["selections"] = [f"ServiceRequest/x-{i}" for i in range(51)]
    _assert_413(client.post(SELECT, json=body), "max_draft_orders", "context.selections")


def test_draft_orders_at_the_limit_are_answered_with_at_most_max_cards(client):
    resp = client.post(SIGN, json=_with_orders(50))
    assert resp.status_code == 200
    cards = resp.get_json()["cards"]
    assert 1 <= len(cards) <= 5


def test_max_cards_keeps_the_most_urgent():
    # demo-lumbar-1's order-sign gives three cards (one of them the warning-free info set).
    body = json.loads((ROOT / "demo" / "requests" / "demo-lumbar-1.order-sign.json").read_text())
    app = create_app(make_settings(max_cards=2))
    app.testing = True
    client = app.test_client()
    cards = client.post(SIGN, json=body).get_json()["cards"]
    assert len(cards) == 2
    full = create_app(make_settings())
    full.testing = True
    every = full.test_client().post(SIGN, json=body).get_json()["cards"]
    assert len(every) == 3
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert [rank[c["indicator"]] for c in cards] == sorted(rank[c["indicator"]] for c in every)[:2]


def test_prefetch_key_with_too_many_resources_is_refused(client):
    body = copy.deepcopy(EXAMPLE)
    patient_ref = {"reference": f"Patient/{body['context']['patientId']}"}
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("resourceType") == "Bundle")
    body["prefetch"][key] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Condition", "id": f"c{i}", "subject": patient_ref,
                      "code": {"text": "back pain"}}} for i in range(2001)]}
    _assert_413(client.post(SELECT, json=body), "max_prefetch_resources_per_key", f"prefetch.{key}")


def test_prefetch_report_text_over_the_limit_is_refused():
    app = create_app(make_settings(max_report_text_chars=10_000))
    app.testing = True
    body = copy.deepcopy(EXAMPLE)
    text = base64.b64encode(b"Mild disc bulge at L4-L5. " * 600).decode()
    body["prefetch"]["reports"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
                      "code": {"text": "MRI lumbar spine"},
                      "subject": {"reference": f"Patient/{body['context']['patientId']}"},
                      "presentedForm": [{"contentType": "text/plain", "data": text}]}}]}
    _assert_413(app.test_client().post(SELECT, json=body), "max_report_text_chars", "prefetch.reports")


def test_report_text_is_counted_without_decoding():
    data = base64.b64encode(b"x" * 3000).decode()
    report = {"resourceType": "DiagnosticReport", "conclusion": "abc", "presentedForm": [{"data": data}, {"url": "u"}]}
    assert report_text_chars(report) == 3003
    assert report_text_chars({"resourceType": "Condition", "conclusion": "abc"}) == 0


@pytest.mark.parametrize("setting", ["max_draft_orders", "max_prefetch_resources_per_key",
                                     "max_report_text_chars", "max_cards"])
def test_limits_below_one_stop_start_up(setting):
    from cds_service.settings import SettingsError

    with pytest.raises(SettingsError, match=f"{setting}.*must be between 1 and"):
        create_app(make_settings(**{setting: 0}))


# --- issue 20, goal 3: the body limit is chosen so a call stays within its CPU budget -------------

def _padded(size: int) -> bytes:
    """The example call padded to exactly ``size`` bytes with an element the reader does not read."""
    body = copy.deepcopy(EXAMPLE)
    body["context"]["draftOrders"]["entry"][0]["resource"]["identifier"] = [{"value": ""}]
    raw = json.dumps(body).encode()
    body["context"]["draftOrders"]["entry"][0]["resource"]["identifier"] = [{"value": "x" * (size - len(raw))}]
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


def test_the_default_body_limit_is_4_mib_a_body_at_it_is_read_and_one_byte_more_refused(client):
    """bench/bounded_cost.py: past ~4 MiB a valid body costs more than ~300 ms of CPU (10 MiB: 600 ms)."""
    limit = 4 * 1024 * 1024
    assert make_settings().max_body_bytes == limit
    at = client.post(SELECT, data=_padded(limit), content_type="application/json")
    assert at.status_code == 200, at.get_json()
    over = client.post(SELECT, data=_padded(limit + 1), content_type="application/json")
    assert over.status_code == 413
