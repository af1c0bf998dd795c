"""The real service (gunicorn) against the real FHIR server: without prefetch, the same cards.

Every clinical scenario's record is loaded into Medplum; each hook call is made
twice to the live service, once with the full prefetch and once with none (the
service fetches from the FHIR server with the EHR's token). The cards must match.
"""

from __future__ import annotations

import copy
import json

import pytest
import requests

from tests.fhir.conftest import load_bundle
from tests.scenarios.build import build, transaction
from tests.scenarios.test_scenarios import SCENARIOS, SERVICE
from tests.support.processes import run_service

pytestmark = pytest.mark.e2e

CASES = [(f"sc-{i}", s) for i, s in enumerate(SCENARIOS, 1)]


@pytest.fixture(scope="module")
def live(medplum, tmp_path_factory):
    for patient_id, scenario in CASES:
        load_bundle(medplum, transaction(scenario, patient_id))
    env = {"CDS_AUTH_DISABLED": "true", "CDS_ALLOWED_FHIR_SERVERS": medplum.base_url,
           "CDS_FHIR_BUDGET_SECONDS": "2.0", "CDS_FHIR_READ_TIMEOUT": "1.5", "CDS_FHIR_CONNECT_TIMEOUT": "0.5"}
    with run_service(env=env, log_path=tmp_path_factory.mktemp("svc") / "service.log") as base:
        yield base, medplum


def _cards(base: str, body: dict) -> tuple[list[tuple], dict]:
    resp = requests.post(f"{base}/cds-services/{SERVICE[body['hook']]}", json=body, timeout=15)
    assert resp.status_code == 200, resp.text[:500]
    data = resp.json()
    return [(c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in data["cards"]], data


def test_without_prefetch_the_service_fetches_and_gives_the_same_cards(live):
    base, medplum = live
    total = 0
    for patient_id, scenario in CASES:
        with_prefetch = build(scenario, patient_id)
        without = copy.deepcopy(with_prefetch)
        del without["prefetch"]
        without["fhirServer"] = medplum.base_url
        without["fhirAuthorization"] = {"access_token": medplum.token, "token_type": "Bearer", "expires_in": 300,
                                        "scope": "user/*.read", "subject": "spine-cds"}
        expected, _ = _cards(base, with_prefetch)
        got, data = _cards(base, without)
        assert got == expected, f"{scenario['name']}: {json.dumps(got)} != {json.dumps(expected)}"
        gaps = (data.get("extension") or {}).get("org.example.spine-order-cds.data-gaps")
        assert not gaps, f"{scenario['name']}: data gaps {gaps}"
        total += len(got)
    assert total >= 20  # the comparison is over real cards, not empty lists


def test_a_wrong_token_gives_412_not_cards(live):
    base, medplum = live
    body = build(CASES[0][1], CASES[0][0])
    del body["prefetch"]
    body["fhirServer"] = medplum.base_url
    body["fhirAuthorization"] = {"access_token": "wrong-token", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "spine-cds"}
    resp = requests.post(f"{base}/cds-services/{SERVICE[body['hook']]}", json=body, timeout=15)
    assert resp.status_code == 412
    assert "wrong-token" not in resp.text
