"""Issue 20, goal 3: what one call reads of its Conditions' and Observations' own words and codings is
bounded (``reading/facts.py``: ``MAX_RECORD_TEXT_CHARS``, ``MAX_RECORD_CODINGS``); what is left unread
is said as a data gap of the key, as a truncated search is. Without the bound, 4,000 long labels in a
10 MiB body cost 12.8 s of CPU (``bench/bounded_cost.py``)."""

from __future__ import annotations

import copy

import pytest

from cds_service.app import create_app
from cds_service.pipeline import DATA_GAPS_EXTENSION
from cds_service.reading import facts
from tests.conftest import make_settings
from tests.scenarios.build import build

SIGN = "/cds-services/spine-order-sign"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCENARIO = {
    "patient": {"birthDate": "1970-01-01", "gender": "female"},
    "conditions": [{"code": "icd10:I10", "display": "Essential hypertension"}],
    "orders": [{"code": "cpt:95886", "display": "EMG/NCS left lower extremity", "bodySite": "left leg"}],
}
#: A label the reader finds a concept in: read as text, it gives a cauda equina red flag.
RED_FLAG = "New saddle anaesthesia and urinary retention since yesterday"


@pytest.fixture(scope="module")
def client():
    app = create_app(make_settings(text_cache_chars=0))
    app.testing = True
    return app.test_client()


def _call(client, conditions: list[dict]) -> tuple[list[str], list[dict]]:
    body = build(SCENARIO, "pt-budget")
    entries = body["prefetch"]["conditions"]["entry"]
    template = entries[0]["resource"]
    for i, code in enumerate(conditions):
        r = copy.deepcopy(template)
        r["id"] = f"pt-budget-c{i}"
        r["code"] = code
        entries.append({"resource": r})
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    kinds = [c["source"]["topic"]["code"] for c in data["cards"]]
    return kinds, (data.get("extension") or {}).get(DATA_GAPS_EXTENSION, [])


def _padded(chars: int) -> dict:
    return {"text": RED_FLAG + ". " + "x" * (chars - len(RED_FLAG) - 2)}


def test_labels_within_the_text_budget_are_read_and_past_it_are_not_and_say_so(client):
    # Both readers (facts, localisation) read each label: within, a quarter of the budget.
    within, gaps = _call(client, [_padded(facts.MAX_RECORD_TEXT_CHARS // 4)])
    assert "red-flag-urgent-evaluation" in within
    assert gaps == []
    past, gaps = _call(client, [_padded(facts.MAX_RECORD_TEXT_CHARS + 1)])
    assert gaps == [{"prefetchKey": "conditions", "reason": "record-text-limit"}]
    assert "red-flag-urgent-evaluation" not in past  # its label was not read


def test_codings_past_the_budget_are_not_read_and_say_so(client):
    # The scenario's own Condition has one coding: room for MAX - 1 more.
    many = {"coding": [{"system": ICD, "code": "I10"}] * (facts.MAX_RECORD_CODINGS - 1)}
    _, gaps = _call(client, [many])
    assert gaps == []
    too_many = {"coding": [{"system": ICD, "code": "I10"}] * (facts.MAX_RECORD_CODINGS + 1)}
    _, gaps = _call(client, [too_many])
    assert {"prefetchKey": "conditions", "reason": "record-coding-limit"} in gaps


def test_a_concept_past_the_coding_budget_leaves_the_later_ones_read(client):
    radiculopathy = {"coding": [{"system": ICD, "code": "M54.16", "display": "Radiculopathy, lumbar region"}]}
    alone, _ = _call(client, [radiculopathy])
    too_many = {"coding": [{"system": ICD, "code": "I10"}] * (facts.MAX_RECORD_CODINGS + 1)}
    after, gaps = _call(client, [too_many, radiculopathy])
    assert {"prefetchKey": "conditions", "reason": "record-coding-limit"} in gaps
    assert after == alone


def test_a_budget_counts_and_refuses():
    budget = facts.ReadingBudget(text_chars=10, codings=3)
    assert budget.take_text(object(), "x" * 10)
    assert not budget.take_text(object(), "y")
    assert budget.take_codings(object(), [1, 2, 3]) == [1, 2, 3]
    assert budget.take_codings(object(), [4]) == []
    assert set(budget.unread["object"]) == {"record-text-limit", "record-coding-limit"}
