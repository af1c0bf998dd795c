"""read_record: each finding kind from coded and text data, negated and hedged text, and odd-but-legal FHIR."""

from __future__ import annotations

from datetime import datetime

import pytest

from cds_service.reading import read_record
from cds_service.record import DataGap, PatientRecord

from .fhir import ICD, LOINC, RXNORM, SCT, cc, condition, device, med_request, observation, patient, record, report


def _flags(picture):
    return {(f.category, f.sign) for f in picture.red_flags}


# --- red flags -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("resource", "flag"),
    [
        (condition(cc(None, (ICD, "G83.4"))), ("cauda-equina", "cauda-equina-syndrome")),
        (condition(cc(None, (SCT, "267064002", "Retention of urine"))), ("cauda-equina", "urinary-retention")),
        (condition(cc("New urinary retention")), ("cauda-equina", "urinary-retention")),
        (condition(cc(None, (ICD, "R32"))), ("cauda-equina", "urinary-incontinence")),
        (condition(cc(None, (ICD, "R15.9"))), ("cauda-equina", "fecal-incontinence")),
        (condition(cc("Saddle anaesthesia")), ("cauda-equina", "saddle-anesthesia")),
        (condition(cc("Reduced pinprick sensation over the perineum (saddle area)")), ("cauda-equina", "saddle-anesthesia")),
        (observation(cc("Perineal sensation"), valueString="saddle numbness reported"), ("cauda-equina", "saddle-anesthesia")),
        (condition(cc("Progressive left leg weakness")), ("motor-deficit", "progressive-weakness")),
        (condition(cc(None, (ICD, "M21.372"))), ("motor-deficit", "foot-drop")),
        (observation(cc("Motor exam"), valueString="Left ankle dorsiflexion 2/5 strength"), ("motor-deficit", "severe-weakness")),
        (condition(cc(None, (ICD, "M47.12"))), ("myelopathy", "myelopathy")),
        (condition(cc("Unsteady gait")), ("myelopathy", "gait-disturbance")),
        (condition(cc("Clumsiness of both hands")), ("myelopathy", "hand-clumsiness")),
        (observation(cc("Hoffmann sign"), valueString="positive on the right"), ("myelopathy", "hoffmann-sign")),
        (observation(cc("Reflexes"), valueString="Hyperreflexia in both legs"), ("myelopathy", "hyperreflexia")),
        (condition(cc(None, (SCT, "386661006"))), ("infection", "fever")),
        (condition(cc(None, (ICD, "M46.26"))), ("infection", "spinal-infection")),
        (condition(cc("Epidural abscess")), ("infection", "spinal-infection")),
        (condition(cc("IV drug use")), ("infection", "iv-drug-use")),
        (condition(cc(None, (ICD, "Z85.3")), clinical="resolved"), ("cancer", "cancer-history")),
        (condition(cc(None, (ICD, "C79.51"))), ("cancer", "bone-metastasis")),
        (condition(cc("History of prostate cancer")), ("cancer", "malignancy")),
        (condition(cc(None, (ICD, "S32.010A")), onsetDateTime="2026-11-01"), ("trauma", "spine-fracture")),
        (condition(cc("L1 compression fracture")), ("trauma", "spine-fracture")),
        (condition(cc("Motor vehicle collision"), onsetDateTime="2026-11-20"), ("trauma", "significant-trauma")),
    ],
)
def test_red_flag(vs, now, resource, flag):
    picture = read_record(record(resource), vs, now)
    assert _flags(picture) == {flag}
    rf = picture.red_flags[0]
    assert rf.evidence[0].resource_id == resource.id and rf.evidence[0].text


@pytest.mark.parametrize(
    "resource",
    [
        condition(cc("No saddle anesthesia")),
        condition(cc("Denies bowel or bladder incontinence")),
        condition(cc("Family history of breast cancer")),
        condition(cc("Colon cancer screening")),
        observation(cc("Hoffmann sign"), valueString="negative bilaterally"),
        observation(cc("Saddle anesthesia"), valueBoolean=False),
        observation(cc(None, (SCT, "267064002")), valueCodeableConcept=cc(None, (SCT, "260385009", "Negative"))),
        observation(cc("Saddle anesthesia"), status="entered-in-error"),
        condition(cc(None, (ICD, "G83.4")), verification="refuted"),
        condition(cc(None, (ICD, "G83.4")), verification="entered-in-error"),
        condition(cc(None, (ICD, "R33.9")), clinical="resolved"),
        condition(cc("Afebrile")),
        condition(cc(None, (ICD, "S32.010A")), clinical="resolved", onsetDateTime="2019-01-01"),  # old, healed fracture
    ],
)
def test_no_red_flag(vs, now, resource):
    assert read_record(record(resource), vs, now).red_flags == ()


def test_hedged_red_flag_keeps_its_certainty(vs, now):
    picture = read_record(record(condition(cc("Possible cauda equina syndrome"))), vs, now)
    assert picture.red_flags[0].certainty == "hedged"
    provisional = read_record(record(condition(cc(None, (ICD, "G83.4")), verification="provisional")), vs, now)
    assert provisional.red_flags[0].certainty == "hedged"
    assert provisional.red_flags[0].evidence[0].certainty == "hedged"


def test_fever_from_a_temperature_reading(vs, now):
    hot = observation(cc(None, (LOINC, "8310-5")), valueQuantity={"value": 38.6, "unit": "C", "code": "Cel"},
                      effectiveDateTime="2026-11-25T08:00:00Z")
    normal = observation(cc(None, (LOINC, "8310-5")), valueQuantity={"value": 98.6, "code": "[degF]"},
                         effectiveDateTime="2026-11-25T09:00:00Z")
    old = observation(cc(None, (LOINC, "8310-5")), valueQuantity={"value": 39.0, "code": "Cel"},
                      effectiveDateTime="2025-01-01")
    picture = read_record(record(hot, normal, old), vs, now)
    assert _flags(picture) == {("infection", "fever")}
    assert [e.resource_id for e in picture.red_flags[0].evidence] == [hot.id]
    assert picture.red_flags[0].recent is True


def test_trauma_is_recent_only_within_the_window(vs, now):
    recent = read_record(record(condition(cc(None, (ICD, "S22.000A")), onsetDateTime="2026-10-01")), vs, now)
    assert recent.red_flags[0].recent is True
    old_but_active = read_record(record(condition(cc(None, (ICD, "S22.000A")), onsetDateTime="2024-01-01")), vs, now)
    assert old_but_active.red_flags[0].recent is False
    undated = read_record(record(condition(cc(None, (ICD, "S22.000A")))), vs, now)
    assert undated.red_flags[0].recent is None


def test_coded_evidence_comes_before_text_evidence(vs, now):
    picture = read_record(record(
        condition(cc("Urinary retention, new")),
        condition(cc(None, (ICD, "R33.9", "Retention of urine, unspecified"))),
    ), vs, now)
    assert [e.matched_by for e in picture.red_flags[0].evidence] == ["coded", "text"]
    coded = picture.red_flags[0].evidence[0]
    assert (coded.code, coded.value_set, coded.verification) == (f"{ICD}|R33.9", "urinary-retention", "M")


# --- root problem --------------------------------------------------------------------------

def test_root_problem_from_codes_and_text(vs, now):
    picture = read_record(record(
        condition(cc("Left L5 radiculopathy", (ICD, "M54.16", "Radiculopathy, lumbar region")), onsetDateTime="2026-10-01"),
        condition(cc(None, (ICD, "M54.42")), onsetDateTime="2026-09-15"),
    ), vs, now)
    (rp,) = picture.root_problems
    assert (rp.region, rp.kinds, rp.roots, rp.side) == ("lumbar", ("radiculopathy", "sciatica"), ("L5",), "left")
    assert (rp.onset.text, rp.onset_basis, rp.duration_days) == ("2026-09-15", "onset", (72, 72))


def test_the_code_label_can_hedge_a_coded_problem(vs, now):
    (rp,) = read_record(record(condition(cc("Right S1 radiculopathy, suspected", (ICD, "M54.17")))), vs, now).root_problems
    assert (rp.certainty, rp.roots, rp.side, rp.evidence[0].matched_by) == ("hedged", ("S1",), "right", "coded")


def test_a_disc_level_in_a_problem_entry_is_a_level_not_two_roots(vs, now):
    (rp,) = read_record(record(condition(cc("L4-5 disc protrusion with left L5 radiculopathy"))), vs, now).root_problems
    assert (rp.levels, rp.roots, rp.kinds) == (("L4-L5",), ("L5",), ("radiculopathy", "disc-herniation"))


def test_root_problem_level_from_the_code(vs, now):
    (rp,) = read_record(record(condition(cc(None, (ICD, "M50.122")))), vs, now).root_problems
    assert (rp.region, rp.levels) == ("cervical", ("C5-C6",))


@pytest.mark.parametrize(
    ("extra", "text", "basis", "duration"),
    [
        ({"onsetDateTime": "2026-11"}, "2026-11", "onset", (0, 25)),
        ({"onsetPeriod": {"start": "2026-10-27"}}, "2026-10-27", "onset", (30, 30)),
        ({"onsetAge": {"value": 56, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}},
         "2026-05-20/2027-05-19", "onset", (0, 190)),
        ({"onsetString": "started 2026-08-01 lifting boxes"}, "2026-08-01", "onset", (117, 117)),
        ({"onsetString": "a few weeks ago", "recordedDate": "2026-11-01"}, "2026-11-01", "recorded", (25, 25)),
        ({}, None, None, None),
    ],
)
def test_onset_choice_types(vs, now, extra, text, basis, duration):
    (rp,) = read_record(record(condition(cc("Lumbar radiculopathy"), **extra)), vs, now).root_problems
    assert (rp.onset.text if rp.onset else None, rp.onset_basis, rp.duration_days) == (text, basis, duration)


def test_onset_age_without_birth_date_is_unknown(vs, now):
    rec = record(condition(cc("Sciatica"), onsetAge={"value": 50, "code": "a"}), with_patient=False)
    (rp,) = read_record(rec, vs, now).root_problems
    assert rp.onset is None and rp.duration_days is None


def test_resolved_root_problem_is_not_current(vs, now):
    rec = record(condition(cc(None, (ICD, "M54.16")), clinical="resolved"), condition(cc("Sciatica"), abatementDateTime="2025-01-01", clinical=None))
    assert read_record(rec, vs, now).root_problems == ()


def test_axial_pain_is_kept_apart_from_root_problems(vs, now):
    picture = read_record(record(condition(cc(None, (ICD, "M54.50"))), condition(cc("Neck pain"))), vs, now)
    assert picture.root_problems == ()
    assert {(a.kind, a.region) for a in picture.axial_pain} == {("axial-pain", "lumbar"), ("axial-pain", "cervical")}


# --- mimics, diabetes, symptoms ------------------------------------------------------------

@pytest.mark.parametrize(
    ("resource", "kind", "side"),
    [
        (condition(cc(None, (ICD, "G56.01"))), "carpal-tunnel-syndrome", "right"),
        (condition(cc("Carpal tunnel syndrome", (SCT, "57406009")), bodySite=[{"text": "Left wrist"}]), "carpal-tunnel-syndrome", "left"),
        (condition(cc("Right cubital tunnel syndrome")), "ulnar-neuropathy", "right"),
        (condition(cc(None, (ICD, "G57.32"))), "peroneal-neuropathy", "left"),
        (condition(cc("Peripheral neuropathy")), "polyneuropathy", None),
        (condition(cc(None, (ICD, "E11.42"))), "polyneuropathy", None),
        (condition(cc(None, (ICD, "G54.0"))), "plexopathy", None),
        (condition(cc("Inflammatory myopathy")), "myopathy", None),
        (condition(cc(None, (ICD, "G57.51"))), "tarsal-tunnel-syndrome", "right"),
    ],
)
def test_mimic(vs, now, resource, kind, side):
    (m,) = read_record(record(resource), vs, now).mimics
    assert (m.kind, m.side) == (kind, side)


def test_an_entrapment_is_not_also_a_polyneuropathy(vs, now):
    mimics = read_record(record(condition(cc("Ulnar neuropathy at the elbow"))), vs, now).mimics
    assert [m.kind for m in mimics] == ["ulnar-neuropathy"]


def test_diabetes_with_neuropathy(vs, now):
    picture = read_record(record(condition(cc("Type 2 diabetes with diabetic polyneuropathy", (ICD, "E11.42")))), vs, now)
    assert picture.diabetes is not None and picture.diabetes.evidence[0].code == f"{ICD}|E11.42"
    assert picture.mimics[0].subtype == "diabetic"


def test_symptom_character(vs, now):
    picture = read_record(record(
        condition(cc("Intermittent numbness and tingling in the left hand")),
        condition(cc(None, (ICD, "R20.2"))),
    ), vs, now)
    kinds = {(s.kind, s.limb) for s in picture.symptoms}
    assert ("sensory", "upper") in kinds and ("intermittent", "upper") in kinds
    assert picture.mostly_sensory
    weak = read_record(record(condition(cc("Numbness and weakness of the right leg"))), vs, now)
    assert not weak.mostly_sensory


# --- reports -------------------------------------------------------------------------------

def test_mri_report_by_code_with_conclusion(vs, now):
    r = report(cc(None, (LOINC, "30679-5", "MR Lumbar spine WO contrast")), effectiveDateTime="2026-06-01",
               conclusion="Left paracentral protrusion at L5-S1 contacting the left S1 nerve root. No stenosis.")
    (mri,) = read_record(record(r), vs, now).mri_reports
    assert mri.regions == ("lumbar",) and mri.date.text == "2026-06-01" and mri.status == "final"
    assert [(f.kind, f.level, f.side) for f in mri.reading.findings] == [("protrusion", "L5-S1", "left"), ("root_contact", "L5-S1", "left")]
    assert mri.evidence[0].matched_by == "coded" and mri.evidence[0].date == "2026-06-01"


def test_emg_report_by_title_with_html_attachment(vs, now):
    html = "<html><body><p>IMPRESSION:</p><p>Chronic right C7 radiculopathy without active denervation.</p></body></html>"
    r = report(cc("EMG/NCS right upper extremity"), text=html, content_type="text/html", issued="2026-07-02T10:00:00Z")
    (emg,) = read_record(record(r), vs, now).emg_reports
    (rad,) = emg.reading.radiculopathies
    assert (rad.roots, rad.side, rad.active, rad.chronic) == (("C7",), "right", False, True)
    assert emg.date.text == "2026-07-02"


def test_generic_report_code_falls_back_to_the_title_line(vs, now):
    r = report(cc(None, (LOINC, "18748-4")), text="EXAM: MRI CERVICAL SPINE WITHOUT CONTRAST\nIMPRESSION: Normal study.")
    (mri,) = read_record(record(r), vs, now).mri_reports
    assert mri.regions == ("cervical",) and mri.reading.normal is True


def test_reports_are_newest_first_and_odd_ones_skipped(vs, now):
    old = report(cc(None, (LOINC, "24968-0")), conclusion="Mild bulge at L4-5.", effectiveDateTime="2020-01-01")
    new = report(cc(None, (LOINC, "24968-0")), conclusion="Normal.", effectiveDateTime="2026-01")
    undated = report(cc(None, (LOINC, "24968-0")), conclusion="No herniation.")
    wrong = report(cc(None, (LOINC, "24968-0")), status="entered-in-error", conclusion="Large extrusion at L4-5.")
    chest = report(cc("CT chest"), conclusion="No pulmonary embolism.")
    pdf = report(cc(None, (LOINC, "18749-2")), text="%PDF-1.4 ...", content_type="application/pdf")
    picture = read_record(record(old, new, undated, wrong, chest, pdf), vs, now)
    assert [r.evidence[0].resource_id for r in picture.mri_reports] == [new.id, old.id, undated.id]
    (emg,) = picture.emg_reports
    assert emg.text_available is False and emg.reading.normal is None


def test_report_text_in_conclusion_and_attachment_is_read_once(vs, now):
    conclusion = "Right paracentral protrusion at L4-5."
    full = "FINDINGS: L4-5: Right paracentral protrusion. L5-S1: mild bulge.\nIMPRESSION: " + conclusion
    (mri,) = read_record(record(report(cc(None, (LOINC, "24968-0")), conclusion=conclusion, text=full)), vs, now).mri_reports
    assert [(f.kind, f.level) for f in mri.reading.findings] == [("protrusion", "L4-L5"), ("bulge", "L5-S1")]


# --- EMG safety ------------------------------------------------------------------------------

def test_anticoagulants_by_code_by_name_and_by_condition(vs, now):
    picture = read_record(record(
        med_request(cc(None, (RXNORM, "1364430", "apixaban"))),
        med_request(cc("Xarelto 20 mg tablet", (RXNORM, "1232086", "rivaroxaban 20 MG Oral Tablet [Xarelto]"))),
        med_request(cc("Warfarin 5 mg"), status="stopped"),
        med_request(cc("Clopidogrel 75 mg daily")),
        condition(cc(None, (ICD, "Z79.01"))),
    ), vs, now)
    assert {(m.ingredient, m.evidence[0].matched_by) for m in picture.anticoagulants} == {
        ("apixaban", "coded"), ("rivaroxaban", "text"), (None, "coded")}
    assert [m.ingredient for m in picture.antiplatelets] == ["clopidogrel"]


def test_cardiac_devices(vs, now):
    picture = read_record(record(
        device(cc(None, (SCT, "72506001", "Implantable defibrillator"))),
        device(cc("Dual chamber pacemaker")),
        device(cc("Cardiac pacemaker"), status="inactive"),
        device(None, deviceName=[{"name": "Medtronic ICD", "type": "user-friendly-name"}]),
        condition(cc(None, (ICD, "Z95.0"))),
        condition(cc("ICD-10 coding review")),  # "ICD" on a Condition is the code system, not a device
    ), vs, now)
    kinds = sorted((d.kind, len(d.evidence)) for d in picture.cardiac_devices)
    assert kinds == [("defibrillator", 2), ("pacemaker", 2)]


def test_labs_latest_within_window(vs, now):
    picture = read_record(record(
        observation(cc(None, (LOINC, "6301-6")), valueQuantity={"value": 2.8}, effectiveDateTime="2026-11-20"),
        observation(cc(None, (LOINC, "6301-6")), valueQuantity={"value": 1.1}, effectiveDateTime="2026-10-01"),
        observation(cc(None, (LOINC, "777-3")), valueQuantity={"value": 45000, "code": "/uL"}, effectiveDateTime="2026-11-21"),
    ), vs, now)
    assert picture.inr.value == 2.8 and picture.inr.date == "2026-11-20"
    assert (picture.platelets.value, picture.platelets.unit) == (45.0, "10*3/uL")


def test_bleeding_disorder_and_lymphedema(vs, now):
    picture = read_record(record(condition(cc("Hemophilia A")), condition(cc(None, (ICD, "I97.2")))), vs, now)
    assert [b.kind for b in picture.bleeding_disorders] == ["bleeding-disorder"]
    assert [x.kind for x in picture.lymphedema] == ["lymphedema"]


# --- the patient, the clock, odd data ----------------------------------------------------------

def test_age_sex_and_gaps(vs, now):
    rec = PatientRecord(patient=patient("1960-11-27", "male"), gaps=[DataGap("reports", "timeout")])
    picture = read_record(rec, vs, now)
    assert (picture.age_years, picture.sex, picture.data_gaps) == (65, "male", ("reports",))
    empty = read_record(PatientRecord(), vs, now)
    assert (empty.age_years, empty.sex, empty.red_flags, empty.unread_resources) == (None, None, (), 0)


def test_naive_now_is_refused(vs):
    with pytest.raises(ValueError):
        read_record(PatientRecord(), vs, datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "resource",
    [
        condition(cc(None, ("http://hospital.example/local", "X1", "Carpal tunnel syndrome, left"))),  # unknown system
        condition(cc(None, (None, None, "Carpal tunnel syndrome, left"))),  # display only
        condition({"text": "Carpal tunnel syndrome, left"}, clinical=None),  # text only, no status
    ],
)
def test_odd_but_legal_codings_fall_back_to_text(vs, now, resource):
    (m,) = read_record(record(resource), vs, now).mimics
    assert (m.kind, m.side, m.evidence[0].matched_by) == ("carpal-tunnel-syndrome", "left", "text")


def test_resources_without_code_or_dates_are_harmless(vs, now):
    rec = record(
        condition({}),
        observation({}),
        report({}),
        med_request({}),
        device(None, status=None),
    )
    picture = read_record(rec, vs, now)
    assert picture.unread_resources == 0
    assert picture.red_flags == picture.mimics == picture.mri_reports == picture.emg_reports == ()


def test_an_unreadable_resource_is_skipped_and_counted(vs, now, caplog):
    class Broken:
        def get_resource_type(self):
            return "Condition"

        @property
        def verificationStatus(self):
            raise TypeError("Patient Jane Doe's record is odd")

    rec = record(condition(cc("Saddle anesthesia")))
    rec.conditions.append(Broken())
    picture = read_record(rec, vs, now)
    assert picture.unread_resources == 1
    assert _flags(picture) == {("cauda-equina", "saddle-anesthesia")}
    assert "Jane" not in caplog.text and "TypeError" in caplog.text


def test_one_odd_report_or_medication_does_not_hide_the_others(vs, now):
    class Odd:
        def __init__(self, kind):
            self.kind = kind

        def get_resource_type(self):
            return self.kind

        @property
        def status(self):
            raise ValueError("odd")

    rec = record(report(cc(None, (LOINC, "24968-0")), conclusion="Mild bulge at L4-5."),
                 med_request(cc("Apixaban 5 mg")))
    rec.diagnostic_reports.insert(0, Odd("DiagnosticReport"))
    rec.medication_requests.insert(0, Odd("MedicationRequest"))
    rec.devices.append(Odd("Device"))
    picture = read_record(rec, vs, now)
    assert picture.unread_resources == 3
    assert len(picture.mri_reports) == 1 and [m.ingredient for m in picture.anticoagulants] == ["apixaban"]
