"""EMG value cards on hand-built records: the facts the rule passes, and what the card then says."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service import advice
from cds_service.fhir import gather_record
from cds_service.localisation.localise import localise
from cds_service.draft_orders import extract_orders
from cds_service.pipeline import load_engine
from cds_service.protocol import validate_hook_request
from cds_service.reading import read_record
from cds_service.rules.emg import emg_value_cards
from cds_service.rules.prior import emg_fact
from tests.conftest import make_settings
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
EMG_ORDER = {"code": "cpt:95886", "display": "EMG/NCS right lower extremity"}


@pytest.fixture(scope="module")
def engine():
    return load_engine(make_settings())


def _cards(engine, scenario: dict):
    """(picture, the EMG value card specs the rule gives, those cards rendered)."""
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(scenario), service.hook)
    context = request["context"]
    [order] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, NOW)
    specs = emg_value_cards(order, picture, engine.rules, NOW, localise(order, picture, NOW))
    return picture, specs, [engine.cards.render(s) for s in specs]


def _emg_report(status: str, conclusion: str) -> dict:
    return {"resourceType": "DiagnosticReport", "id": "emg-1", "status": status, "subject": {"reference": "Patient/pt-1"},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EN"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "18749-2"}], "text": "Electromyogram study"},
            "effectiveDateTime": "2026-10-20", "conclusion": conclusion}


@pytest.mark.parametrize("status, conclusion, result, words", [
    # A preliminary report that names nothing: not "abnormal", and its status is said.
    ("preliminary", "Abnormal study. Full report to follow.", "unclear", "preliminary"),
    ("final", "Normal study. No evidence of lumbosacral radiculopathy.", "normal", "**normal**"),
    ("final", "Right L5 radiculopathy with active denervation.", "abnormal", "**abnormal**"),
])
def test_a_recent_emg_is_described_by_its_status_aware_result(engine, status, conclusion, result, words):
    scenario = {"now": "2026-11-26", "patient": {"birthDate": "1970-01-01", "gender": "male"},
                "conditions": [{"code": "icd10:M54.16", "display": "Radiculopathy, lumbar region", "onset": "2026-03-01"}],
                "raw": {"reports": [_emg_report(status, conclusion)]}, "orders": [EMG_ORDER]}
    picture, specs, cards = _cards(engine, scenario)
    [spec] = specs
    [reason] = [r for r in spec.context["reasons"] if r["code"] == "recent-emg"]
    assert reason["result"] == emg_fact(picture.latest_emg)["result"] == result
    assert words in cards[0]["detail"]
    if result == "unclear":
        assert "was **abnormal**" not in cards[0]["detail"]
