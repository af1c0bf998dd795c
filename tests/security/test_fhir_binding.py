"""FHIR servers bound per client, and TLS for FHIR servers (issue 17).

The attack: any trusted client could name any allowlisted FHIR server (a tokenless one
included) for a patient of its choosing and read the data quoted back in a card.
"""

from __future__ import annotations

import logging

import pytest
from flask import Flask, g

from cds_service.app import create_app
from cds_service.fhir.access import caller_allowlist, plain_http_entries
from cds_service.security.client_jwt import CdsClient
from cds_service.settings import SettingsError
from tests.conftest import make_settings
from tests.security.conftest import ISS, build_app

A = "https://ehr-a.example.org/fhir/r4"
B = "https://open-fhir.example.org/r4"


def _allowlist_for(client: CdsClient | None, allowed):
    app = Flask(__name__)
    with app.test_request_context("/"):
        if client is not None:
            g.cds_client = client
        return list(caller_allowlist(allowed))


def test_an_authenticated_client_may_name_its_issuers_fhir_servers_only():
    client = CdsClient(iss=ISS, tenant=None, jti="j", sub=None, fhir_servers=(A,))
    assert _allowlist_for(client, (A, B)) == [A]
    nobody = CdsClient(iss=ISS, tenant=None, jti="j", sub=None, fhir_servers=())
    assert _allowlist_for(nobody, (A, B)) == []
    # JWT checks off (local demos): the global allowlist.
    assert _allowlist_for(None, (A, B)) == [A, B]


def test_a_verified_client_carries_its_issuers_fhir_servers(make_client, jwks_url, es_key):
    from tests.security.conftest import SERVICE_PATH, SERVICE_URL
    from tests.security.keys import claims

    client = make_client(trusted_issuers={ISS: {"jwks_url": jwks_url, "fhir_servers": [A + "/"]}},
                         allowed_fhir_servers=(A, B))
    who = client.post(SERVICE_PATH, json={}, headers={
        "Authorization": f"Bearer {es_key.sign(claims(ISS, SERVICE_URL))}"}).get_json()["client"]
    assert who["fhir_servers"] == [A]


def test_a_gather_for_another_clients_server_makes_no_request(make_client, jwks_url, es_key):
    """End to end: issuer bound to A names B; the service must not read B (no request at all)."""
    import requests

    from cds_service.fhir import gather as gather_module
    from tests.fhir.helpers import hook_request, settings as fhir_settings, spine_service

    called = []

    class Session(requests.Session):
        def get(self, url, *args, **kwargs):  # any request would be a failure
            called.append(url)
            raise AssertionError("request sent")

    app = Flask(__name__)
    with app.test_request_context("/"):
        g.cds_client = CdsClient(iss=ISS, tenant=None, jti="j", sub=None, fhir_servers=(A,))
        request = hook_request(prefetch={}, server=B)
        settings = fhir_settings(allowed_fhir_servers=(A, B))
        try:
            gather_module.gather_record(spine_service(), request, settings, session=Session())
        except Exception:  # the essential prefetch is missing: a 412 is fine, a request is not
            pass
    assert called == []
    # Control: bound to B, the same call does read B (so the refusal above is the binding's).
    with app.test_request_context("/"):
        g.cds_client = CdsClient(iss=ISS, tenant=None, jti="j", sub=None, fhir_servers=(B,))
        try:
            gather_module.gather_record(spine_service(), request, settings, session=Session())
        except Exception:
            pass
    assert called and all(url.startswith(B) for url in called)


def test_issuer_fhir_servers_must_be_on_the_global_allowlist(make_settings, jwks_url):
    with pytest.raises(SettingsError, match="fhir_servers"):
        build_app(make_settings(trusted_issuers={ISS: {"jwks_url": jwks_url, "fhir_servers": [B]}},
                                allowed_fhir_servers=(A,)))
    with pytest.raises(SettingsError, match="fhir_servers"):
        build_app(make_settings(trusted_issuers={ISS: {"jwks_url": jwks_url, "fhir_servers": "not a list"}}))


def test_plain_http_fhir_servers_are_refused_outside_loopback():
    assert plain_http_entries(["http://ehr.example.org/fhir", "http://127.0.0.1:8080/fhir",
                               "http://localhost/fhir", "https://ehr.example.org/fhir"]) == ["http://ehr.example.org/fhir"]
    with pytest.raises(SettingsError, match="plain http"):
        create_app(make_settings(allowed_fhir_servers=("http://ehr.example.org/fhir/r4",)))


def test_plain_http_behind_the_explicit_setting_logs_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="cds_service.app")
    app = create_app(make_settings(allowed_fhir_servers=("http://ehr.example.org/fhir/r4",), allow_plain_http_fhir=True))
    assert any("plain http://" in r.getMessage() for r in caplog.records)
    app.extensions["cds_ops"].store.close()
