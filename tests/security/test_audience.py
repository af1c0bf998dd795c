"""The JWT audience comes from configuration only (issue 17): never from Host or X-Forwarded-*."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cds_service.cli import gunicorn_options
from cds_service.settings import Settings, SettingsError
from tests.security.conftest import ISS, SERVICE_PATH, build_app
from tests.security.keys import claims
from tests.support.processes import ROOT, free_port

OTHER = "https://other-deployment.example.org"


def test_start_up_refuses_jwt_checks_without_a_public_base_url(make_settings):
    # Before: the expected aud was built from the request's Host, so this app started and
    # accepted a token issued for another deployment sent with Host: other-deployment.
    with pytest.raises(SettingsError, match="public_base_url"):
        build_app(make_settings(public_base_url=""))


def test_a_spoofed_host_and_proto_never_make_the_audience(make_client, es_key):
    client = make_client()  # public_base_url = http://localhost
    token = es_key.sign(claims(ISS, OTHER + SERVICE_PATH))
    resp = client.post(SERVICE_PATH, json={}, headers={
        "Authorization": f"Bearer {token}", "Host": "other-deployment.example.org", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "other-deployment.example.org"})
    assert resp.status_code == 401


def test_several_accepted_base_urls(make_client, es_key):
    client = make_client(public_base_url="https://cds.example.org/spine/, https://cds-b.example.org")
    for base in ("https://cds.example.org/spine", "https://cds-b.example.org"):
        resp = client.post(SERVICE_PATH, json={}, headers={"Authorization": f"Bearer {es_key.sign(claims(ISS, base + SERVICE_PATH))}"})
        assert resp.status_code == 200, base
    wrong = es_key.sign(claims(ISS, "https://cds-c.example.org" + SERVICE_PATH))
    assert client.post(SERVICE_PATH, json={}, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401


@pytest.mark.parametrize("bad", ["cds.example.org", "https://cds.example.org/?x=1", "ftp://cds.example.org"])
def test_public_base_urls_must_be_absolute_http_urls(make_settings, bad):
    with pytest.raises(SettingsError, match="public_base_url"):
        build_app(make_settings(public_base_url=bad))


def test_proxy_headers_only_from_configured_proxies(make_settings):
    # gunicorn's own default trusts X-Forwarded-Proto from 127.0.0.1 (any local caller).
    assert gunicorn_options(Settings())["forwarded_allow_ips"] == ""
    assert gunicorn_options(Settings(trusted_proxy_ips=("10.0.0.0/8", "192.0.2.7")))["forwarded_allow_ips"] == \
        "10.0.0.0/8,192.0.2.7"
    with pytest.raises(SettingsError, match="trusted_proxy_ips"):
        build_app(make_settings(trusted_proxy_ips=("not-an-ip",)))


def test_live_service_with_jwt_checks_and_no_public_base_url_does_not_start(tmp_path, jwks_url):
    env = {**os.environ, "CDS_HOST": "127.0.0.1", "CDS_PORT": str(free_port()), "CDS_WORKERS": "1",
           "CDS_TRUSTED_ISSUERS": json.dumps({ISS: jwks_url}), "CDS_PUBLIC_BASE_URL": "",
           "CDS_STORE_PATH": str(tmp_path / "s.sqlite3"), "CDS_REPLAY_CACHE_PATH": str(tmp_path / "r.sqlite3")}
    proc = subprocess.run([sys.executable, "-m", "cds_service.cli", "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "public_base_url" in proc.stdout + proc.stderr
