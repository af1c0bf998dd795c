"""A full hook call, logs captured at DEBUG: no names, identifiers, report text or tokens."""

from __future__ import annotations

import logging

from cds_service.app import create_app
from tests.conftest import make_settings
from tests.scenarios.build import build
from tests.support.processes import free_port

TOKEN = "secret-access-token-9f8e7d"
PATIENT_ID = "mrn-778899"
REPORT_TEXT = "L4-5: moderate left foraminal stenosis contacting the exiting left L4 nerve root"
SCENARIO = {
    "hook": "order-sign",
    "patient": {"name": [{"family": "Zebulon", "given": ["Quincy"]}],
                "identifier": [{"system": "urn:mrn", "value": "MRN-5551234"}], "birthDate": "1961-03-14"},
    "conditions": [{"code": "icd10:M54.17", "display": "Radiculopathy, lumbosacral region", "onset": "2026-06-15",
                    "note": "Patient Quincy Zebulon reports numbness in the left foot."}],
    "reports": [{"kind": "mri-lumbar", "date": "2026-09-02", "conclusion": REPORT_TEXT + ". L5-S1: small protrusion."}],
    "orders": [{"code": "cpt:95886", "display": "EMG/NCS left lower extremity"}],
}


def test_full_hook_call_logs_carry_no_phi_or_token(caplog):
    dead_server = f"http://127.0.0.1:{free_port()}/fhir"  # allowlisted, nothing listening: gaps get logged
    app = create_app(make_settings(allowed_fhir_servers=(dead_server,), log_level="DEBUG"))
    body = build(SCENARIO, patient_id=PATIENT_ID)
    for key in ("observations", "medications", "devices"):
        del body["prefetch"][key]  # fetched from the server, which fails: log lines about it
    body["fhirServer"] = dead_server
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "cds-service"}
    with caplog.at_level(logging.DEBUG):
        resp = app.test_client().post("/cds-services/spine-order-sign", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert caplog.records, "the call should log something (at least the data gaps)"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    for secret in (TOKEN, PATIENT_ID, "Zebulon", "Quincy", "MRN-5551234", "foraminal stenosis", "numbness"):
        assert secret not in logged, f"{secret!r} reached the logs"
    assert TOKEN not in resp.get_data(as_text=True)
