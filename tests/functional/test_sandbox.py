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


# --- its PAMA Imaging screen (cds-hooks/sandbox 3b7e255, src/components/Pama/pama.jsx) -------------

ARGONAUT_RATING = "http://fhir.org/argonaut/Extension/pama-rating"


def _sandbox_rating(resource: dict) -> str | None:
    """What the screen reads from one update's resource: the first pama-rating coding's code."""
    codes = [c.get("code") for e in resource.get("extension") or [] if e.get("url") == ARGONAUT_RATING
             for c in e["valueCodeableConcept"]["coding"]]
    return codes[0] if codes else None


def _sandbox_takes(suggestion: dict) -> list[tuple[str, dict, list[dict]]]:
    """What accepting a suggestion does there: each update gives (rating, study, reasons); others ignored.

    The screen destructures the rating of every update, so one without it is an exception there.
    """
    out = []
    for action in suggestion["actions"]:
        if action["type"] != "update":
            continue
        resource = action.get("resource") or {}
        rating = _sandbox_rating(resource)
        assert rating is not None, f"the sandbox throws on this update: {suggestion['label']}"
        out.append((rating, resource["code"]["coding"][0], [c["coding"][0] for c in resource["reasonCode"]]))
    return out


def test_the_imaging_screen_shows_the_rating_and_applies_the_urgent_update(client, sandbox_key):
    from tests.scenarios.build import build

    scenario = {"now": "2026-11-26", "hook": "order-select", "patient": {"birthDate": "1981-04-04", "gender": "male"},
                "conditions": [{"code": "icd10:M54.41", "display": "Lumbago with sciatica, right side",
                                "onset": "2026-11-10"}],
                "observations": [{"display": "New urinary retention since this morning, numbness in the saddle area",
                                  "date": "2026-11-26"}],
                "orders": [{"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}]}
    prefetch = build(scenario, patient_id="SMART-1288992")["prefetch"]
    # The draft as the screen builds it: its own id, intent plan, the picked CPT coding and SNOMED reasons.
    study = {"system": "http://www.ama-assn.org/go/cpt", "code": "72148",
             "display": "Magnetic resonance (eg, proton) imaging, spinal canal and contents, lumbar; without contrast material"}
    reason = {"system": "http://snomed.info/sct", "code": "279039007", "display": "Low back pain (finding)"}
    order = {"resourceType": "ServiceRequest", "id": "example-request-id", "status": "draft", "intent": "plan",
             "code": {"coding": [study], "text": study["display"]}, "subject": {"reference": "Patient/SMART-1288992"},
             "reasonCode": [{"coding": [reason], "text": reason["display"]}]}
    response = sandbox_call(client, sandbox_key, order, prefetch)
    # "PAMA Rating: ..." comes from extension.systemActions, never from the top-level list.
    ratings = [_sandbox_rating(a["resource"]) for a in response["extension"]["systemActions"] if a["type"] == "update"]
    assert ratings and ratings[0] in ("appropriate", "not-appropriate", "no-criteria-apply")
    updates = [s for c in response["cards"] for s in c.get("suggestions", [])
               if any(a["type"] == "update" for a in s["actions"])]
    assert [s["label"] for s in updates] == ["Make this MRI stat"]
    # Accepted: the rating, the study and the reasons the screen shows are the ones it sent.
    assert _sandbox_takes(updates[0]) == [(ratings[0], study, [reason])]


@pytest.mark.parametrize("allowed, origin, ok", [
    (("http://localhost:8080",), "http://localhost:8080", True),  # a local build (npm run dev)
    ((SANDBOX,), "http://localhost:8080", False),  # the README's public origin blocks a local build
    ((SANDBOX, "http://localhost:8080"), "http://localhost:8080", True),
    (("http://localhost:8080",), "http://127.0.0.1:8080", False),  # another origin
])
def test_a_locally_served_sandbox_needs_its_own_origin(allowed, origin, ok):
    app = create_app(make_settings(cors_origins=allowed))
    c = app.test_client()
    preflight = c.options(PATH, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization, content-type"})
    discovery = c.get("/cds-services", headers={"Origin": origin})
    for resp in (preflight, discovery):
        assert (resp.headers.get("Access-Control-Allow-Origin") == origin) is ok
    if ok:
        exposed = discovery.headers["Access-Control-Expose-Headers"].lower()
        assert "www-authenticate" in exposed and "x-request-id" in exposed
