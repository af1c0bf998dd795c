"""Prior EMG/NCS and MRI reports as the cards show them, and which EDX orders are advised on (issue 15, item 5).

Each test here failed on the fault it names before the fix:
negated and limited-scope EMG statements read as abnormal; report status dropped ("abnormal:
abnormal study"); reader labels in card text ("ulnar_neuropathy"); one study ordered as two lines
advised on twice; facial/cranial-nerve and junction studies given spine cards; "common without
symptoms" said of cord and root compression.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from cds_service import advice
from cds_service.draft_orders import read_order
from cds_service.pipeline import call_service
from cds_service.reading import classify_order, read_emg_text
from cds_service.reading.lexicon import EMG_MIMICS
from tests.scenarios.build import build

from .fhir import CPT

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
SERVICE = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}
MRI_LUMBAR = {"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}
MRI_CERVICAL = {"code": "cpt:72141", "display": "MRI cervical spine w/o contrast"}
#: Reader vocabularies a clinician must never see: snake_case labels (in Markdown the
#: underscore comes escaped: "ulnar\\_neuropathy").
_LABEL = re.compile(r"[a-z]\\?_[a-z]")


def _cards(app, scenario: dict, hook: str = "order-sign") -> list[dict]:
    engine = app.extensions["cds_engine"]
    body = build({**scenario, "hook": hook}, patient_id=scenario.get("patient_id", "pt-r1"))
    return call_service(engine, engine.registry.get(SERVICE[hook]), body, now=NOW)["cards"]


def _kind(cards: list[dict], kind: str) -> list[dict]:
    return [c for c in cards if c["source"]["topic"]["code"] == kind]


def _emg_report(conclusion: str, status: str = "final", rid: str = "emg1", date: str = "2026-03-03") -> dict:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": status, "subject": {"reference": "Patient/pt-r1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "18749-2", "display": "Electromyogram study"}],
                     "text": "EMG/NCS"},
            "effectiveDateTime": date, "conclusion": conclusion}


def _record(reports: list[dict], order: dict = MRI_LUMBAR, region: str = "lumbar") -> dict:
    code = {"lumbar": ("icd10:M54.16", "Radiculopathy, lumbar region"),
            "cervical": ("icd10:M54.12", "Radiculopathy, cervical region")}[region]
    return {"patient": {"birthDate": "1966-04-04", "gender": "female"},
            "conditions": [{"code": code[0], "display": code[1], "onset": "2025-10-01"}],
            "raw": {"reports": reports}, "orders": [order]}


# --- 1. negated and limited-scope EMG statements --------------------------------------------

NEGATIVE_REPORTS = [
    "No electrodiagnostic evidence of a left lumbosacral radiculopathy; a purely sensory radiculopathy is not assessed by this study.",
    "There is no electrophysiologic evidence of a right C6 radiculopathy. A purely sensory radiculopathy cannot be excluded.",
    "Normal study. This study cannot exclude a purely sensory radiculopathy.",
    "No evidence of a cervical radiculopathy. Sensory radiculopathy is not evaluated by needle EMG.",
    "This study does not assess for a purely sensory radiculopathy. No electrodiagnostic evidence of radiculopathy.",
    "No electrodiagnostic evidence of lumbosacral radiculopathy. Sensory root involvement was not assessed.",
    "No electrodiagnostic evidence to suggest a lumbosacral radiculopathy. Note that EMG is insensitive to a purely sensory radiculopathy.",
    "The findings do not support a left C7 radiculopathy. This study is not able to assess a sensory radiculopathy.",
    "No definite electrodiagnostic evidence of a right L5 or S1 radiculopathy. A purely sensory radiculopathy would not be detected by this study.",
    "Normal study. Purely sensory radiculopathy is beyond the scope of this study.",
]


@pytest.mark.parametrize("text", NEGATIVE_REPORTS)
def test_negated_and_limited_scope_emg_reads_normal(text):
    r = read_emg_text(text)
    assert r.normal is True
    assert not [x for x in r.radiculopathies if x.certainty == "affirmed"]
    # The limit of the study is kept as such, never as a finding.
    assert all(x.not_excluded for x in r.radiculopathies)
    assert r.scope_notes


def test_a_limit_of_the_study_does_not_undo_a_finding():
    r = read_emg_text("Left L5 radiculopathy with active denervation. A purely sensory S1 radiculopathy is not assessed by this study.")
    assert r.normal is False
    assert [(x.roots, x.side, x.certainty) for x in r.radiculopathies if x.certainty == "affirmed"] == [(("L5",), "left", "affirmed")]


def test_negative_emg_with_a_limited_scope_is_shown_as_normal(app):
    cards = _cards(app, _record([_emg_report(NEGATIVE_REPORTS[0])]))
    (card,) = _kind(cards, "prior-emg-reading")
    assert "was normal" in card["summary"] and "abnormal" not in card["summary"]
    assert card["extension"]["org.example.spine-order-cds.reasons"][0] == "prior-emg-normal"
    detail = card["detail"].split("**From the record:**")[0]
    assert "No electrodiagnostic evidence of a left lumbosacral radiculopathy" in detail
    assert "Limits the report states (not findings)" in detail
    assert "An abnormal EMG" not in detail


# --- 2. report status -------------------------------------------------------------------------


def test_preliminary_emg_says_its_status(app):
    report = _emg_report("Left L5 radiculopathy with active denervation.", status="preliminary")
    (card,) = _kind(_cards(app, _record([report])), "prior-emg-reading")
    assert "(preliminary report, not final)" in card["summary"]
    assert "left L5 radiculopathy" in card["summary"]
    assert "**preliminary report, not final**" in card["detail"]
    assert "prior-report-not-final" in card["extension"]["org.example.spine-order-cds.reasons"]


@pytest.mark.parametrize("status", ["amended", "corrected"])
def test_amended_emg_says_so(app, status):
    report = _emg_report("Right carpal tunnel syndrome, moderate.", status=status)
    (card,) = _kind(_cards(app, _record([report], MRI_CERVICAL, "cervical")), "prior-emg-reading")
    assert f"{status} report" in card["detail"].lower()
    assert "not final" not in card["summary"]


@pytest.mark.parametrize("text", ["Abnormal study.", "Abnormal EMG/NCS. See full report.", "Preliminary: abnormal study; dictation to follow."])
@pytest.mark.parametrize("status", ["preliminary", "final"])
def test_an_emg_that_says_nothing_specific_gets_no_card(app, text, status):
    cards = _cards(app, _record([_emg_report(text, status=status)]))
    assert not _kind(cards, "prior-emg-reading")
    assert not any("abnormal study" in c["summary"].lower() for c in cards)


def test_an_emg_with_only_denervation_says_what_is_known(app):
    report = _emg_report("Fibrillation potentials in the left tibialis anterior and peroneus longus.", status="preliminary")
    (card,) = _kind(_cards(app, _record([report])), "prior-emg-reading")
    assert "active denervation, no diagnosis named" in card["summary"] and "preliminary" in card["summary"]


def test_preliminary_mri_says_its_status(app):
    report = {"resourceType": "DiagnosticReport", "id": "mri1", "status": "preliminary",
              "subject": {"reference": "Patient/pt-r1"},
              "code": {"coding": [{"system": "http://loinc.org", "code": "30679-5", "display": "MR Lumbar spine WO contrast"}]},
              "effectiveDateTime": "2026-06-01", "conclusion": "L4-5: mild disc bulge. L5-S1: disc desiccation."}
    (card,) = _kind(_cards(app, _record([report])), "prior-mri-reading")
    assert "(preliminary report, not final)" in card["summary"]
    assert "**preliminary report, not final**" in card["detail"]


@pytest.mark.parametrize("region,code,display,order,with_age", [
    ("lumbar", "30679-5", "MR Lumbar spine WO contrast", MRI_LUMBAR, True),
    ("cervical", "30680-3", "MR Cervical spine WO contrast", MRI_CERVICAL, False),
])
def test_age_figures_are_quoted_only_for_the_lumbar_spine_they_were_measured_in(app, region, code, display, order, with_age):
    # Brinjikji 2015 pooled lumbar studies: no "common at age N" on a cervical MRI, in summary or detail.
    report = {"resourceType": "DiagnosticReport", "id": "mri2", "status": "final",
              "subject": {"reference": "Patient/pt-r1"},
              "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
              "effectiveDateTime": "2026-06-01", "conclusion": "Mild disc bulge at one level. Disc desiccation."}
    (card,) = _kind(_cards(app, _record([report], order, region)), "prior-mri-reading")
    assert ("at age" in card["summary"]) is with_age, card["summary"]
    assert ("%" in card["detail"]) is with_age


# --- 3. no reader labels in card text ---------------------------------------------------------

#: A report phrase for every EMG diagnosis concept the reader knows.
KIND_PHRASES = {
    "radiculopathy": "left L5 radiculopathy",
    "carpal_tunnel": "right carpal tunnel syndrome",
    "ulnar_neuropathy": "left ulnar neuropathy at the elbow",
    "peroneal_neuropathy": "left peroneal neuropathy at the fibular head",
    "tarsal_tunnel": "right tarsal tunnel syndrome",
    "radial_neuropathy": "right radial neuropathy",
    "meralgia_paresthetica": "left meralgia paresthetica",
    "polyneuropathy": "a length-dependent sensorimotor polyneuropathy",
    "plexopathy": "a left brachial plexopathy",
    "myopathy": "a proximal myopathy",
    "motor_neuron_disease": "motor neuron disease",
    "nmj_disorder": "myasthenia gravis",
}


def test_every_emg_kind_has_a_phrase_here():
    assert set(KIND_PHRASES) == {"radiculopathy", *EMG_MIMICS}


@pytest.mark.parametrize("kind", sorted(KIND_PHRASES))
@pytest.mark.parametrize("form", ["affirmed", "negated", "possible"])
def test_prior_emg_card_names_every_kind_in_clinical_words(app, kind, form):
    phrase = KIND_PHRASES[kind]
    text = {"affirmed": f"Electrodiagnostic evidence of {phrase}.",
            "negated": f"Normal study. No electrodiagnostic evidence of {phrase}.",
            "possible": f"Findings suggestive of {phrase}."}[form]
    read = read_emg_text(text)
    assert kind in {x.kind for x in read.neuropathies} | ({"radiculopathy"} if read.radiculopathies else set()) \
        | set(read.negated)
    (card,) = _kind(_cards(app, _record([_emg_report(text, rid="emgx")])), "prior-emg-reading")
    for part in (card["summary"], card["detail"]):
        assert not _LABEL.search(part), part
        assert kind not in part.replace("\\_", "_") or "_" not in kind
    if form != "negated":
        assert "was normal" not in card["summary"]


def test_display_names_say_the_site_only_when_the_report_does(app):
    for text, want, unwanted in [("Left ulnar neuropathy at the elbow, moderate.", "ulnar neuropathy at the elbow", None),
                                 ("Left ulnar neuropathy.", "left ulnar neuropathy", "elbow"),
                                 ("Right brachial plexopathy, upper trunk.", "right brachial plexopathy", None),
                                 ("Right plexopathy.", "right plexopathy", "brachial")]:
        (card,) = _kind(_cards(app, _record([_emg_report(text)], MRI_CERVICAL, "cervical")), "prior-emg-reading")
        assert want in card["summary"]
        assert unwanted is None or unwanted not in card["summary"]


# --- 4. one study ordered as two lines ----------------------------------------------------------


def _edx_lines(*lines: tuple[str, str, str | None]) -> list[dict]:
    out = []
    for i, (code, display, site) in enumerate(lines, 1):
        out.append({"id": f"edx-{i}", "code": f"cpt:{code}", "display": display, **({"bodySite": site} if site else {})})
    return out


TWO_LINE_STUDY = {
    "patient": {"birthDate": "1960-02-02", "gender": "male"},
    "conditions": [{"code": "icd10:M54.17", "display": "Radiculopathy, lumbosacral region", "onset": "2026-06-01"},
                   {"code": "icd10:E11.42", "display": "Type 2 diabetes mellitus with diabetic polyneuropathy"}],
    "medications": [{"code": "rxnorm:1364435", "display": "apixaban 5 MG Oral Tablet"}],
    "reports": [{"kind": "emg", "date": "2025-01-10",
                 "conclusion": "Chronic left L5 radiculopathy without active denervation."}],
}


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("sites", [(None, None), ("left leg", None), ("left leg", "left lower extremity")])
def test_one_study_ordered_as_two_lines_gets_one_card_per_message(app, hook, sites):
    orders = _edx_lines(("95910", "Nerve conduction studies; 7-8 studies", sites[0]),
                        ("95886", "Needle EMG with NCS, each extremity, complete (add-on)", sites[1]))
    scenario = {**TWO_LINE_STUDY, "orders": orders, "selections": ["ServiceRequest/edx-1", "ServiceRequest/edx-2"]}
    cards = _cards(app, scenario, hook)
    kinds = [c["source"]["topic"]["code"] for c in cards]
    assert kinds and len(kinds) == len(set(kinds)), kinds
    assert "edx-pretest-notes" in kinds


def test_two_lines_for_different_limbs_stay_two_studies(vs):
    lines = [read_order({"resourceType": "ServiceRequest", "id": f"o{i}", "subject": {"reference": "Patient/p"},
                         "code": {"coding": [{"system": CPT, "code": code}], "text": text}})
             for i, (code, text) in enumerate([("95886", "EMG left leg"), ("95886", "EMG right arm")])]
    assert len(advice.classify_orders(lines, vs, "p")) == 2


def test_merged_study_names_its_parts(vs):
    lines = [read_order({"resourceType": "ServiceRequest", "id": f"o{i}", "subject": {"reference": "Patient/p"},
                         "code": {"coding": [{"system": CPT, "code": code, "display": display}]}})
             for i, (code, display) in enumerate([("95910", "Nerve conduction studies; 7-8 studies"),
                                                   ("95886", "Needle EMG with NCS, each extremity, complete (add-on)")])]
    (one,) = advice.classify_orders(lines, vs, "p")
    assert one.info.studies == ("emg", "ncs")
    assert one.info.parts == ("ServiceRequest/o0", "ServiceRequest/o1")
    assert one.order.id == "o0" and "Needle EMG" in one.order.text


def test_other_patients_lines_are_not_merged(vs):
    lines = [read_order({"resourceType": "ServiceRequest", "id": f"o{i}", "subject": {"reference": f"Patient/p{i}"},
                         "code": {"coding": [{"system": CPT, "code": code}]}})
             for i, code in enumerate(["95910", "95886"])]
    assert len(advice.classify_orders(lines, vs, "p0")) == 2


# --- 5. electrodiagnostic studies that are not spine work-up ------------------------------------


def _order(text=None, *codes):
    code: dict = {}
    if codes:
        code["coding"] = [{"system": CPT, "code": c} for c in codes]
    if text:
        code["text"] = text
    return read_order({"resourceType": "ServiceRequest", "id": "o1", "code": code})


@pytest.mark.parametrize(("text", "codes"), [
    (None, ("95907", "95867")),  # facial NCS + cranial-nerve needle EMG, one line
    (None, ("95868",)),
    (None, ("95865",)),  # larynx
    (None, ("95866",)),  # hemidiaphragm
    (None, ("95872",)),  # single fibre
    (None, ("95933",)),  # blink reflex
    (None, ("95937", "95910")),  # repetitive stimulation with NCS
    ("Facial nerve conduction study", ("95907",)),
    ("EMG facial nerve", ()),
    ("EMG/NCS facial nerve, Bell's palsy", ()),
    ("Blink reflex", ()),
    ("Single fiber EMG", ()),
    ("SFEMG frontalis", ()),
    ("Repetitive nerve stimulation", ()),
    ("NCS with repetitive stimulation", ()),
    ("EMG laryngeal", ()),
    ("Phrenic nerve conduction study", ()),
    ("Needle EMG of cranial nerve muscles", ()),
    ("Needle EMG extraocular muscles", ()),
    ("EMG for Bell's palsy", ()),
    ("NMJ study with repetitive nerve stimulation, 3 Hz", ()),
])
def test_non_spine_electrodiagnostic_orders_are_not_advised_on(vs, text, codes):
    assert classify_order(_order(text, *codes), vs) is None


@pytest.mark.parametrize(("text", "codes"), [
    ("EMG/NCS left lower extremity", ("95886",)),
    (None, ("95910", "95886")),
    ("EMG/NCS RUE; rule out C6 radiculopathy vs carpal tunnel", ()),
    ("Nerve conduction study right arm", ("95907",)),
    # A diagnosis to separate is not a study of a non-spine target.
    ("EMG/NCS right upper extremity; C8 root vs myasthenia", ()),
])
def test_spine_electrodiagnostic_orders_still_are(vs, text, codes):
    assert classify_order(_order(text, *codes), vs) is not None


BELLS_PALSY = {
    "patient": {"birthDate": "1980-08-08", "gender": "female"},
    "conditions": [{"code": "icd10:G51.0", "display": "Bell's palsy", "onset": "2026-11-01"},
                   {"code": "icd10:M54.12", "display": "Radiculopathy, cervical region", "onset": "2026-01-01"}],
    "medications": [{"code": "rxnorm:1364435", "display": "apixaban 5 MG Oral Tablet"}],
}


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("orders", [
    [{"code": "cpt:95907", "display": "Nerve conduction study, facial nerve"}],
    [{"code": "cpt:95867", "display": "Needle EMG, cranial nerve supplied muscles, unilateral"}],
    [{"id": "a", "code": "cpt:95907", "display": "Nerve conduction studies; 1-2 studies"},
     {"id": "b", "code": "cpt:95867", "display": "Needle EMG, cranial nerve supplied muscles, unilateral"}],
    [{"display": "EMG facial nerve"}],
    [{"display": "Blink reflex study"}],
])
def test_a_facial_study_for_bells_palsy_gets_no_spine_card(app, hook, orders):
    scenario = {**BELLS_PALSY, "orders": orders,
                "selections": [f"ServiceRequest/{o.get('id', f'draft-{i}')}" for i, o in enumerate(orders, 1)]}
    assert _cards(app, scenario, hook) == []


def test_a_facial_emg_report_is_not_a_prior_spine_emg(app):
    report = _emg_report("Right facial neuropathy with active denervation in the frontalis and orbicularis oris.")
    report["code"] = {"coding": [{"system": CPT, "code": "95867"}], "text": "Needle EMG, cranial nerve supplied muscles"}
    assert not _kind(_cards(app, _record([report])), "prior-emg-reading")


# --- 6. MRI findings and "common without symptoms" --------------------------------------------

CORD_MRI = ("C5-6: Broad-based disc osteophyte complex with severe central canal stenosis and cord compression. "
            "Increased T2 signal within the cord at C5-6 consistent with myelomalacia. C4-5: mild disc bulge. "
            "Mild bilateral foraminal narrowing at C6-7.")


def _mri_report(conclusion: str, kind: str = "lumbar") -> dict:
    code = {"lumbar": ("30679-5", "MR Lumbar spine WO contrast"), "cervical": ("30667-0", "MR Cervical spine WO contrast")}[kind]
    return {"resourceType": "DiagnosticReport", "id": "mri1", "status": "final", "subject": {"reference": "Patient/pt-r1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code[0], "display": code[1]}]},
            "effectiveDateTime": "2026-06-01", "conclusion": conclusion}


def test_cord_compression_and_myelomalacia_are_not_called_common_without_symptoms(app):
    # Over a year old, the cord finding is no longer the myelopathy red flag (red-flags.yaml sign_days):
    # the prior-MRI card reads it, and must not call it incidental.
    report = _mri_report(CORD_MRI, "cervical")
    report["effectiveDateTime"] = "2025-06-01"
    cards = _cards(app, _record([report], MRI_CERVICAL, "cervical"))
    assert not _kind(cards, "red-flag-urgent-evaluation")
    (card,) = _kind(cards, "prior-mri-reading")
    assert "common at age" not in card["summary"] and "not a finding common without symptoms" in card["summary"]
    assert "cord signal change" in card["summary"]
    before = card["detail"].split("**From the record:**")[0]
    assert "**Not findings that are common without symptoms:**" in before
    assert "C5-C6: cord compression" in before and "C5-C6: severe central canal stenosis" in before
    assert "myelopathy" in before
    assert "prior-mri-not-common-without-symptoms" in card["extension"]["org.example.spine-order-cds.reasons"]


def test_root_compression_and_severity_and_zone_are_kept(app):
    text = ("L4-5: Left subarticular disc extrusion compressing the traversing left L5 nerve root. Severe left lateral "
            "recess stenosis. L5-S1: mild disc bulge, disc desiccation, facet arthropathy.")
    (card,) = _kind(_cards(app, _record([_mri_report(text)])), "prior-mri-reading")
    before = card["detail"].split("**From the record:**")[0]
    assert "L4-L5: compression of the left L5 nerve root" in before
    assert "L4-L5: severe left lateral recess (subarticular) stenosis" in before
    assert "L4-L5: left subarticular disc extrusion" in before
    assert "1% of people without back pain (Jensen 1994)" in before
    # Brinjikji figures only for what it measured and this MRI shows.
    quoted = before.split("Brinjikji 2015, 3,110 people)")[1].split("\n\n")[0]
    assert "disc bulge" in quoted and "disc signal loss" in quoted and "facet degeneration" in quoted
    assert "annular fissure" not in quoted and "extrusion" not in quoted and "stenosis" not in quoted


def test_degeneration_alone_is_common_without_symptoms(app):
    (card,) = _kind(_cards(app, _record([_mri_report("L4-5: mild disc bulge. L5-S1: disc desiccation.")])), "prior-mri-reading")
    assert "common at age" in card["summary"] and "not a finding" not in card["summary"]
    assert "Not findings that are common" not in card["detail"]


def test_moderate_stenosis_is_not_said_to_be_common(app):
    (card,) = _kind(_cards(app, _record([_mri_report("L4-5: moderate left foraminal stenosis.")])), "prior-mri-reading")
    assert "common" not in card["summary"]
    assert "without back pain" not in card["detail"]


@pytest.mark.parametrize(("text", "row"), [
    ("L4-5: loss of disc height.", "disc height loss"),
    ("L5-S1: disc desiccation.", "disc signal loss"),
    ("L3-4: degenerative disc disease.", "disc degeneration"),
])
def test_disc_degeneration_is_quoted_under_the_row_brinjikji_measured(app, text, row):
    (card,) = _kind(_cards(app, _record([_mri_report(text)])), "prior-mri-reading")
    quoted = card["detail"].split("Brinjikji 2015, 3,110 people)")[1].split("\n\n")[0]
    assert row in quoted and quoted.count("%") == 1


@pytest.mark.parametrize("status", ["preliminary", "partial", "registered", "final"])
def test_summaries_stay_within_the_limit_with_a_status_and_long_findings(app, status):
    emg = _emg_report("Moderate to severe chronic and active left L3, L4, L5 and S1 polyradiculopathy with reinnervation.",
                      status=status, date="2025-12-31")
    mri = _mri_report("L1-2, L2-3, L3-4, L4-5 and L5-S1: moderate to severe bilateral extraforaminal disc extrusion compressing "
                      "the exiting left L1, L2, L3, L4 and L5 nerve roots, with loss of disc height and desiccation.")
    mri["status"] = status
    cards = _cards(app, _record([emg, mri]))
    kinds = {c["source"]["topic"]["code"]: c for c in cards}
    assert {"prior-emg-reading", "prior-mri-reading"} <= set(kinds)
    for kind in ("prior-emg-reading", "prior-mri-reading"):
        assert len(kinds[kind]["summary"]) < 140
        assert (status == "final") == ("not final" not in kinds[kind]["summary"] and "no final" not in kinds[kind]["summary"])


def test_a_possible_cord_signal_change_is_named_not_left_under_common(app):
    text = "C5-6: mild disc bulge. Possible early myelomalacia at C5-6."
    (card,) = _kind(_cards(app, _record([_mri_report(text, "cervical")], MRI_CERVICAL, "cervical")), "prior-mri-reading")
    assert "possible cord signal change" in card["summary"] and "common at age" not in card["summary"]
    assert "Possible early myelomalacia" in card["detail"]
