"""The hook pipeline through the Flask client: order selection and response building."""

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

from cds_service.pipeline import call_service
from cds_service.protocol import CardResponseSchema
from tests.support.builders import acute_back_pain_prefetch, condition, days_ago, hook_request, searchset, \
    service_request


SERVICE_OF_HOOK = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}
DEMO_REQUESTS = Path(__file__).resolve().parents[1] / "demo" / "requests"
#: The date the demo request files are written at (demo/catalog.yaml referenceDate).
DEMO_REFERENCE = datetime(2026, 11, 26, tzinfo=timezone.utc)


def _post(client, hook, body):
    service = SERVICE_OF_HOOK[hook]
    resp = client.post(f"/cds-services/{service}", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert CardResponseSchema().validate(resp.json) == {}
    return resp.json


def _kinds(response):
    return [c["source"]["topic"]["code"] for c in response["cards"]]


#: Lumbar radiculopathy for 10 days: an EMG is too early, a lumbar MRI premature.
EARLY = {"conditions": searchset(condition("c-1", "M54.16", display="Radiculopathy, lumbar region",
                                           onset=days_ago(10)))}
MRI = service_request("mri-1", cpt="72148", display="MRI lumbar spine without contrast")
EMG = service_request("emg-1", cpt="95886", display="EMG complete, one extremity")


def test_order_select_cards_are_about_the_selected_orders_only(client):
    body = hook_request("order-select", orders=[MRI, EMG], selections=["ServiceRequest/emg-1"], prefetch=EARLY)
    response = _post(client, "order-select", body)
    assert _kinds(response) == ["emg-adds-little"]
    assert "mri-1" not in str(response)  # the MRI was not selected: nothing about it


def test_order_sign_reads_every_draft_order(client):
    response = _post(client, "order-sign", hook_request("order-sign", orders=[MRI, EMG], prefetch=EARLY))
    assert sorted(_kinds(response)) == ["emg-adds-little", "lbp-imaging-premature"]
    # Sorted critical > warning > info.
    assert [c["indicator"] for c in response["cards"]] == ["warning", "info"]


def test_an_order_that_is_not_spine_mri_or_emg_gets_no_card_and_needs_no_data(client):
    lipids = service_request("lab-1", cpt="80061", display="Lipid panel")
    # No prefetch at all: nothing is fetched for an order this service does not advise on.
    body = hook_request("order-sign", orders=[lipids], prefetch={})
    assert _post(client, "order-sign", body) == {"cards": []}


def test_empty_draft_orders_get_no_card(client):
    body = hook_request("order-sign", orders=[])
    assert _post(client, "order-sign", body) == {"cards": []}


def test_invalid_prefetch_resources_are_skipped_not_fatal(client):
    bad_condition = {"resourceType": "Condition", "id": "c1"}  # no subject: invalid R4
    prefetch = acute_back_pain_prefetch()
    prefetch["conditions"]["entry"].append({"resource": bad_condition})
    assert _kinds(_post(client, "order-sign", hook_request("order-sign", prefetch=prefetch))) == ["lbp-imaging-premature"]


def test_suggestion_actions_refer_to_the_draft_order(client):
    response = _post(client, "order-sign", hook_request("order-sign", orders=[MRI], prefetch=acute_back_pain_prefetch()))
    (card,) = response["cards"]
    (suggestion,) = card["suggestions"]
    assert suggestion["actions"] == [{"type": "delete", "description": suggestion["actions"][0]["description"],
                                      "resourceId": "ServiceRequest/mri-1"}]
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])


def test_suggested_orders_are_for_the_context_patient_even_when_the_draft_has_no_subject(client):
    """A draft without subject (legal in a draft) must not give a ServiceRequest with an empty patient."""
    flags = searchset(condition("c-ret", "R33.9", display="Retention of urine", patient="p-7", onset=days_ago(2)),
                      condition("c-rad", "M51.17", display="Disc disorder with radiculopathy, lumbosacral",
                                patient="p-7", onset=days_ago(40)))
    emg = service_request("emg-9", cpt="95886", display="EMG/NCS bilateral lower extremities", patient="p-7")
    del emg["subject"]
    body = hook_request("order-sign", orders=[emg], prefetch={"conditions": flags}, patient="p-7")
    (card,) = _post(client, "order-sign", body)["cards"]
    assert card["indicator"] == "critical"
    created = [a["resource"] for s in card["suggestions"] for a in s["actions"] if a["type"] == "create"]
    assert created and all(r["subject"] == {"reference": "Patient/p-7"} for r in created)


def _demo_request(name: str) -> dict:
    return json.loads((DEMO_REQUESTS / name).read_text())


def _demo_cards(app, body: dict) -> list[dict]:
    """The cards for a demo request, evaluated at the demo's reference date (the files' dates)."""
    engine = app.extensions["cds_engine"]
    service = engine.registry.get(SERVICE_OF_HOOK[body["hook"]])
    return call_service(engine, service, body, now=DEMO_REFERENCE)["cards"]


def _prior_mri_detail(app, request_file: str) -> str:
    cards = _demo_cards(app, _demo_request(request_file))
    (card,) = [c for c in cards if c["source"]["topic"]["code"] == "prior-mri-reading"]
    return card["detail"]


def test_asymptomatic_mri_figures_are_quoted_for_lumbar_mri_only(app):
    """Brinjikji's age table comes from lower-back studies: not for a neck MRI."""
    lumbar = _prior_mri_detail(app, "demo-lumbar-1.order-select.json")
    assert "In people **without back pain** around age" in lumbar and "disc bulge" in lumbar
    cervical = _prior_mri_detail(app, "demo-cervical-1.order-select.json")
    assert "without back pain" not in cervical and "%" not in cervical.split("**From the record:**")[0]
    assert "lower-back studies" in cervical


def test_no_suggestion_to_add_an_emg_that_is_already_among_the_draft_orders(app):
    """A repeat MRI after a normal MRI suggests an EMG/NCS, unless one is already being ordered."""
    body = _demo_request("demo-normal-mri-1.order-sign.json")

    def kinds(request: dict) -> list[str]:
        return [c["source"]["topic"]["code"] for c in _demo_cards(app, request)]

    assert "edx-may-answer-mri-question" in kinds(body)
    lumbar = _demo_request("demo-lumbar-1.order-sign.json")
    (emg,) = [e for e in lumbar["context"]["draftOrders"]["entry"] if "95886" in json.dumps(e["resource"]["code"])]
    emg = copy.deepcopy(emg)
    emg["resource"]["subject"] = {"reference": f"Patient/{body['context']['patientId']}"}
    body["context"]["draftOrders"]["entry"].append(emg)
    with_emg = kinds(body)
    assert "edx-may-answer-mri-question" not in with_emg
    assert {"emg-adds-value", "emg-adds-little"} & set(with_emg)  # the EMG order gets its own advice


class _SuppressEverything:
    """A card policy that (wrongly) suppresses every kind, critical ones included: the pipeline's own guard
    must still show the critical card."""

    def __init__(self, kinds):
        self.kinds = set(kinds)

    def suppressed_kinds(self, service_id, patient_id, now):
        return set(self.kinds)

    def record_issued(self, *args, **kwargs):
        pass


def test_the_pipeline_never_suppresses_a_critical_card_whatever_the_policy_says(app):
    import dataclasses

    from tests.scenarios.build import build

    engine = app.extensions["cds_engine"]
    # Cauda equina on a lumbar MRI order (the critical card) beside a warfarin pre-test note on an EMG order.
    scenario = {"now": "2026-11-26", "hook": "order-sign", "patient": {"birthDate": "1970-01-01", "gender": "male"},
                "observations": [{"display": "New urinary retention and saddle numbness", "date": "2026-11-26"}],
                "medications": [{"code": "rxnorm:11289", "display": "Warfarin"}],
                "orders": [{"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"},
                           {"code": "cpt:95886", "display": "EMG/NCS left lower extremity"}]}
    body = build(scenario)
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    service = engine.registry.get("spine-order-sign")
    shown = [c["source"]["topic"]["code"] for c in call_service(engine, service, body, now=now)["cards"]]
    assert "red-flag-urgent-evaluation" in shown and "edx-pretest-notes" in shown
    blocked = dataclasses.replace(engine, policy=_SuppressEverything(engine.cards.kinds))
    after = [c["source"]["topic"]["code"] for c in call_service(blocked, service, body, now=now)["cards"]]
    # The policy's suppression works (the non-critical card goes) but the critical card stays.
    assert "edx-pretest-notes" not in after
    assert "red-flag-urgent-evaluation" in after


def test_card_kinds_for_the_log_come_from_the_specs_whatever_the_policy(app):
    """run_call says the kinds of the cards it returned (the request log line's card_kinds), in their order,
    with the store's policy or with none (NullCardPolicy records nothing)."""
    import dataclasses

    from cds_service.pipeline import NullCardPolicy, run_call

    engine = app.extensions["cds_engine"]
    body = hook_request("order-sign", orders=[MRI, EMG], prefetch=EARLY)
    service = engine.registry.get("spine-order-sign")
    for policy in (engine.policy, NullCardPolicy()):
        outcome = run_call(dataclasses.replace(engine, policy=policy), service, body)
        assert outcome.card_kinds == tuple(_kinds(outcome.response)) == ("lbp-imaging-premature", "emg-adds-little")
        assert outcome.hook_instance == body["hookInstance"]
