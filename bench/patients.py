"""Synthetic patients for the benchmarks: a typical record (~50 resources) and a heavy one (~2,000).

    from bench.patients import typical_request, heavy_request

Both are ``order-sign`` calls for a left-leg EMG/NCS with every prefetch key filled,
built with ``tests/scenarios/build.py`` and then given what real EHR resources carry
besides the clinical content (``meta``, identifiers, categories, verification status,
encounter and recorder references), so parsing pays for a realistic shape.

- typical: 14 Conditions, 26 Observations, 6 MedicationRequests, 1 Device,
  3 DiagnosticReports (a lumbar MRI with a ~1.5 kB report, a chest X-ray, a lab panel)
  and the Patient: 51 resources, ~60 kB of JSON.
- heavy: 500 Conditions (the template's ``_count``), 1,200 Observations,
  150 MedicationRequests, 10 Devices, 140 DiagnosticReports each with a conclusion and
  a ~5 kB text/plain ``presentedForm`` (12 spine MRIs, 6 EMG/NCS, the rest other
  imaging and lab reports), and the Patient: 2,001 resources, ~2.5 MB of JSON.

Deterministic (fixed seed), so runs compare like with like. The cards both give are
checked by the scripts (a run that silently gives no card would measure nothing).
"""

from __future__ import annotations

import base64
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: a benchmark may have put another checkout's code first

from tests.scenarios.build import build  # noqa: E402

SERVICE = "spine-order-sign"
#: The clock the records are written against (dates are relative to it).
NOW = "2026-11-26"

_CONDITIONS = [  # (code, display, note or None)
    ("icd10:M54.16", "Radiculopathy, lumbar region", "Left buttock-to-foot pain and numbness; SLR positive on the left."),
    ("icd10:M51.16", "Intervertebral disc disorders with radiculopathy, lumbar region", None),
    ("icd10:M54.50", "Low back pain, unspecified", None),
    ("icd10:I10", "Essential (primary) hypertension", None),
    ("icd10:E78.5", "Hyperlipidemia, unspecified", None),
    ("icd10:E11.9", "Type 2 diabetes mellitus without complications", "Diet and metformin; last HbA1c 7.1 %."),
    ("icd10:K21.9", "Gastro-esophageal reflux disease without esophagitis", None),
    ("icd10:M17.11", "Unilateral primary osteoarthritis, right knee", None),
    ("icd10:J45.909", "Unspecified asthma, uncomplicated", None),
    ("icd10:F41.1", "Generalized anxiety disorder", None),
    ("icd10:G47.33", "Obstructive sleep apnea", "Uses CPAP nightly."),
    ("icd10:N40.0", "Benign prostatic hyperplasia without lower urinary tract symptoms", None),
    ("icd10:Z87.891", "Personal history of nicotine dependence", None),
    ("icd10:M25.561", "Pain in right knee", None),
]
_OBSERVATIONS = [  # (code, display, value, unit)
    ("loinc:72514-3", "Pain severity 0-10 verbal numeric rating", "6/10", None),
    ("loinc:8310-5", "Body temperature", 36.8, "Cel"),
    ("loinc:8867-4", "Heart rate", 72, "/min"),
    ("loinc:8480-6", "Systolic blood pressure", 134, "mm[Hg]"),
    ("loinc:29463-7", "Body weight", 84.2, "kg"),
    ("loinc:6301-6", "INR in Platelet poor plasma by Coagulation assay", 1.1, None),
    ("loinc:777-3", "Platelets [#/volume] in Blood by Automated count", 231, "10*3/uL"),
    ("loinc:4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 7.1, "%"),
    ("snomed:301120008", "Ankle reflex", "1+ left, 2+ right", None),
    ("snomed:22325002", "Gait", "normal gait, heel and toe walking intact", None),
]
_MRI_TEXT = (
    "EXAM: MRI LUMBAR SPINE WITHOUT CONTRAST\nHISTORY: Left leg pain and numbness for 3 months.\n"
    "TECHNIQUE: Sagittal T1, T2 and STIR; axial T1 and T2 through L1 to S1.\nCOMPARISON: None.\n"
    "FINDINGS:\nAlignment is normal. Vertebral body heights are preserved. Marrow signal is unremarkable.\n"
    "The conus ends at L1 and is normal in signal.\n"
    "L1-2 and L2-3: No disc herniation, canal or foraminal stenosis.\n"
    "L3-4: Mild disc bulge and facet arthropathy without canal stenosis. Mild bilateral foraminal narrowing.\n"
    "L4-5: Left paracentral disc protrusion contacting the descending left L5 nerve root in the lateral recess. "
    "Mild canal stenosis. Moderate left foraminal stenosis.\n"
    "L5-S1: Small central disc protrusion without nerve root compression. No foraminal stenosis.\n"
    "Paraspinal soft tissues are unremarkable.\n"
    "IMPRESSION:\n1. Left paracentral L4-5 protrusion contacting the left L5 nerve root; moderate left foraminal stenosis.\n"
    "2. Mild degenerative changes at L3-4 and L5-S1 without root compression.\n"
)
_EMG_TEXT = (
    "ELECTRODIAGNOSTIC STUDY: EMG/NCS LEFT LOWER EXTREMITY\nINDICATION: Left leg pain and numbness.\n"
    "NERVE CONDUCTION: Left peroneal and tibial motor responses are normal in amplitude, latency and velocity. "
    "Left sural and superficial peroneal sensory responses are normal. F-waves are normal.\n"
    "NEEDLE EMG: Fibrillation potentials and positive sharp waves in the left tibialis anterior and left "
    "lumbar paraspinals; reduced recruitment of large polyphasic units in the left extensor hallucis longus.\n"
    "IMPRESSION: Electrodiagnostic evidence of an active and chronic left L5 radiculopathy. "
    "No evidence of a peroneal neuropathy or a large-fibre polyneuropathy.\n"
)
_OTHER_TEXT = (
    "EXAM: CT CHEST WITH CONTRAST\nHISTORY: Follow-up of a pulmonary nodule.\nFINDINGS: The lungs are clear "
    "apart from a stable 4 mm nodule in the right upper lobe. No pleural effusion. Heart size is normal. "
    "No mediastinal or hilar lymphadenopathy. The upper abdomen is unremarkable.\n"
    "IMPRESSION: Stable 4 mm right upper lobe nodule; no further follow-up is required.\n"
)
_REPORT_CODES = {  # kind -> (LOINC, display); the MRI and EMG codes are the scenario builder's
    "mri-lumbar": ("30679-5", "MR Lumbar spine WO contrast"),
    "emg": ("18749-2", "Electromyogram study"),
    "ct-chest": ("24627-2", "CT Chest"),
    "xr-chest": ("36643-5", "XR Chest 2 Views"),
    "lab-panel": ("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
}


def _report(i: int, kind: str, date: str, text: str, pad_to: int) -> dict:
    """A DiagnosticReport with a conclusion (the impression) and the full text as a base64 attachment."""
    code, display = _REPORT_CODES[kind]
    full = text
    while len(full) < pad_to:  # long reports: the findings repeat as addenda would
        full += "ADDENDUM: " + text.split("FINDINGS:", 1)[-1][:800]
    impression = text.rsplit("IMPRESSION:", 1)[-1].strip()
    category = "EN" if kind == "emg" else ("LAB" if kind == "lab-panel" else "RAD")
    return {"resourceType": "DiagnosticReport", "id": f"rep-{i}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
            "effectiveDateTime": date, "issued": f"{date}T14:02:00Z", "conclusion": impression,
            "presentedForm": [{"contentType": "text/plain", "language": "en-US",
                               "data": base64.b64encode(full.encode()).decode(), "title": display}]}


def _scenario(n_cond: int, n_obs: int, n_med: int, n_dev: int, reports: list[tuple[str, int]], rng) -> dict:
    """A compact scenario (tests/scenarios/build.py) of the given size; reports as (kind, text length)."""
    conditions = []
    for i in range(n_cond):
        code, display, note = _CONDITIONS[i % len(_CONDITIONS)]
        year = 2026 if i < len(_CONDITIONS) else 2015 + i % 11
        conditions.append({"code": code, "display": display, "onset": f"{year}-{1 + i % 9:02d}-{1 + i % 27:02d}",
                           "status": "active" if i % 7 else "resolved", **({"note": note} if note else {})})
    observations = []
    for i in range(n_obs):
        code, display, value, unit = _OBSERVATIONS[i % len(_OBSERVATIONS)]
        if isinstance(value, float):
            value = round(value * rng.uniform(0.97, 1.03), 1)
        observations.append({"code": code, "display": display, "value": value, **({"unit": unit} if unit else {}),
                             "date": f"{2026 - (i // 200)}-{1 + (i // 20) % 11:02d}-{1 + i % 27:02d}"})
    meds = [("rxnorm:860975", "metformin 500 MG Oral Tablet"), ("rxnorm:314076", "lisinopril 10 MG Oral Tablet"),
            ("rxnorm:617312", "atorvastatin 40 MG Oral Tablet"), ("rxnorm:310431", "gabapentin 300 MG Oral Capsule"),
            ("rxnorm:198211", "naproxen 500 MG Oral Tablet"), ("rxnorm:245314", "albuterol 0.09 MG/ACTUAT inhaler")]
    medications = [{"code": meds[i % len(meds)][0], "display": meds[i % len(meds)][1],
                    "date": f"{2026 - i // 30}-{1 + i % 11:02d}-01"} for i in range(n_med)]
    devices = [{"code": "snomed:706004007", "display": "Continuous positive airway pressure unit"} for _ in range(n_dev)]
    raw_reports = []
    texts = {"mri-lumbar": _MRI_TEXT, "emg": _EMG_TEXT, "ct-chest": _OTHER_TEXT, "xr-chest": _OTHER_TEXT,
             "lab-panel": _OTHER_TEXT}
    for i, (kind, length) in enumerate(reports):
        date = f"{2026 - i // 12}-{1 + i % 11:02d}-{1 + i % 27:02d}"
        raw_reports.append(_report(i, kind, date, texts[kind], length))
    return {"patient": {"birthDate": "1968-04-12", "gender": "male"}, "conditions": conditions,
            "observations": observations, "medications": medications, "devices": devices,
            "raw": {"reports": raw_reports},
            "orders": [{"code": "cpt:95886", "display": "EMG/NCS left lower extremity", "bodySite": "left leg"}]}


def _dress(request: dict) -> dict:
    """Add the administrative fields a real EHR's resources carry (they are parsed, not read)."""
    rng = random.Random(3)
    pid = request["context"]["patientId"]
    for key, value in request["prefetch"].items():
        resources = [value] if value.get("resourceType") != "Bundle" else [e["resource"] for e in value["entry"]]
        for r in resources:
            r["meta"] = {"versionId": str(rng.randrange(1, 9)), "lastUpdated": "2026-11-20T08:15:00.000Z"}
            r["identifier"] = [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.768282",
                                "value": f"{r['resourceType'][:3].upper()}{rng.randrange(10**8)}"}]
            if r["resourceType"] == "Condition":
                r["verificationStatus"] = {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]}
                r["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                              "code": "problem-list-item", "display": "Problem List Item"}]}]
                r["recorder"] = {"reference": "Practitioner/pr-1", "display": "Dr. A. Example"}
            elif r["resourceType"] == "Observation":
                r["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                              "code": "vital-signs"}]}]
                r["encounter"] = {"reference": f"Encounter/enc-{rng.randrange(500)}"}
                r["performer"] = [{"reference": "Practitioner/pr-1"}]
            elif r["resourceType"] == "MedicationRequest":
                r["requester"] = {"reference": "Practitioner/pr-1", "display": "Dr. A. Example"}
                r["dosageInstruction"] = [{"text": "1 tablet by mouth daily", "timing": {"repeat": {
                    "frequency": 1, "period": 1, "periodUnit": "d"}}}]
            elif r["resourceType"] == "DiagnosticReport":
                r["id"] = f"{pid}-{r['id']}"  # patient-scoped, as the builder's ids: one FHIR server holds both
                r["subject"] = {"reference": f"Patient/{pid}"}
                r["performer"] = [{"reference": "Organization/org-1", "display": "Radiology"}]
            elif r["resourceType"] == "Patient":
                r["name"] = [{"use": "official", "family": "Example", "given": ["Bench"]}]
                r["address"] = [{"city": "Springfield", "state": "IL", "postalCode": "62701"}]
    return request


def typical_request(patient_id: str = "bench-typical") -> dict:
    rng = random.Random(1)
    reports = [("mri-lumbar", 1500), ("xr-chest", 600), ("lab-panel", 600)]
    return _dress(build(_scenario(14, 26, 6, 1, reports, rng), patient_id))


def heavy_request(patient_id: str = "bench-heavy") -> dict:
    rng = random.Random(2)
    kinds = ["mri-lumbar"] * 12 + ["emg"] * 6 + ["ct-chest"] * 50 + ["xr-chest"] * 36 + ["lab-panel"] * 36
    rng.shuffle(kinds)
    reports = [(kind, 5000) for kind in kinds]
    return _dress(build(_scenario(500, 1200, 150, 10, reports, rng), patient_id))


def mark_texts(request: dict) -> dict:
    """Write the patient id into every text the reader reads (report conclusions and attachments,
    condition and observation labels), so that a load generator that gives every call its own
    patient id also gives it texts never read before: the worker's memo of text readings
    (cds_service/reading/memo.py) then never helps, the worst case. Real calls sit between:
    the labels recur across patients, and an order-sign repeats its order-select's reports."""
    pid = request["context"]["patientId"]
    tag = f" (ref {pid})"
    for value in request["prefetch"].values():
        resources = [value] if value.get("resourceType") != "Bundle" else [e["resource"] for e in value["entry"]]
        for r in resources:
            if r["resourceType"] in ("Condition", "Observation") and r.get("code", {}).get("text"):
                r["code"]["text"] += tag
            elif r["resourceType"] == "DiagnosticReport" and r.get("conclusion"):
                # The conclusion and the attachments are read as one text: marking the
                # conclusion (plain JSON, which the load generator can rewrite) makes it new.
                r["conclusion"] += tag
    return request


def count_resources(request: dict) -> int:
    return sum(len(v["entry"]) if v.get("resourceType") == "Bundle" else 1 for v in request["prefetch"].values())


if __name__ == "__main__":
    import json

    for name, make in (("typical", typical_request), ("heavy", heavy_request)):
        body = make()
        print(f"{name}: {count_resources(body)} resources, {len(json.dumps(body)) / 1e3:.0f} kB")
