"""Pre-test notes at their boundaries (issue 16): EMG/NCS bleeding and device notes, the spine MRI note.

Rule-level: the picture is read from a record built like the scenarios, then the pre-test rule is called with the
table of config/guidelines/pretest.yaml, or with one of its values moved, which shows the decision comes from the
table and not from code. Odd but legal FHIR (bounds, no unit, entered-in-error, abated, stopped) goes in ``raw``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from cds_service import advice
from cds_service.fhir import gather_record
from cds_service.draft_orders import extract_orders
from cds_service.protocol import validate_hook_request
from cds_service.reading import read_record
from cds_service.rules.pretest import pretest_card
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
TABLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "guidelines" / "pretest.yaml").read_text())
EDX = {"code": "cpt:95886", "display": "EMG/NCS left lower extremity"}
NEEDLE_ONLY = {"code": "cpt:95886", "display": "Needle EMG, each extremity, complete", "bodySite": "right arm"}
NCS_ONLY = {"code": "cpt:95909", "display": "Nerve conduction studies; 5-6 studies", "bodySite": "right arm"}
MRI_CONTRAST = {"code": "cpt:72158", "display": "MRI lumbar spine without and with contrast"}
MRI_PLAIN = {"code": "cpt:72148", "display": "MRI lumbar spine without contrast"}
WARFARIN = {"code": "rxnorm:11289", "display": "warfarin 5 MG Oral Tablet"}
APIXABAN = {"code": "rxnorm:1364430", "display": "apixaban 5 MG Oral Tablet"}
PACEMAKER = {"code": "snomed:14106009", "display": "Cardiac pacemaker"}
SUBJECT = {"reference": "Patient/pt-1"}


def _ago(days: int) -> str:
    return (NOW.date() - timedelta(days=days)).isoformat()


def inr(value, days: int = 2) -> dict:
    return {"code": "loinc:6301-6", "display": "INR", "value": value, "date": _ago(days)}


def platelets(value, days: int = 2) -> dict:
    return {"code": "loinc:777-3", "display": "Platelet count", "value": value, "unit": "/uL", "date": _ago(days)}


def egfr(value, days: int = 5) -> dict:
    return {"code": "loinc:33914-3", "display": "eGFR", "value": value, "unit": "mL/min/{1.73_m2}", "date": _ago(days)}


def raw_obs(code: str, days: int = 2, status: str = "final", **value) -> dict:
    system, c = code.split(":")
    return {"resourceType": "Observation", "id": f"raw-{c}-{days}-{status}", "status": status, "subject": SUBJECT,
            "code": {"coding": [{"system": {"loinc": "http://loinc.org"}[system], "code": c}]},
            "effectiveDateTime": _ago(days), **value}


def scenario(order: dict, medications=(), observations=(), conditions=(), devices=(), raw=None) -> dict:
    return {"now": NOW.date().isoformat(), "patient": {"birthDate": "1960-01-01", "gender": "female"},
            "medications": list(medications), "observations": list(observations), "conditions": list(conditions),
            "devices": list(devices), "raw": raw or {}, "orders": [order]}


def spec(engine, s: dict, cfg=None):
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(s), service.hook)
    context = request["context"]
    [order] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, NOW)
    return pretest_card(order, picture, cfg or engine.rules, NOW)


def card(engine, s: dict, cfg=None) -> dict | None:
    found = spec(engine, s, cfg)
    return engine.cards.render(found) if found else None


def reasons(engine, s: dict, cfg=None) -> list[str]:
    found = spec(engine, s, cfg)
    return list(found.reasons) if found else []


def moved(engine, **values):
    return dataclasses.replace(engine.rules, pretest=dataclasses.replace(engine.rules.pretest, **values))


def test_the_rule_uses_the_values_of_the_table(engine):
    t = engine.rules.pretest
    assert t.inr_caution_above == TABLE["edx"]["inr_caution_above"]["value"] == 1.5
    assert t.platelets_caution_below == TABLE["edx"]["platelets_caution_below"]["value"] == 50
    assert t.egfr_caution_below == TABLE["mri"]["egfr_caution_below"]["value"] == 30
    assert t.lab_recent_days == TABLE["edx"]["lab_recent_days"]["value"]
    assert t.egfr_recent_days == TABLE["mri"]["egfr_recent_days"]["value"]


# --- EMG/NCS: INR and platelets -----------------------------------------------------------------


@pytest.mark.parametrize("value,past", [(1.4, False), (1.5, False), (2.1, True), (4.8, True)])
def test_inr_on_warfarin_against_the_configured_threshold(engine, value, past):
    c = card(engine, scenario(EDX, [WARFARIN], [inr(value)]))
    assert c["indicator"] == ("warning" if past else "info")
    assert reasons(engine, scenario(EDX, [WARFARIN], [inr(value)])) == [
        "anticoagulant", "inr-past-threshold" if past else "inr-in-range"]
    assert f"INR {value:g} on {_ago(2)}" in c["summary"]  # the value and its date
    assert ("above 1.5" in c["summary"]) is past
    assert f"Observation/" in c["detail"] and f"INR: {value:g}" in c["detail"]


@pytest.mark.parametrize("value,past", [(49000, True), (50000, False), (51000, False)])
def test_platelets_without_a_drug_are_a_note_only_under_the_threshold(engine, value, past):
    c = card(engine, scenario(EDX, observations=[platelets(value)]))
    if not past:
        assert c is None  # in range and no anticoagulant: nothing to say
        return
    assert c["indicator"] == "warning"
    assert "platelets 49,000/µL on " + _ago(2) + ", under 50,000" in c["summary"]


@pytest.mark.parametrize("value", [50000, 51000])
def test_platelets_in_range_are_mentioned_beside_an_anticoagulant(engine, value):
    c = card(engine, scenario(EDX, [WARFARIN], [platelets(value)]))
    assert c["indicator"] == "info" and f"platelets {value:,}/µL" in c["summary"]


@pytest.mark.parametrize("value,expected", [(1.4, None), (2.1, "warning")])
def test_an_inr_without_a_drug_is_a_note_only_past_its_threshold(engine, value, expected):
    c = card(engine, scenario(EDX, observations=[inr(value)]))
    assert (c["indicator"] if c else None) == expected


@pytest.mark.parametrize("days,shown", [(90, True), (91, False)])
def test_an_old_lab_outside_the_window_is_not_used(engine, days, shown):
    assert (card(engine, scenario(EDX, observations=[inr(4.8, days)])) is not None) is shown
    # Moving the window moves the decision.
    assert card(engine, scenario(EDX, observations=[inr(4.8, 91)]), moved(engine, lab_recent_days=120)) is not None


def test_moving_the_inr_threshold_in_the_table_moves_the_decision(engine):
    s = scenario(EDX, [WARFARIN], [inr(1.8)])
    assert "inr-past-threshold" in reasons(engine, s)
    assert "inr-in-range" in reasons(engine, s, moved(engine, inr_caution_above=2.0))
    assert card(engine, scenario(EDX, observations=[platelets(60000)]), moved(engine, platelets_caution_below=75)) is not None


def test_the_latest_lab_wins_and_entered_in_error_does_not_count(engine):
    s = scenario(EDX, observations=[inr(1.1, 10)],
                 raw={"observations": [raw_obs("loinc:6301-6", 1, status="entered-in-error", valueQuantity={"value": 6.0})]})
    assert card(engine, s) is None
    s = scenario(EDX, observations=[inr(1.1, 10), inr(3.0, 1)])
    assert "INR 3 on " + _ago(1) in card(engine, s)["summary"]


def test_odd_lab_values_bounds_strings_and_no_unit(engine):
    # A bound under the threshold is certainly under it; no unit on a count per uL; a numeric valueString.
    s = scenario(EDX, raw={"observations": [
        raw_obs("loinc:777-3", valueQuantity={"value": 20, "comparator": "<", "unit": "10*3/uL"})]})
    assert "platelets-past-threshold" in reasons(engine, s)
    s = scenario(EDX, raw={"observations": [raw_obs("loinc:777-3", valueQuantity={"value": 45000})]})
    assert "platelets-past-threshold" in reasons(engine, s)
    s = scenario(EDX, raw={"observations": [raw_obs("loinc:6301-6", valueString="3.2")]})
    assert "inr-past-threshold" in reasons(engine, s)
    # "<2" may be 1.2: not certainly above 1.5.
    s = scenario(EDX, raw={"observations": [raw_obs("loinc:6301-6", valueString="<2")]})
    assert reasons(engine, s) == []


# --- EMG/NCS: drugs and wording --------------------------------------------------------------------


def test_doac_wording_says_the_data_are_on_warfarin(engine):
    detail = card(engine, scenario(EDX, [APIXABAN]))["detail"]
    assert "no data for DOACs" in detail and "patients on warfarin" in detail


def test_warfarin_wording_cites_the_warfarin_studies_without_the_doac_caveat(engine):
    detail = card(engine, scenario(EDX, [WARFARIN]))["detail"]
    assert "Lynch 2008, INR 1.5 to 4.2" in detail and "no data for DOACs" not in detail


def test_a_stopped_or_completed_anticoagulant_is_not_current(engine):
    for status in ("stopped", "completed"):
        med = {**WARFARIN, "status": status}
        assert card(engine, scenario(EDX, [med], [inr(1.3)])) is None
        # The INR past its threshold still is a note, without the drug.
        assert reasons(engine, scenario(EDX, [med], [inr(4.8)])) == ["inr-past-threshold"]


def test_an_antiplatelet_alone_is_no_note_but_is_mentioned_beside_another(engine):
    aspirin = {"code": "rxnorm:1191", "display": "aspirin 81 MG Oral Tablet"}
    assert card(engine, scenario(EDX, [aspirin])) is None
    assert reasons(engine, scenario(EDX, [aspirin, WARFARIN])) == ["anticoagulant", "antiplatelet"]


def test_bleeding_disorder_and_lymphedema_are_needle_notes(engine):
    conds = [{"code": "icd10:D66", "display": "Hereditary factor VIII deficiency"},
             {"code": "icd10:I89.0", "display": "Lymphedema, not elsewhere classified"}]
    assert reasons(engine, scenario(NEEDLE_ONLY, conditions=conds)) == ["bleeding-disorder", "lymphedema"]
    assert card(engine, scenario(NCS_ONLY, conditions=conds)) is None


@pytest.mark.parametrize("order,expected", [
    (NEEDLE_ONLY, ["anticoagulant", "inr-past-threshold"]),   # bleeding notes only
    (NCS_ONLY, ["cardiac-device"]),                            # device notes only
    (EDX, ["anticoagulant", "inr-past-threshold", "cardiac-device"]),  # both parts named
])
def test_the_notes_follow_the_parts_the_order_names(engine, order, expected):
    s = scenario(order, [WARFARIN], [inr(4.8)], devices=[PACEMAKER])
    assert reasons(engine, s) == expected
    c = card(engine, s)
    assert c["indicator"] == ("info" if expected == ["cardiac-device"] else "warning")
    assert ("pulse generator" in c["detail"]) is ("cardiac-device" in expected)


def test_a_crowded_record_keeps_a_short_summary_of_whole_phrases(engine):
    s = scenario(EDX, [APIXABAN, {"code": "rxnorm:32968", "display": "clopidogrel 75 MG Oral Tablet"}],
                 [inr(4.8), platelets(30000)], [{"code": "icd10:D66", "display": "Hemophilia A"},
                                                {"code": "icd10:I89.0", "display": "Lymphedema"}], [PACEMAKER])
    summary = card(engine, s)["summary"]
    assert len(summary) <= 139 and "…" not in summary
    assert summary.startswith("Before EMG/NCS: INR 4.8") and summary.endswith("; tell the EMG lab.")


# --- spine MRI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,shown", [(29, True), (30, False), (31, False)])
def test_egfr_under_30_on_a_contrast_mri(engine, value, shown):
    c = card(engine, scenario(MRI_CONTRAST, observations=[egfr(value)]))
    assert (c is not None) is shown
    if shown:
        assert c["indicator"] == "info" and f"eGFR {value} on {_ago(5)}, under 30" in c["summary"]
        assert "group II agent" in c["detail"] and "Observation/" in c["detail"]


def test_egfr_is_ignored_on_a_non_contrast_mri(engine):
    assert card(engine, scenario(MRI_PLAIN, observations=[egfr(12)])) is None


def test_egfr_bounds_no_unit_and_age(engine):
    assert reasons(engine, scenario(MRI_CONTRAST, raw={"observations": [raw_obs("loinc:33914-3", valueString="<15")]})) == [
        "egfr-below-threshold"]
    assert reasons(engine, scenario(MRI_CONTRAST, raw={"observations": [raw_obs("loinc:62238-1", valueQuantity={"value": 22})]})) == [
        "egfr-below-threshold"]
    assert card(engine, scenario(MRI_CONTRAST, raw={"observations": [raw_obs("loinc:33914-3", valueString=">20")]})) is None
    assert card(engine, scenario(MRI_CONTRAST, observations=[egfr(20, days=91)])) is None
    assert card(engine, scenario(MRI_CONTRAST, observations=[egfr(25)]), moved(engine, egfr_caution_below=20)) is None


def test_dialysis_on_a_contrast_mri_only_and_only_while_current(engine):
    dialysis = [{"code": "icd10:Z99.2", "display": "Dependence on renal dialysis"}]
    assert reasons(engine, scenario(MRI_CONTRAST, conditions=dialysis)) == ["dialysis"]
    assert card(engine, scenario(MRI_PLAIN, conditions=dialysis)) is None
    abated = {"resourceType": "Condition", "id": "c-abated", "subject": SUBJECT, "abatementDateTime": "2025-02-01",
              "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z99.2"}]}}
    assert card(engine, scenario(MRI_CONTRAST, raw={"conditions": [abated]})) is None


def test_pregnancy_on_a_contrast_mri(engine):
    active = [{"code": "icd10:Z34.00", "display": "Normal first pregnancy", "onset": _ago(60)}]
    c = card(engine, scenario(MRI_CONTRAST, conditions=active))
    assert "only when it is essential" in c["detail"] and "pregnancy" in c["extension"]["org.example.spine-order-cds.reasons"]
    assert card(engine, scenario(MRI_PLAIN, conditions=active)) is None
    resolved = [{**active[0], "status": "resolved"}]
    assert card(engine, scenario(MRI_CONTRAST, conditions=resolved)) is None
    stale = [{**active[0], "onset": _ago(400)}]
    assert card(engine, scenario(MRI_CONTRAST, conditions=stale)) is None
    error = {"resourceType": "Condition", "id": "c-err", "subject": SUBJECT,
             "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                "code": "entered-in-error"}]},
             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z33.1"}]}}
    assert card(engine, scenario(MRI_CONTRAST, raw={"conditions": [error]})) is None


@pytest.mark.parametrize("value,days,shown", [("Positive", 3, True), ("Negative", 3, False), ("Positive", 31, False)])
def test_a_recent_positive_pregnancy_test(engine, value, days, shown):
    test = {"code": "loinc:2106-3", "display": "hCG urine", "value": value, "date": _ago(days)}
    assert (card(engine, scenario(MRI_CONTRAST, observations=[test])) is not None) is shown


def test_a_neurostimulator_on_a_non_contrast_mri(engine):
    c = card(engine, scenario(MRI_PLAIN, devices=[{"display": "Spinal cord stimulator"}]))
    assert c["summary"] == "Before MRI: spinal cord stimulator recorded: check its MR conditions; tell radiology."
    assert reasons(engine, scenario(MRI_PLAIN, conditions=[{"code": "icd10:Z96.82", "display": "Presence of neurostimulator"}])) == [
        "neurostimulator"]
    assert card(engine, scenario(MRI_PLAIN, devices=[{"display": "Spinal cord stimulator", "status": "inactive"}])) is None


def test_a_pacemaker_on_a_non_contrast_mri(engine):
    assert reasons(engine, scenario(MRI_PLAIN, devices=[PACEMAKER])) == ["cardiac-device"]


def test_one_mri_note_at_most_with_every_reason(engine):
    s = scenario(MRI_CONTRAST, observations=[egfr(18)], devices=[PACEMAKER],
                 conditions=[{"code": "icd10:Z99.2", "display": "Dependence on renal dialysis"}])
    c = card(engine, s)
    assert c["extension"]["org.example.spine-order-cds.reasons"] == ["cardiac-device", "egfr-below-threshold", "dialysis"]
    assert len(c["summary"]) <= 139 and "…" not in c["summary"]
