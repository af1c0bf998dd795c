"""The EMG timing thresholds at their boundaries: the day before, of and after, and partial dates.

Rule-level: the picture is read from a record built like the scenarios, then the EMG value rule is
called with the configured thresholds (config/guidelines/rules.yaml) or with one of them moved,
which shows the boundary comes from the table and not from code.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from cds_service import advice
from cds_service.fhir import gather_record
from cds_service.draft_orders import extract_orders
from cds_service.protocol import validate_hook_request
from cds_service.reading import read_record
from cds_service.localisation.localise import localise
from cds_service.rules.emg import emg_value_cards
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
TODAY = NOW.date()
RULES = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "guidelines" / "rules.yaml").read_text())
EMG_ORDER = {"code": "cpt:95886", "display": "EMG/NCS left lower extremity", "bodySite": "left leg"}


def _record(onset: str, emg_date: str | None = None) -> dict:
    scenario = {"now": TODAY.isoformat(), "patient": {"birthDate": "1970-01-01", "gender": "male"},
                "conditions": [{"code": "icd10:M54.16", "display": "Radiculopathy, lumbar region", "onset": onset}],
                "orders": [EMG_ORDER]}
    if emg_date:
        scenario["reports"] = [{"kind": "emg", "date": emg_date, "conclusion": "Normal study."}]
    return scenario


def _emg_reasons(engine, scenario: dict, cfg=None, now: datetime = NOW) -> list[str]:
    """The reason codes of the EMG value card the rule gives (none: [])."""
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(scenario), service.hook)
    context = request["context"]
    [order] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, now)
    specs = emg_value_cards(order, picture, cfg or engine.rules, now, localise(order, picture, now))
    return [r for s in specs for r in s.reasons]


def _ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def test_the_rules_use_the_thresholds_of_the_table(engine):
    for name in ("emg_too_early_days", "recent_emg_days", "long_standing_days", "lbp_imaging_min_days"):
        assert getattr(engine.rules, name) == RULES[name]["value"], name


@pytest.mark.parametrize("days,too_early", [(20, True), (21, False), (22, False)])
def test_too_early_under_21_days_since_onset(engine, days, too_early):
    assert engine.rules.emg_too_early_days == 21
    assert ("too-early" in _emg_reasons(engine, _record(_ago(days)))) is too_early


@pytest.mark.parametrize("onset,now,too_early", [
    ("2026-11", datetime(2026, 11, 15, tzinfo=timezone.utc), True),   # at most 14 days
    ("2026-11", datetime(2026, 11, 26, tzinfo=timezone.utc), False),  # could be 25 days: not said
    ("2026", datetime(2026, 1, 10, tzinfo=timezone.utc), True),       # at most 9 days
])
def test_too_early_with_a_partial_onset_needs_the_whole_span_under_the_threshold(engine, onset, now, too_early):
    assert ("too-early" in _emg_reasons(engine, _record(onset), now=now)) is too_early


@pytest.mark.parametrize("days,recent", [(364, True), (365, True), (366, False)])
def test_an_emg_within_365_days_is_recent(engine, days, recent):
    assert engine.rules.recent_emg_days == 365
    assert ("recent-emg" in _emg_reasons(engine, _record("2025-01-01", _ago(days)))) is recent


@pytest.mark.parametrize("emg_date,recent", [("2025-11", True), ("2025-10", False)])
def test_a_partial_emg_date_counts_from_its_latest_day(engine, emg_date, recent):
    # 2025-11 may be 2025-11-30 (361 days ago); 2025-10 is at least 391 days ago.
    assert ("recent-emg" in _emg_reasons(engine, _record("2025-01-01", emg_date))) is recent


@pytest.mark.parametrize("days,long_standing", [(90, False), (91, True), (92, True)])
def test_long_standing_over_90_days(engine, days, long_standing):
    assert engine.rules.long_standing_days == 90
    assert ("long-standing" in _emg_reasons(engine, _record(_ago(days)))) is long_standing


@pytest.mark.parametrize("onset,long_standing", [("2026-08", False), ("2026-07", True), ("2025", True)])
def test_long_standing_with_a_partial_onset_needs_the_fewest_days_over_the_threshold(engine, onset, long_standing):
    # "2026-08" may be 2026-08-31: 87 days; "2026-07" is at least 118 days; "2025" at least 330.
    assert ("long-standing" in _emg_reasons(engine, _record(onset))) is long_standing


def test_moving_a_threshold_in_the_table_moves_the_decision(engine):
    scenario = _record(_ago(25))
    assert "too-early" not in _emg_reasons(engine, scenario)
    later = dataclasses.replace(engine.rules, emg_too_early_days=28)
    assert _emg_reasons(engine, scenario, later) == ["too-early"]
    sooner = dataclasses.replace(engine.rules, long_standing_days=20)
    assert _emg_reasons(engine, scenario, sooner) == ["long-standing"]


def test_too_early_says_when_the_study_would_be_informative(engine):
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(_record(_ago(10))), service.hook)
    context = request["context"]
    [order] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, NOW)
    [spec] = emg_value_cards(order, picture, engine.rules, NOW, localise(order, picture, NOW))
    [reason] = spec.context["reasons"]
    assert reason["days"] == 10
    assert date.fromisoformat(reason["after"]) == TODAY + timedelta(days=11)
