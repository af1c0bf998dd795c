"""What the public CDS Hooks sandbox does to the service, replayed with the real app.

The facts come from ../shared/reference/test-infrastructure.md: ES384 JWT with the
sandbox's kid and jku, aud = the exact URL called, no tenant; a first call before a
study is chosen (``code.coding: [{}]``); draftOrders without ``type``; a fixed
userId; prefetch done by the sandbox with unfillable keys dropped; CORS preflight.
Our own ES384 key stands in for the sandbox's (its private key is public, but not ours
to commit); it is configured exactly as the README says, through a ``jwks_file``.
"""

from __future__ import annotations

import json
import uuid

import pytest

from cds_service.app import create_app
from tests.conftest import make_settings
from tests.security.keys import SigningKey, claims
from tests.support.builders import acute_back_pain_prefetch, service_request

SANDBOX = "https://sandbox.cds-hooks.org"
KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
PATH = "/cds-services/spine-order-select"


@pytest.fixture
def sandbox_key() -> SigningKey:
    return SigningKey.es384(KID)


@pytest.fixture
def client(tmp_path, sandbox_key):
    (tmp_path / "sandbox.jwks.json").write_text(json.dumps({"keys": [sandbox_key.public_jwk()]}))
    settings = make_settings(
        auth_disabled=False,
        trusted_issuers={SANDBOX: {"jwks_file": str(tmp_path / "sandbox.jwks.json")}},
        replay_cache_path=tmp_path / "replay.sqlite3",
        cors_allow_private_network=True,
    )
    app = create_app(settings)
    app.testing = True
    yield app.test_client()
    app.extensions["cds_security"]["replay_cache"].close()


def sandbox_call(client, key: SigningKey, order: dict, prefetch: dict) -> dict:
    body = {
        "hook": "order-select",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/COREPRACTITIONER1",
            "patientId": "SMART-1288992",
            "selections": [f"ServiceRequest/{order['id']}"],
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]},  # no "type"
        },
        "prefetch": prefetch,  # the sandbox drops keys it could not fill
    }
    token = key.sign(claims(SANDBOX, "http://localhost" + PATH, lifetime=300),
                     jku=f"{SANDBOX}/.well-known/jwks.json")
    resp = client.post(PATH, json=body, headers={"Authorization": f"Bearer {token}", "Origin": SANDBOX})
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["Access-Control-Allow-Origin"] in ("*", SANDBOX)
    return resp.get_json()


def test_sandbox_imaging_flow_first_empty_then_cards(client, sandbox_key):
    prefetch = acute_back_pain_prefetch(days=12)
    prefetch["conditions"]["entry"][0]["resource"]["subject"] = {"reference": "Patient/SMART-1288992"}
    # First call: fired before a study is chosen.
    blank = service_request("example-MRI-59879846", cpt=None, display="", patient="SMART-1288992", reasonCode=[])
    assert sandbox_call(client, sandbox_key, blank, prefetch)["cards"] == []
    # The clinician picks a lumbar MRI (CPT 72148) for low back pain (SNOMED 279039007).
    chosen = service_request("example-MRI-59879846", patient="SMART-1288992", reasonCode=[
        {"coding": [{"system": "http://snomed.info/sct", "code": "279039007", "display": "Low back pain"}]}])
    cards = sandbox_call(client, sandbox_key, chosen, prefetch)["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["lbp-imaging-premature"]


def test_a_token_for_another_url_is_refused(client, sandbox_key, caplog):
    caplog.set_level("INFO", logger="cds_service.security")
    token = sandbox_key.sign(claims(SANDBOX, "http://localhost/cds-services/other", lifetime=300))
    resp = client.post(PATH, json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    # One generic text in the answer (issue 17); the log line says why.
    assert any("wrong_audience" in r.getMessage() for r in caplog.records)


def test_preflight_allows_authorization_and_private_network_when_set(client):
    headers = {"Origin": SANDBOX, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization, content-type",
               "Access-Control-Request-Private-Network": "true"}
    resp = client.options(PATH, headers=headers)
    assert resp.status_code == 200
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
    assert resp.headers["Access-Control-Allow-Private-Network"] == "true"


def test_private_network_access_is_off_by_default():
    app = create_app(make_settings())
    resp = app.test_client().options(PATH, headers={
        "Origin": SANDBOX, "Access-Control-Request-Method": "POST", "Access-Control-Request-Private-Network": "true"})
    assert resp.headers.get("Access-Control-Allow-Private-Network") != "true"


def test_discovery_tells_a_person_picking_services_what_each_does(client):
    services = client.get("/cds-services").get_json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    titles = [s["title"] for s in services]
    assert len(set(titles)) == len(titles), "a picker lists services by title: they must differ"
    for s in services:
        assert len(s["title"]) <= 60  # fits one line of a service list
        assert "MRI" in s["description"] and "EMG" in s["description"]
        assert s["usageRequirements"]
