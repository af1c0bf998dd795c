"""The red-flag table's decisions at rule level: what counts, when, at which level, where the study looks.

The picture is read from a record built like the scenarios; ``assess`` applies
config/guidelines/red-flags.yaml to it, and ``red_flag_card`` / ``hedged_flag_card`` make the cards.
The end-to-end scenarios (tests/scenarios/red-flags.yaml) check the same through the whole service.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest

from cds_service import advice
from cds_service.fhir import gather_record
from cds_service.localisation.localise import localise
from cds_service.draft_orders import extract_orders
from cds_service.protocol import validate_hook_request
from cds_service.reading import read_record
from cds_service.rules.red_flags import assess, hedged_flag_card, red_flag_card
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
TODAY = NOW.date()
LEG_EMG = {"code": "cpt:95886", "display": "EMG/NCS left lower extremity", "bodySite": "left leg"}
ARM_EMG = {"code": "cpt:95886", "display": "EMG/NCS right upper extremity", "bodySite": "right arm"}
LUMBAR_MRI = {"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}


def _ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def _decide(engine, order: dict, cfg=None, **record):
    """(assessment, urgent card, hedged card) for one order on a record built from ``record``."""
    scenario = {"now": TODAY.isoformat(), "patient": {"birthDate": "1960-01-01", "gender": "female"},
                "orders": [order], **record}
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(scenario), service.hook)
    context = request["context"]
    [o] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, NOW)
    cfg = cfg or engine.rules
    loc = localise(o, picture, NOW)
    found = assess(o, picture, cfg, NOW, loc)
    return found, red_flag_card(o, picture, cfg, loc, NOW, found), hedged_flag_card(o, cfg, found)


def _created(card) -> list[tuple[str, str]]:
    """(CPT code, priority) of each ServiceRequest a card's suggestions create."""
    return [(a["resource"]["code"]["coding"][0]["code"], a["resource"]["priority"])
            for s in card.suggestions for a in s.actions if a["type"] == "create"]


# --- when a sign is current: the cauda equina window (new_within_days: 90) ---------------------

@pytest.mark.parametrize("days,critical", [(89, True), (90, True), (91, False)])
def test_a_cauda_equina_condition_counts_within_its_window_of_days(engine, days, critical):
    found, card, _ = _decide(engine, LUMBAR_MRI, conditions=[
        {"code": "icd10:G83.4", "display": "Cauda equina syndrome", "onset": _ago(days)}])
    assert ("cauda-equina" in found.categories("critical")) is critical
    assert (card is not None) is critical


def test_an_old_cauda_equina_called_worsening_counts_again(engine):
    found, _, _ = _decide(engine, LUMBAR_MRI, conditions=[
        {"code": "icd10:G83.4", "display": "Cauda equina syndrome", "onset": _ago(200),
         "note": "Worsening saddle numbness this week"}])
    assert "cauda-equina" in found.categories("critical")


# --- levels: critical, not critical alone, hedged, not counted ----------------------------------

def test_a_cancer_history_alone_is_a_flag_but_not_critical(engine):
    found, card, hedged = _decide(engine, LUMBAR_MRI, conditions=[
        {"code": "icd10:Z85.3", "display": "Personal history of malignant neoplasm of breast"},
        {"code": "icd10:M54.50", "display": "Low back pain, unspecified", "onset": _ago(20)}])
    assert found.categories("other") == ("cancer",) and not found.critical
    assert card is None and hedged is None
    assert found.any  # ACR variant 1 ("no red flags") does not apply


def test_a_cancer_history_with_a_new_weakness_is_critical_and_asks_for_contrast(engine):
    found, card, _ = _decide(engine, LUMBAR_MRI, conditions=[
        {"code": "icd10:Z85.3", "display": "Personal history of malignant neoplasm of breast"},
        {"code": "icd10:M54.50", "display": "Low back pain, unspecified", "onset": _ago(20)}],
        observations=[{"display": "Left knee extension 3/5, new", "date": _ago(2)}])
    assert "cancer" in found.categories("critical")
    assert _created(card) == [("72158", "urgent")]  # lumbar, without and with contrast


def test_a_basal_cell_carcinoma_is_never_the_cancer_flag(engine):
    found, card, _ = _decide(engine, LUMBAR_MRI, conditions=[
        {"code": "icd10:M54.50", "display": "Low back pain, unspecified", "onset": _ago(20)}],
        observations=[{"display": "Basal cell carcinoma of the skin of the nose, excised", "date": _ago(30)},
                      {"display": "Left knee extension 3/5, new", "date": _ago(2)}])
    assert "cancer" not in found.categories()


def test_a_hedged_cauda_equina_makes_the_warning_not_the_urgent_card(engine):
    found, card, hedged = _decide(engine, LEG_EMG, observations=[
        {"display": "Possible cauda equina syndrome, to be ruled out", "date": _ago(1)}])
    assert found.categories("hedged") == ("cauda-equina",) and not found.critical
    assert card is None
    assert hedged is not None and hedged.reasons == ("possible-cauda-equina",)
    assert _created(hedged) == [("72148", "stat")]  # added beside the EMG, which is not deleted
    assert not [a for s in hedged.suggestions for a in s.actions if a["type"] == "delete"]


def test_a_category_set_to_ignore_when_hedged_makes_no_warning(engine):
    table = engine.rules.red_flags
    cats = tuple(dataclasses.replace(c, when_hedged="ignore") if c.name == "cauda-equina" else c
                 for c in table.categories)
    cfg = dataclasses.replace(engine.rules, red_flags=dataclasses.replace(table, categories=cats))
    found, _, hedged = _decide(engine, LEG_EMG, cfg=cfg, observations=[
        {"display": "Possible cauda equina syndrome, to be ruled out", "date": _ago(1)}])
    assert found.hedged and hedged is None


# --- where the urgent study looks, with which contrast and priority ------------------------------

def test_a_sensory_level_asks_for_a_thoracic_mri_on_a_leg_emg(engine):
    _, card, _ = _decide(engine, LEG_EMG, observations=[
        {"display": "Sensory level at T8 to pinprick, bilateral Babinski, arms normal", "date": _ago(1)}])
    assert card.reasons == ("myelopathy",)
    assert _created(card) == [("72146", "urgent")]  # thoracic, never the lumbar default


def test_a_cervical_fracture_asks_for_a_cervical_mri(engine):
    _, card, _ = _decide(engine, ARM_EMG, conditions=[
        {"code": "icd10:S12.500A", "display": "Fracture of sixth cervical vertebra, initial encounter",
         "onset": _ago(10)}])
    assert _created(card) == [("72141", "urgent")]


def test_new_urinary_retention_is_stat_and_lumbar_on_any_order(engine):
    _, card, _ = _decide(engine, ARM_EMG, observations=[
        {"display": "New urinary retention and saddle anaesthesia", "date": _ago(0)}])
    assert _created(card) == [("72148", "stat")]


def test_fever_in_a_person_who_injects_drugs_asks_for_contrast(engine):
    _, card, _ = _decide(engine, LEG_EMG, conditions=[
        {"code": "icd10:M54.50", "display": "Low back pain, unspecified", "onset": _ago(10)}],
        observations=[{"display": "Fever 39.1 C; injects heroin (IV drug use)", "date": _ago(1)}])
    assert card.reasons == ("infection",)
    assert _created(card) == [("72158", "urgent")]


def test_myelopathy_is_urgent_unless_the_record_says_rapid(engine):
    slow = [{"display": "Hoffmann sign positive bilaterally. Unsteady gait, worse over two months", "date": _ago(3)}]
    fast = [{"display": "Hoffmann sign positive bilaterally. Unsteady gait, rapidly worsening over the past days", "date": _ago(3)}]
    _, card, _ = _decide(engine, ARM_EMG, observations=slow)
    assert _created(card) == [("72141", "urgent")]
    _, card, _ = _decide(engine, ARM_EMG, observations=fast)
    assert _created(card) == [("72141", "stat")]
