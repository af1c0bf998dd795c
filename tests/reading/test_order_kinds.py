"""Order recognition: codings first, order text when the EHR sends a local code."""

from __future__ import annotations

import pytest

from cds_service.draft_orders import read_order
from cds_service.reading import ELECTRODIAGNOSTIC, SPINE_MRI, classify_order

from .fhir import CPT, LOINC, SCT


def _order(text=None, *codings, body_site=None):
    code = {}
    if codings:
        code["coding"] = [dict(zip(("system", "code", "display"), c)) for c in codings]
    if text is not None:
        code["text"] = text
    resource = {"resourceType": "ServiceRequest", "id": "o1", "status": "draft", "intent": "order", "code": code}
    if body_site:
        resource["bodySite"] = [{"text": body_site}]
    return read_order(resource)


@pytest.mark.parametrize(
    ("order", "kind", "regions", "contrast", "matched_by"),
    [
        (_order(None, (CPT, "72148")), SPINE_MRI, ("lumbar",), "without", "coding"),
        (_order(None, (CPT, "72156")), SPINE_MRI, ("cervical",), "without-and-with", "coding"),
        (_order(None, (CPT, "72147")), SPINE_MRI, ("thoracic",), "with", "coding"),
        (_order(None, (LOINC, "30854-4")), SPINE_MRI, ("cervical", "thoracic", "lumbar"), "without", "coding"),
        (_order(None, (SCT, "394451000119106")), SPINE_MRI, ("lumbar",), "without", "coding"),
        (_order(None, ("urn:oid:2.16.840.1.113883.6.12", "72141")), SPINE_MRI, ("cervical",), "without", "coding"),
        # a generic spine code: the region and contrast come from the text
        (_order("MRI lumbar spine w/wo contrast", (SCT, "241645008")), SPINE_MRI, ("lumbar",), "without-and-with", "coding"),
        (_order("MRI L-spine w/o"), SPINE_MRI, ("lumbar",), "without", "text"),
        (_order("MR C-spine with and without gadolinium"), SPINE_MRI, ("cervical",), "without-and-with", "text"),
        (_order("MRI T spine w/ contrast"), SPINE_MRI, ("thoracic",), "with", "text"),
        (_order("MRI LS spine non-contrast", ("http://hospital.example/codes", "IMG1234")), SPINE_MRI, ("lumbar",), "without", "text"),
        (_order("MRI whole spine"), SPINE_MRI, ("cervical", "thoracic", "lumbar"), None, "text"),
        (_order("Magnetic resonance imaging cervical spine"), SPINE_MRI, ("cervical",), None, "text"),
    ],
)
def test_spine_mri(vs, order, kind, regions, contrast, matched_by):
    info = classify_order(order, vs)
    assert (info.kind, info.regions, info.contrast, info.matched_by) == (kind, regions, contrast, matched_by)
    assert info.evidence and info.evidence[0].resource_id == "o1"


@pytest.mark.parametrize(
    ("order", "studies", "limbs", "side", "matched_by"),
    [
        (_order(None, (CPT, "95910"), (CPT, "95886")), ("emg", "ncs"), (), None, "coding"),
        (_order(None, (CPT, "95860")), ("emg",), (), None, "coding"),
        (_order("NCS right arm", (CPT, "95907")), ("ncs",), ("upper",), "right", "coding"),
        (_order("EMG/NCV BLE"), ("emg", "ncs"), ("lower",), "bilateral", "text"),
        (_order("EMG/NCS RUE"), ("emg", "ncs"), ("upper",), "right", "text"),
        (_order("nerve conduction study left arm"), ("ncs",), ("upper",), "left", "text"),
        (_order("Electromyography, left lower extremity"), ("emg",), ("lower",), "left", "text"),
        (_order("EMG and nerve conduction studies of both legs"), ("emg", "ncs"), ("lower",), "bilateral", "text"),
        (_order("Electrodiagnostic study", body_site="Left upper extremity"), ("emg", "ncs"), ("upper",), "left", "text"),
        (_order("EMG 4 limbs"), ("emg",), ("upper", "lower"), "bilateral", "text"),
    ],
)
def test_electrodiagnostic(vs, order, studies, limbs, side, matched_by):
    info = classify_order(order, vs)
    assert info.kind == ELECTRODIAGNOSTIC
    assert (info.studies, info.limbs, info.side, info.matched_by) == (studies, limbs, side, matched_by)
    assert info.contrast is None and info.regions == ()


@pytest.mark.parametrize(
    "order",
    [
        _order(None, (CPT, "72131")),  # CT lumbar spine
        _order("CT lumbar spine without contrast"),
        _order("X-ray lumbar spine 2 views"),
        _order("MRI brain w/o"),
        _order("MRA neck"),
        _order("MRI brachial plexus"),
        _order("Physical therapy evaluation"),
        _order(""),
        _order(None),
        _order(None, (LOINC, "24531-6")),  # US retroperitoneum, mislabelled as lumbar MRI in repos
    ],
)
def test_other_orders_are_not_recognised(vs, order):
    assert classify_order(order, vs) is None


def test_sandbox_first_call_with_an_empty_coding(vs):
    order = read_order({"resourceType": "ServiceRequest", "id": "x", "code": {"coding": [{}]}})
    assert classify_order(order, vs) is None


def test_evidence_of_a_coded_order_names_code_value_set_and_mark(vs):
    info = classify_order(_order(None, (CPT, "72148", "MRI lumbar spine without contrast")), vs)
    ev = info.evidence[0]
    assert (ev.matched_by, ev.code, ev.value_set, ev.verification, ev.text) == (
        "coded", f"{CPT}|72148", "order-mri-spine-lumbar", "V", "MRI lumbar spine without contrast")
    assert info.region == "lumbar" and info.order_reference == "ServiceRequest/o1"


def test_reason_codes_and_text_become_indications(vs):
    order = read_order({
        "resourceType": "ServiceRequest", "id": "o2", "code": {"coding": [{"system": CPT, "code": "72148"}]},
        "reasonCode": [{"coding": [{"system": SCT, "code": "128196005", "display": "Lumbar radiculopathy"}]},
                       {"text": "Right leg weakness; rule out cauda equina syndrome. No fever."}],
    })
    found = {(i.kind, i.certainty, i.evidence[0].matched_by) for i in classify_order(order, vs).indications}
    assert ("radiculopathy", "affirmed", "coded") in found
    assert ("cauda-equina-syndrome", "hedged", "text") in found
    assert ("weakness", "affirmed", "text") in found
    assert not any(kind == "fever" for kind, _, _ in found)


def test_an_order_without_reasons_has_no_indications(vs):
    assert classify_order(_order(None, (CPT, "72148")), vs).indications == ()


def test_evidence_dates_are_iso_dates(vs):
    order = read_order({"resourceType": "ServiceRequest", "id": "o3", "authoredOn": "2026-11-26T09:30:00+00:00",
                        "code": {"text": "MRI L-spine w/o"}, "reasonCode": [{"text": "sciatica"}]})
    info = classify_order(order, vs)
    assert info.evidence[0].date == "2026-11-26" and info.indications[0].evidence[0].date == "2026-11-26"
