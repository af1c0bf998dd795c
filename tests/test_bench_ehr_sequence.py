"""The sequence ``bench/ehr_sequence.py`` sends (no timing here): different patients with their own
free text, the four order kinds in turn, drafts a clinician's edits make different (and legal FHIR),
order-select x3 then order-sign in the shapes the service's request schema takes."""

from __future__ import annotations

import base64
import dataclasses
import json
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from fhir.resources.R4B.servicerequest import ServiceRequest

from bench import ehr_sequence as seq
from bench.patients import typical_request
from cds_service.app import create_app
from cds_service.draft_orders import extract_orders, read_order
from cds_service.pipeline import NullCardPolicy
from cds_service.protocol import validate_hook_request
from cds_service.reading import ELECTRODIAGNOSTIC, SPINE_MRI, classify_order
from cds_service.valuesets import load_valuesets
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = 8


@pytest.fixture(scope="module")
def round_one():
    return seq.build_round(1, PATIENTS)


def _bodies(patient) -> list[dict]:
    return [json.loads(data) for _path, data in patient.calls]


def _free_texts(body: dict) -> set[str]:
    """The patient's free text in one call: report texts, notes, observation strings, the order's note."""
    out = set()
    for r in seq._resources(body):
        out |= {n["text"] for n in r.get("note") or ()}
        if isinstance(r.get("valueString"), str):
            out.add(r["valueString"])
        if r["resourceType"] == "DiagnosticReport":
            out.add(r.get("conclusion", ""))
            out |= {base64.b64decode(f["data"]).decode() for f in r.get("presentedForm") or ()}
    for e in body["context"]["draftOrders"]["entry"]:
        out |= {n["text"] for n in e["resource"].get("note") or ()}
    return out - {""}


def _labels(body: dict) -> set[str]:
    return {r["code"]["text"] for r in seq._resources(body)
            if r["resourceType"] in ("Condition", "Observation") and r.get("code", {}).get("text")}


def test_patients_differ_in_id_and_free_text(round_one):
    ids = [p.id for p in round_one]
    assert len(set(ids)) == PATIENTS
    assert all(b["context"]["patientId"] == p.id for p in round_one for b in _bodies(p))
    assert set(ids).isdisjoint(p.id for p in seq.build_round(2, PATIENTS))  # a round never repeats a patient
    texts = [set().union(*map(_free_texts, _bodies(p))) for p in round_one]
    assert all(len(t) >= 8 for t in texts)  # reports, notes, observation values, the order's note
    for a, b in combinations(texts, 2):
        assert not a & b, f"free text shared by two patients: {sorted(a & b)[:3]}"


def test_free_texts_keep_code_wording_and_all_marks_labels_too():
    free, every = seq.patient_record("p-a"), seq.patient_record("p-a", texts="all")
    other = seq.patient_record("p-b")
    assert _labels(free) == _labels(other)  # labels a code system words are shared, as across real patients
    assert _labels(every).isdisjoint(_labels(seq.patient_record("p-b", texts="all")))
    plain = typical_request("p-a")
    assert _free_texts(plain) & _free_texts(typical_request("p-b"))  # what the marking is for
    with pytest.raises(ValueError):
        seq.patient_record("p-a", texts="none")


def test_the_four_kinds_in_turn_as_the_service_reads_them(round_one):
    assert [p.kind for p in round_one] == list(seq.KIND_NAMES) * (PATIENTS // 4)
    assert seq.KIND_NAMES == ("emg-lumbar", "emg-cervical", "mri-lumbar", "xr-chest")
    vs = load_valuesets(ROOT / "config" / "valuesets")
    seen = {}
    for kind in seq.KINDS:
        final = seq.drafts(kind, "p-x")[-1]
        seen[kind.name] = classify_order(read_order(final), vs)
    lumbar, cervical, mri, xr = (seen[n] for n in seq.KIND_NAMES)
    assert (lumbar.kind, lumbar.limbs, lumbar.side) == (ELECTRODIAGNOSTIC, ("lower",), "left")
    assert (cervical.kind, cervical.limbs, cervical.side) == (ELECTRODIAGNOSTIC, ("upper",), "left")
    assert set(lumbar.studies) == set(cervical.studies) == {"emg", "ncs"}
    assert (mri.kind, mri.regions, mri.contrast) == (SPINE_MRI, ("lumbar",), "without")
    assert xr is None  # not advised on
    assert [k.advised for k in seq.KINDS] == [True, True, True, False]


@pytest.mark.parametrize("kind", seq.KINDS, ids=seq.KIND_NAMES)
def test_each_edit_gives_a_different_legal_draft_of_the_same_order(kind):
    versions = seq.drafts(kind, "p-x")
    assert len(versions) == 3
    for a, b in combinations(versions, 2):
        assert a != b
    for v in versions:
        ServiceRequest.model_validate(v)  # legal FHIR R4(B): raises otherwise
        assert (v["id"], v["code"], v["subject"], v["status"], v["intent"]) == \
            (seq.DRAFT_ID, versions[0]["code"], {"reference": "Patient/p-x"}, "draft", "order")
    first, second, third = (read_order(v) for v in versions)
    assert not first.reason_text and not first.body_site_text and first.priority == "routine"
    assert second.reason_codings and second.reason_text == kind.reason[2]
    assert second.body_site_text == (kind.side or "")
    assert third.priority == "asap" and third.raw["note"][0]["text"].endswith("(ref p-x)")
    assert (third.reason_text, third.body_site_text) == (second.reason_text, second.body_site_text)


def _service_hooks() -> dict:
    return {d["id"]: d["hook"] for d in (yaml.safe_load(p.read_text()) for p in (ROOT / "hooks").glob("[!_]*.yaml"))}


def test_three_selects_then_a_sign_in_the_service_s_shapes(round_one):
    services = _service_hooks()
    patient = round_one[0]
    bodies = _bodies(patient)
    paths = [path for path, _ in patient.calls]
    assert [b["hook"] for b in bodies] == ["order-select"] * 3 + ["order-sign"]
    assert [services[p.rsplit("/", 1)[1]] for p in paths] == [b["hook"] for b in bodies]
    assert len({b["hookInstance"] for p in round_one for b in _bodies(p)}) == 4 * PATIENTS
    drafts = [b["context"]["draftOrders"]["entry"][0]["resource"] for b in bodies]
    assert drafts == [*seq.drafts(seq.kind_for(0), patient.id), seq.drafts(seq.kind_for(0), patient.id)[-1]]
    for body in bodies:
        data = validate_hook_request(body, body["hook"])  # the service's schema: raises otherwise
        context = data["context"]
        if body["hook"] == "order-select":
            assert context["selections"] == ["ServiceRequest/draft-1"]
            assert [o.id for o in extract_orders(context["draftOrders"], context["selections"])] == ["draft-1"]
        else:
            assert "selections" not in context
        assert body["prefetch"] == bodies[0]["prefetch"]  # the EHR sends the same record each time
    with pytest.raises(Exception):
        validate_hook_request(bodies[0], "order-sign")  # a select is not a sign
    with pytest.raises(ValueError):
        seq.hook_request("patient-view", seq.patient_record("p-x"), drafts[0], "x")


@pytest.fixture(scope="module")
def engine_client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seq")
    app = create_app(make_settings(store_path=tmp / "store.sqlite3", replay_cache_path=tmp / "replay.sqlite3"))
    engine = app.extensions["cds_engine"]
    app.extensions["cds_engine"] = dataclasses.replace(engine, policy=NullCardPolicy())
    return app.test_client()


@pytest.mark.parametrize("kind", seq.KINDS, ids=seq.KIND_NAMES)
def test_the_advised_orders_give_cards_the_x_ray_none_marking_changes_nothing(engine_client, kind):
    """What the benchmark checks before it measures, and that the patient's own text (the marks) does
    not change what the clinician sees: the cards are those of the unmarked typical record."""
    pid = "p-cards"
    plain = typical_request(pid)
    for position, (service, body) in zip(seq.POSITIONS, seq.patient_calls(pid, kind)):
        answer = engine_client.post(f"/cds-services/{service}", json=body)
        assert answer.status_code == 200
        cards = [(c["source"]["topic"]["code"], c["summary"]) for c in answer.get_json()["cards"]]
        assert bool(cards) == kind.advised, (position, cards)
        unmarked = {**body, "prefetch": plain["prefetch"]}
        again = engine_client.post(f"/cds-services/{service}", json=unmarked).get_json()["cards"]
        assert [(c["source"]["topic"]["code"], c["summary"]) for c in again] == cards
