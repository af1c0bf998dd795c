"""CDS client JWT authentication end to end: real keys, a real JWKS server, the Flask app."""

from __future__ import annotations

import json
import logging
import time
import warnings

import pytest
from jwt.warnings import InsecureKeyLengthWarning

from cds_service.security.errors import GENERIC_401
from tests.security.conftest import FEEDBACK_PATH, ISS, SERVICE_PATH, SERVICE_URL, build_app
from tests.security.keys import SigningKey, claims, hs256_token, unsigned_token

BODY = {"hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": {}}


def call(client, token=None, path=SERVICE_PATH, authorization=None, **kw):
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(path, json=BODY, headers=headers, **kw)


@pytest.fixture(autouse=True)
def _refusal_log(caplog):
    """assert_refused reads the precise reason from the log (the response has one generic text)."""
    caplog.set_level(logging.INFO, logger="cds_service.security")
    _LOG[:] = [caplog]
    yield
    _LOG.clear()


_LOG: list = []


def assert_refused(resp, description_part: str, token: str | None = None):
    """A 401 with the RFC 6750 header, the JSON error shape, one generic text, and no token echoed;
    ``description_part`` is in the log line that says why."""
    assert resp.status_code == 401, resp.get_data(as_text=True)
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge == f'Bearer error="invalid_token", error_description="{GENERIC_401}"'
    body = resp.get_json()
    assert body["status"] == 401
    assert body["error"] == GENERIC_401
    assert body["operationOutcome"]["issue"][0]["code"] == "login"
    assert "Traceback" not in resp.get_data(as_text=True)
    refusals = [r.getMessage() for r in _LOG[0].records if "CDS client refused" in r.getMessage()]
    assert refusals and description_part in refusals[-1], refusals
    if token:
        for part in token.split("."):
            if part:
                assert part not in resp.get_data(as_text=True)
                assert part not in challenge
                assert all(part not in line for line in refusals)


# --- accepted -------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["es_key", "rs_key"])
def test_valid_token_is_accepted_and_caller_put_on_g(client, request, key_name):
    key = request.getfixturevalue(key_name)
    token = key.sign(claims(ISS, SERVICE_URL, tenant="org-7", sub="ehr-client"))
    resp = call(client, token)
    assert resp.status_code == 200, resp.get_json()
    who = resp.get_json()["client"]
    assert who["iss"] == ISS and who["tenant"] == "org-7" and who["sub"] == "ehr-client"
    assert who["authenticated"] is True and who["jti"]


def test_feedback_requires_and_accepts_a_token(client, es_key):
    assert_refused(call(client, path=FEEDBACK_PATH), "required")
    token = es_key.sign(claims(ISS, "http://localhost" + FEEDBACK_PATH))
    assert call(client, token, path=FEEDBACK_PATH).status_code == 200


def test_aud_as_array_containing_the_url_is_accepted(client, es_key):
    token = es_key.sign(claims(ISS, ["https://other.example/x", SERVICE_URL]))
    assert call(client, token).status_code == 200


def test_behind_a_proxy_aud_is_the_public_url(make_client, es_key):
    client = make_client(public_base_url="https://cds.example.org/spine/")
    public = "https://cds.example.org/spine" + SERVICE_PATH
    assert call(client, es_key.sign(claims(ISS, public))).status_code == 200
    assert_refused(call(client, es_key.sign(claims(ISS, SERVICE_URL))), "aud")


def test_tenant_is_logged_token_never(client, es_key, security_logs):
    token = es_key.sign(claims(ISS, SERVICE_URL, tenant="org-7"))
    assert call(client, token).status_code == 200
    assert call(client, token).status_code == 401  # replay: a refusal is logged too
    text = "\n".join(r.getMessage() for r in security_logs.records)
    assert "org-7" in text and "replay" in text
    assert token.split(".")[1] not in text and token.split(".")[2] not in text


# --- refused ---------------------------------------------------------------------


def test_no_token(client):
    assert_refused(call(client), "Authorization: Bearer <JWT> is required")


def test_other_scheme(client):
    assert_refused(call(client, authorization="Basic dXNlcjpwYXNz"), "must be Bearer")


@pytest.mark.parametrize("token", ["abc", "a.b.c", "x" * 20000, "eyJhbGciOiJFUzM4NCJ9.e30.a.b.c"])
def test_malformed_token(client, token):
    assert_refused(call(client, token), "not a compact JWT")


def test_alg_none_refused(client, es_key):
    token = unsigned_token({"alg": "none", "typ": "JWT", "kid": es_key.kid}, claims(ISS, SERVICE_URL))
    assert_refused(call(client, token), "algorithm is not accepted", token)


def test_hs256_with_the_public_key_as_secret_refused(client, jwks_server, rs_key):
    # The classic algorithm-confusion attack: HMAC keyed with the issuer's public key.
    secret = json.dumps(rs_key.public_jwk()).encode()
    token = hs256_token({"alg": "HS256", "typ": "JWT", "kid": rs_key.kid}, claims(ISS, SERVICE_URL), secret)
    assert_refused(call(client, token), "algorithm is not accepted", token)


def test_missing_kid_refused(client, es_key):
    token = es_key.sign(claims(ISS, SERVICE_URL), kid=None)
    assert_refused(call(client, token), "no kid", token)


def test_wrong_typ_refused(client, es_key):
    token = es_key.sign(claims(ISS, SERVICE_URL), typ="at+jwt")
    assert_refused(call(client, token), "typ must be JWT", token)


def test_bad_signature_refused(client, es_key):
    impostor = SigningKey.es384(es_key.kid)  # same kid, other key
    token = impostor.sign(claims(ISS, SERVICE_URL))
    assert_refused(call(client, token), "signature is invalid", token)


def test_tampered_payload_refused(client, es_key):
    header, _, signature = es_key.sign(claims(ISS, SERVICE_URL)).split(".")
    forged = unsigned_token({}, claims(ISS, SERVICE_URL, tenant="other-org")).split(".")[1]
    assert_refused(call(client, f"{header}.{forged}.{signature}"), "signature is invalid")


def test_expired_refused(client, es_key):
    now = int(time.time())
    token = es_key.sign(claims(ISS, SERVICE_URL, iat=now - 900, exp=now - 600))
    assert_refused(call(client, token), "expired", token)


def test_expired_within_clock_skew_accepted(client, es_key):
    now = int(time.time())
    token = es_key.sign(claims(ISS, SERVICE_URL, iat=now - 300, exp=now - 10))
    assert call(client, token).status_code == 200


def test_iat_in_the_future_refused(client, es_key):
    now = int(time.time())
    token = es_key.sign(claims(ISS, SERVICE_URL, iat=now + 600, exp=now + 900))
    assert_refused(call(client, token), "in the future", token)


def test_overlong_lifetime_refused(client, es_key):
    token = es_key.sign(claims(ISS, SERVICE_URL, lifetime=3 * 3600))
    assert_refused(call(client, token), "lifetime", token)


@pytest.mark.parametrize("missing", ["jti", "exp", "iat", "aud"])
def test_missing_required_claim_refused(client, es_key, missing):
    payload = claims(ISS, SERVICE_URL)
    del payload[missing]
    token = es_key.sign(payload)
    assert_refused(call(client, token), f"required claim {missing}", token)


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": float("inf")},
        {"exp": float("nan")},
        {"exp": "tomorrow"},
        {"iat": True},
        {"jti": 42},
        {"jti": ""},
        {"jti": "x" * 256},
        {"tenant": ["a", "b"]},
    ],
)
def test_claims_of_the_wrong_type_refused(client, es_key, bad):
    token = es_key.sign(claims(ISS, SERVICE_URL, **bad))
    resp = call(client, token)
    assert resp.status_code == 401, resp.get_json()
    assert resp.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(
    "aud",
    [
        "http://localhost/cds-services/other-service",
        SERVICE_URL + "/",
        ["https://other.example/cds-services/spine-mri"],
        "https://cds.example.org/cds-services/spine-mri",
    ],
)
def test_wrong_audience_refused(client, es_key, aud):
    token = es_key.sign(claims(ISS, aud))
    assert_refused(call(client, token), "aud is not the URL of this endpoint", token)


def test_unknown_issuer_refused(client, es_key, jwks_server):
    token = es_key.sign(claims("https://evil.example.org/", SERVICE_URL))
    assert_refused(call(client, token), "issuer is not trusted", token)
    assert sum(jwks_server.hits.values()) == 0  # nothing fetched for an untrusted issuer


def test_replay_refused(client, es_key):
    token = es_key.sign(claims(ISS, SERVICE_URL))
    assert call(client, token).status_code == 200
    assert_refused(call(client, token), "already used", token)


def test_replay_refused_by_another_app_sharing_the_replay_file(make_settings, es_key):
    settings = make_settings()
    first, second = build_app(settings).test_client(), build_app(settings).test_client()
    token = es_key.sign(claims(ISS, SERVICE_URL))
    assert call(first, token).status_code == 200
    assert_refused(call(second, token), "already used", token)
    assert call(second, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 200


def test_refused_token_does_not_burn_its_jti(client, es_key):
    jti = "one-time-id"
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL + "x", jti=jti))).status_code == 401
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL, jti=jti))).status_code == 200


def test_weak_rsa_key_refused(make_client, jwks_server):
    weak = SigningKey.rs384("weak", bits=1024)
    url = jwks_server.publish("/weak.json", weak.public_jwk())
    client = make_client(trusted_issuers={ISS: url})
    with warnings.catch_warnings():  # PyJWT warns when signing with a short key; that is the point
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = weak.sign(claims(ISS, SERVICE_URL))
    assert_refused(call(client, token), "too short")


def test_rsa_key_published_without_alg_member_is_usable(make_client, jwks_server):
    # Many issuers publish RSA keys without "alg"; the token's (allowed) alg then decides.
    key = SigningKey.rs384("no-alg")
    jwk = key.public_jwk()
    del jwk["alg"]
    client = make_client(trusted_issuers={ISS: jwks_server.publish("/noalg.json", jwk)})
    assert call(client, key.sign(claims(ISS, SERVICE_URL))).status_code == 200


def test_token_alg_must_match_the_keys_alg(make_client, jwks_server, rs_key):
    url = jwks_server.publish("/rs256.json", rs_key.public_jwk(alg="RS256"))
    client = make_client(trusted_issuers={ISS: url})
    assert_refused(call(client, rs_key.sign(claims(ISS, SERVICE_URL))), "does not match the key")


# --- keys: kid rotation, jku, key set outages ---------------------------------------


def test_unknown_kid_refreshes_once_then_is_rate_limited(client, jwks_server, es_key, rs_key):
    path = "/ehr/jwks.json"
    jwks_server.publish(path, es_key.public_jwk())
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 200
    assert jwks_server.hits[path] == 1
    # The issuer rotates in a new key: a token with its kid makes us re-fetch once.
    rotated = SigningKey.es384("es-key-2")
    jwks_server.publish(path, es_key.public_jwk(), rotated.public_jwk())
    assert call(client, rotated.sign(claims(ISS, SERVICE_URL))).status_code == 200
    assert jwks_server.hits[path] == 2
    # Another unknown kid right after: refused without a new fetch (rate limit).
    assert_refused(call(client, rs_key.sign(claims(ISS, SERVICE_URL), kid="nope")), "No key with this kid")
    assert jwks_server.hits[path] == 2


def test_jku_not_on_allowlist_is_never_fetched(client, jwks_server):
    attacker = SigningKey.es384("attacker")
    evil_url = jwks_server.publish("/evil/jwks.json", attacker.public_jwk())
    token = attacker.sign(claims(ISS, SERVICE_URL), jku=evil_url)
    assert_refused(call(client, token), "No key with this kid", token)
    assert jwks_server.hits["/evil/jwks.json"] == 0
    assert jwks_server.hits["/ehr/jwks.json"] >= 1  # the configured set was used instead


def test_jku_on_allowlist_is_used(make_client, jwks_server, es_key):
    other = SigningKey.es384("second-set-key")
    second = jwks_server.publish("/ehr/jwks-2.json", other.public_jwk())
    client = make_client(
        trusted_issuers={ISS: {"jwks_url": jwks_server.url("/ehr/jwks.json"), "jku_allowlist": [second]}}
    )
    assert call(client, other.sign(claims(ISS, SERVICE_URL), jku=second)).status_code == 200
    assert jwks_server.hits["/ehr/jwks-2.json"] == 1


def test_jku_required_on_allowlist_when_issuer_has_no_configured_set(make_client, jwks_server, es_key):
    allowed = jwks_server.url("/ehr/jwks.json")
    client = make_client(trusted_issuers={ISS: {"jku_allowlist": [allowed]}})
    evil = jwks_server.url("/evil/jwks.json")
    assert_refused(call(client, es_key.sign(claims(ISS, SERVICE_URL), jku=evil)), "jku is not an allowed")
    assert_refused(call(client, es_key.sign(claims(ISS, SERVICE_URL))), "jku is not an allowed")
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL), jku=allowed)).status_code == 200
    assert jwks_server.hits["/evil/jwks.json"] == 0


def test_key_set_down_without_cache_fails_fast_with_503(make_client, jwks_server, es_key):
    jwks_server.status["/ehr/jwks.json"] = 500
    client = make_client()
    for _ in range(3):
        resp = call(client, es_key.sign(claims(ISS, SERVICE_URL)))
        assert resp.status_code == 503
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.get_json()["operationOutcome"]["issue"][0]["code"] == "transient"
    # Backoff: the two later calls did not wait on the failing endpoint again.
    assert jwks_server.hits["/ehr/jwks.json"] == 1


def test_key_set_down_cached_keys_still_used(make_client, jwks_server, es_key):
    client = make_client(jwks_cache_ttl_seconds=0)  # every call wants a fresh set
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 200
    jwks_server.status["/ehr/jwks.json"] = 503
    for _ in range(3):
        assert call(client, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 200
    assert jwks_server.hits["/ehr/jwks.json"] == 2  # one failed try, then backoff


def test_key_set_endpoint_that_hangs_does_not_stall_later_calls(make_client, jwks_server, es_key):
    jwks_server.hang.add("/ehr/jwks.json")
    client = make_client(jwks_connect_timeout=0.2, jwks_read_timeout=0.2)
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 503
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL))).status_code == 503
    assert jwks_server.hits["/ehr/jwks.json"] == 1


# --- what the CDS Hooks sandbox sends --------------------------------------------------


def test_sandbox_shaped_request_and_its_cors_preflight(make_client, jwks_server):
    sandbox_key = SigningKey.es384("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
    local_jwks = jwks_server.publish("/sandbox/jwks.json", sandbox_key.public_jwk())
    client = make_client(trusted_issuers={"https://sandbox.cds-hooks.org": local_jwks})

    preflight = client.options(
        SERVICE_PATH,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()

    token = sandbox_key.sign(
        claims("https://sandbox.cds-hooks.org", SERVICE_URL, lifetime=300),  # no tenant
        jku="https://sandbox.cds-hooks.org/.well-known/jwks.json",  # not fetched: not allowlisted
    )
    body = {
        "hook": "order-select",
        "hookInstance": "5f7c4f2e-8d0b-4a8b-9b8a-0d9b4d3f0c11",
        "context": {
            "userId": "Practitioner/COREPRACTITIONER1",
            "patientId": "SMART-1288992",
            "selections": ["ServiceRequest/example-MRI-59879846"],
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": {
                "resourceType": "ServiceRequest", "id": "example-MRI-59879846", "status": "draft",
                "intent": "order", "code": {"coding": [{}]}, "reasonCode": [],
                "subject": {"reference": "Patient/SMART-1288992"}}}]},
        },
    }
    resp = client.post(
        SERVICE_PATH, json=body, headers={"Authorization": f"Bearer {token}", "Origin": "https://sandbox.cds-hooks.org"}
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["client"]["iss"] == "https://sandbox.cds-hooks.org"
    assert resp.get_json()["client"]["tenant"] is None
    assert jwks_server.hits["/sandbox/jwks.json"] == 1


def test_issuer_key_set_from_a_file_is_used_without_any_network_call(make_client, jwks_server, tmp_path):
    """The sandbox set-up: its JWK Set configured out of band, its jku never fetched."""
    sandbox_key = SigningKey.es384("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
    (tmp_path / "sandbox.jwks.json").write_text(json.dumps({"keys": [sandbox_key.public_jwk()]}))
    client = make_client(
        trusted_issuers={"https://sandbox.cds-hooks.org": {"jwks_file": str(tmp_path / "sandbox.jwks.json")}}
    )
    sandbox_claims = claims("https://sandbox.cds-hooks.org", SERVICE_URL, lifetime=300)
    token = sandbox_key.sign(sandbox_claims, jku="https://sandbox.cds-hooks.org/.well-known/jwks.json")
    resp = call(client, token)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["client"]["iss"] == "https://sandbox.cds-hooks.org"
    assert not jwks_server.hits
    # Another key with the same kid (someone else's "sandbox" token) fails on the signature.
    impostor = SigningKey.es384("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
    assert_refused(call(client, impostor.sign(claims("https://sandbox.cds-hooks.org", SERVICE_URL))), "signature")
    assert_refused(call(client, SigningKey.es384("other-kid").sign(
        claims("https://sandbox.cds-hooks.org", SERVICE_URL))), "kid")


def test_allowlisted_jku_is_preferred_over_the_key_file(make_client, jwks_server, es_key, tmp_path):
    other = SigningKey.es384("file-key")
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [other.public_jwk()]}))
    rotated = jwks_server.publish("/ehr/rotated.json", es_key.public_jwk())
    client = make_client(trusted_issuers={ISS: {"jwks_file": str(tmp_path / "keys.json"), "jku_allowlist": [rotated]}})
    assert call(client, es_key.sign(claims(ISS, SERVICE_URL), jku=rotated)).status_code == 200
    assert jwks_server.hits["/ehr/rotated.json"] == 1
    assert call(client, other.sign(claims(ISS, SERVICE_URL))).status_code == 200
    assert jwks_server.hits["/ehr/rotated.json"] == 1


# --- which endpoints -------------------------------------------------------------------


def test_discovery_open_by_default_and_protected_when_configured(make_client, es_key):
    assert make_client().get("/cds-services").status_code == 200
    client = make_client(auth_discovery=True)
    assert_refused(client.get("/cds-services"), "required")
    token = es_key.sign(claims(ISS, "http://localhost/cds-services"))
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_auth_disabled_lets_calls_in_and_warns_each_time(make_settings, security_logs):
    app = build_app(make_settings(auth_disabled=True, trusted_issuers={}))
    assert any("DISABLED" in r.getMessage() for r in security_logs.records)
    security_logs.clear()
    client = app.test_client()
    for _ in range(2):
        resp = call(client)
        assert resp.status_code == 200
        assert resp.get_json()["client"]["authenticated"] is False
    warnings = [r for r in security_logs.records if r.levelname == "WARNING" and "DISABLED" in r.getMessage()]
    assert len(warnings) == 2


def test_refusals_tell_an_anonymous_caller_nothing_about_issuers_and_kids(client, es_key, security_logs):
    """Issue 17: distinct 401 texts told which issuers and kids are trusted. One text for all;
    the log line says which check refused (reason code and our fixed text, never the token)."""
    stranger = SigningKey.es384("random-kid-7f3a")
    attempts = {
        "unknown_issuer": es_key.sign(claims("https://not-trusted.example/", SERVICE_URL)),
        "unknown_kid": stranger.sign(claims(ISS, SERVICE_URL)),
        "bad_signature": stranger.sign(claims(ISS, SERVICE_URL), kid=es_key.kid),
        "wrong_audience": es_key.sign(claims(ISS, "https://elsewhere.example/x")),
    }
    answers = set()
    for reason, token in attempts.items():
        resp = call(client, token)
        assert resp.status_code == 401
        answers.add((resp.get_data(as_text=True).replace(resp.get_json()["operationOutcome"].get("id", ""), ""),
                     resp.headers["WWW-Authenticate"]))
        line = [r.getMessage() for r in security_logs.records if "CDS client refused" in r.getMessage()][-1]
        assert reason in line
        assert all(part not in line for part in token.split("."))
    resp = call(client)  # no token at all
    answers.add((resp.get_data(as_text=True), resp.headers["WWW-Authenticate"]))
    assert len({a[1] for a in answers}) == 1
    assert len({json.loads(a[0])["error"] for a in answers}) == 1


def test_a_token_past_exp_but_inside_the_leeway_is_not_replayable(client, es_key):
    """Issue 17: the replay cache must keep a jti until exp + clock skew, as long as the token passes."""
    now = int(time.time())
    token = es_key.sign(claims(ISS, SERVICE_URL, iat=now - 100, exp=now - 30))  # leeway is 60 s
    assert call(client, token).status_code == 200
    assert_refused(call(client, token), "already used", token)

