"""The ACR Low Back Pain variant of a drafted lumbar MRI (config/guidelines/imaging-appropriateness.yaml).

Rule-level: the picture is read from a record built like the scenarios, then the placement, the card and
the PAMA rating are worked out with the configured table, or with the table changed in a copy of
config/guidelines, which shows the decision comes from the table and not from code.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from cds_service import advice
from cds_service.fhir import gather_record
from cds_service.localisation.localise import localise
from cds_service.draft_orders import extract_orders
from cds_service.pipeline import call_service
from cds_service.protocol import CardResponseSchema, validate_hook_request
from cds_service.reading import read_record
from cds_service.rules.appropriateness import appropriateness_card, place, rating, rating_action
from cds_service.rules.config import RuleConfigError, load_rule_config
from cds_service.rules.red_flags import assess
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
TODAY = NOW.date()
GUIDELINES = Path(__file__).resolve().parents[2] / "config" / "guidelines"
MRI = {"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}
MRI_CONTRAST = {"code": "cpt:72158", "display": "MRI lumbar spine w/o & w/ contrast"}
PAMA = "http://fhir.org/argonaut/Extension/pama-rating"


def _ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def _scenario(pain_days: int = 14, born: str = "1980-01-01", extra: list | None = None, order: dict = MRI,
              medications: list | None = None, hook: str = "order-sign") -> dict:
    return {"now": TODAY.isoformat(), "hook": hook, "patient": {"birthDate": born, "gender": "female"},
            "conditions": [{"code": "icd10:M54.50", "display": "Low back pain, unspecified", "onset": _ago(pain_days)},
                           *(extra or [])],
            "medications": medications or [], "orders": [order]}


def _decide(engine, scenario: dict, cfg=None):
    """(placement, card spec, rating) for the scenario's one order."""
    cfg = cfg or engine.rules
    service = engine.registry.get("spine-order-sign")
    request = validate_hook_request(build(scenario), service.hook)
    context = request["context"]
    [o] = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, NOW)
    flags = assess(o, picture, cfg, NOW, localise(o, picture, NOW))
    placed = place(o, picture, cfg, NOW, flags)
    return placed, appropriateness_card(o, picture, cfg, NOW, placed), rating(o, placed, cfg), (o, placed, cfg)


CANCER_HISTORY = {"code": "icd10:Z85.3", "display": "Personal history of malignant neoplasm of breast"}
POST_OP = {"code": "icd10:M96.1", "display": "Postlaminectomy syndrome, not elsewhere classified", "onset": "2023-01-01"}
OSTEOPOROSIS = {"code": "icd10:M81.0", "display": "Age-related osteoporosis without current pathological fracture"}
STEROIDS = {"code": "icd10:Z79.52", "display": "Long term (current) use of systemic steroids"}
RETENTION = {"code": "icd10:R33.9", "display": "Retention of urine, unspecified", "onset": _ago(1)}


@pytest.mark.parametrize("scenario, variant, card, code", [
    (_scenario(14), 1, "lbp-imaging-premature", "not-appropriate"),
    (_scenario(14, extra=[RETENTION]), 4, None, "appropriate"),
    (_scenario(14, extra=[POST_OP]), 5, "imaging-study-choice", None),
    (_scenario(14, extra=[POST_OP], order=MRI_CONTRAST), 5, None, "appropriate"),
    (_scenario(14, born="1943-05-01", extra=[OSTEOPOROSIS, STEROIDS]), 6, "imaging-study-choice", None),
    (_scenario(14, born="1950-01-01"), 6, "imaging-study-choice", None),  # age 76 alone: older age
    (_scenario(14, extra=[CANCER_HISTORY]), 7, "imaging-study-choice", None),
    (_scenario(14, extra=[CANCER_HISTORY], order=MRI_CONTRAST), 7, None, "appropriate"),
    (_scenario(14, medications=[{"display": "Tacrolimus 1 mg capsule", "date": "2025-01-01"}]), 7,
     "imaging-study-choice", None),
], ids=["v1", "v4-cauda-equina", "v5-no-contrast", "v5-contrast", "v6-osteoporosis-steroids", "v6-age",
        "v7-cancer-history", "v7-contrast", "v7-immunosuppressant"])
def test_each_variant_places_the_order_and_decides_card_and_rating(engine, scenario, variant, card, code):
    placed, spec, rated, _ = _decide(engine, scenario)
    assert placed.variant is not None and placed.variant.number == variant
    assert (spec.kind if spec else None) == card
    assert rated == code


def test_variant_1_needs_no_flag_of_any_level_and_no_background(engine):
    # A cancer history (not critical alone), prior surgery or older age each take the order out of variant 1.
    for extra, born in (([CANCER_HISTORY], "1980-01-01"), ([POST_OP], "1980-01-01"), ([], "1950-01-01")):
        placed, spec, _, _ = _decide(engine, _scenario(14, born=born, extra=extra))
        assert placed.variant.number != 1 and (spec is None or spec.kind != "lbp-imaging-premature")


@pytest.mark.parametrize("days, variant, undecided", [(41, 1, ()), (42, None, (2, 3)), (43, None, (2, 3))])
def test_the_six_week_boundary(engine, days, variant, undecided):
    placed, spec, rated, _ = _decide(engine, _scenario(days))
    assert (placed.variant.number if placed.variant else None) == variant
    assert placed.undecided == undecided
    # Variant 1: premature card and not appropriate; variant 2 or 3 cannot be told: no card, no rating.
    assert (spec.kind if spec else None) == ("lbp-imaging-premature" if variant == 1 else None)
    assert rated == ("not-appropriate" if variant == 1 else None)


def test_a_cancer_history_with_old_pain_is_not_variant_7(engine):
    placed, _, _, _ = _decide(engine, _scenario(120, extra=[CANCER_HISTORY]))
    assert placed.variant is None and placed.undecided == ()  # a flag: not variant 2 or 3 either


def test_basal_cell_carcinoma_is_not_variant_7(engine):
    skin = {"code": "icd10:C44.311", "display": "Basal cell carcinoma of skin of nose", "onset": "2026-06-01"}
    placed, spec, _, _ = _decide(engine, _scenario(14, extra=[skin]))
    assert placed.variant.number == 1 and spec.kind == "lbp-imaging-premature"


def test_a_generic_postprocedural_code_counts_only_when_it_names_the_spine(engine):
    ankle = {"code": "icd10:Z98.1", "display": "Arthrodesis status", "note": "Right ankle arthrodesis 2019."}
    spine = {"code": "icd10:Z98.1", "display": "Arthrodesis status", "note": "L4-L5 fusion 2019."}
    assert _decide(engine, _scenario(14, extra=[ankle]))[0].variant.number == 1
    assert _decide(engine, _scenario(14, extra=[spine]))[0].variant.number == 5


@pytest.mark.parametrize("extra, code, text", [
    ([CANCER_HISTORY], "72158", "MRI lumbar spine without and with contrast"),
    ([POST_OP], "72158", "MRI lumbar spine without and with contrast"),
    ([OSTEOPOROSIS], "72100", "X-ray lumbar spine, 2 or 3 views"),
])
def test_the_suggested_study_replaces_the_draft(engine, extra, code, text):
    _, spec, _, _ = _decide(engine, _scenario(14, extra=extra))
    [suggestion] = spec.suggestions
    assert suggestion.is_recommended
    delete, create = suggestion.actions
    assert delete["type"] == "delete" and delete["resourceId"] == "ServiceRequest/draft-1"
    resource = create["resource"]
    assert resource["code"]["coding"][0] == {"system": "http://www.ama-assn.org/go/cpt", "code": code,
                                             "display": resource["code"]["coding"][0]["display"]}
    assert resource["code"]["text"] == text and "lumbar" in text.lower()
    assert resource["priority"] == "routine" and resource["status"] == "draft"
    assert resource["subject"] == {"reference": "Patient/pt-1"}


def test_the_card_says_which_variant_and_what_placed_the_patient(engine):
    _, spec, _, _ = _decide(engine, _scenario(14, extra=[CANCER_HISTORY]))
    card = engine.cards.render(spec)
    assert "variant 7" in card["summary"] and "Cancer history" in card["summary"] and len(card["summary"]) < 140
    assert "**variant 7**" in card["detail"] and "Personal history of malignant neoplasm of breast (Condition/" in card["detail"]
    assert f"since {_ago(14)}" in card["detail"]
    assert card["indicator"] == "info"
    assert any("doi.org/10.1016/j.jacr.2021.08.002" in link["url"] for link in card.get("links", []))


def test_the_rating_action_annotates_the_draft_without_changing_it(engine):
    _, _, _, (o, placed, cfg) = _decide(engine, _scenario(14))
    action = rating_action(o, placed, cfg)
    resource = action["resource"]
    assert action["type"] == "update" and resource["id"] == "draft-1" and resource["status"] == "draft"
    assert resource["code"] == o.order.raw["code"]
    by_url = {e["url"]: e for e in resource["extension"]}
    assert by_url[PAMA]["valueCodeableConcept"]["coding"] == [
        {"system": "http://fhir.org/argonaut/CodeSystem/pama-rating", "code": "not-appropriate"}]
    assert by_url["http://fhir.org/argonaut/Extension/pama-rating-consult-id"]["valueUri"].startswith("urn:uuid:")
    assert by_url["http://fhir.org/argonaut/Extension/pama-rating-auc-applied"]["valueUri"] == \
        "https://doi.org/10.1016/j.jacr.2021.08.002"
    assert "extension" not in o.order.raw  # the draft itself is left as it was


def test_other_spine_mri_is_rated_no_criteria_apply(engine):
    cervical = {"code": "cpt:72141", "display": "MRI cervical spine w/o contrast"}
    neck = {"code": "icd10:M54.2", "display": "Cervicalgia", "onset": _ago(14)}
    scenario = {"now": TODAY.isoformat(), "patient": {"birthDate": "1980-01-01"}, "conditions": [neck], "orders": [cervical]}
    placed, spec, rated, _ = _decide(engine, scenario)
    assert placed is None and spec is None and rated == "no-criteria-apply"


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_the_response_carries_the_rating_as_a_system_action(app, hook):
    engine = app.extensions["cds_engine"]
    service = engine.registry.get("spine-order-select" if hook == "order-select" else "spine-order-sign")
    response = call_service(engine, service, build(_scenario(14, hook=hook)), now=NOW)
    assert CardResponseSchema().validate(response) == {}
    [action] = response["systemActions"]
    assert action["resource"]["id"] == "draft-1"
    assert [e["valueCodeableConcept"]["coding"][0]["code"] for e in action["resource"]["extension"] if e["url"] == PAMA] \
        == ["not-appropriate"]
    # Not placed (variant 2 or 3): the guide's SHALL NOT rate; no systemActions at all.
    assert "systemActions" not in call_service(engine, service, build(_scenario(60, hook=hook)), now=NOW)


# --- the table is data: changing it moves the decision, a bad key stops start-up -------------------------


def _changed(tmp_path: Path, change) -> Path:
    folder = tmp_path / "config" / "guidelines"
    shutil.copytree(GUIDELINES, folder)
    shutil.copy(GUIDELINES.parent / "bibliography.yaml", folder.parent / "bibliography.yaml")
    path = folder / "imaging-appropriateness.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def test_a_changed_threshold_moves_the_decision(engine, tmp_path):
    def later(data):
        data["thresholds"]["acute_days"]["value"] = 60
        data["thresholds"]["elderly"]["value"] = 80

    cfg = load_rule_config(_changed(tmp_path, later))
    assert _decide(engine, _scenario(50))[0].variant is None
    assert _decide(engine, _scenario(50), cfg)[0].variant.number == 1  # 50 days is now acute
    assert _decide(engine, _scenario(14, born="1950-01-01"))[0].variant.number == 6
    assert _decide(engine, _scenario(14, born="1950-01-01"), cfg)[0].variant.number == 1  # 76 is not elderly now


def test_a_changed_rating_moves_the_rating(engine, tmp_path):
    def rate(data):
        next(v for v in data["variants"] if v["variant"] == 7)["rating"]["without"] = "appropriate"

    cfg = load_rule_config(_changed(tmp_path, rate))
    assert _decide(engine, _scenario(14, extra=[CANCER_HISTORY]))[2] is None
    assert _decide(engine, _scenario(14, extra=[CANCER_HISTORY]), cfg)[2] == "appropriate"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["variants"][0].update(contrast_agent="none"), "variants.4: unknown field(s) contrast_agent"),
    (lambda d: d["variants"][1]["when"][0].update(background=["pregnancy"]), "unknown fact pregnancy"),
    (lambda d: d["background"]["osteoporosis"].update(icd="M81"), "background.osteoporosis: unknown field(s) icd"),
    (lambda d: d["variants"][1].update(source="[no-such-key] said so"), "not in config/bibliography.yaml: no-such-key"),
    (lambda d: d["variants"][1].update(action="premature"), "only variant 1 fires the premature card"),
    (lambda d: d["variants"].pop(), "one entry for each of 1-7"),
    (lambda d: d["variants"][1]["rating"].update(without="may-be-appropriate"), "variants.7.rating"),
    (lambda d: d.update(extra=1), "the file: unknown field(s) extra"),
])
def test_a_bad_table_stops_start_up_naming_the_entry(tmp_path, change, message):
    with pytest.raises(RuleConfigError, match="imaging-appropriateness.yaml") as exc:
        load_rule_config(_changed(tmp_path, change))
    assert message in str(exc.value)
