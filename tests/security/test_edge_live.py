"""Attacks on the HTTP edge of the real service under gunicorn (issue 17)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest


def raw_request(base: str, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """One request with the path exactly as given (no client-side normalising); (status, headers)."""
    origin = urlsplit(base)
    conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp
    finally:
        conn.close()


@pytest.mark.parametrize("method, path", [
    ("POST", "/cds-services//spine-order-sign"),
    ("GET", "/cds-services/spine-order-sign//feedback/summary"),
    ("GET", "/cds-services//spine-order-sign//feedback//summary"),
    ("POST", "/cds-services/spine-order-sign//feedback"),
    ("GET", "/demo//patients"),
])
def test_doubled_slash_path_never_redirects_to_the_host_header(live_service, method, path):
    # Before the fix: an unauthenticated 308 to http://evil.example.org/... (Werkzeug's merge_slashes
    # redirect names the host of the Host header): an open redirect.
    status, resp = raw_request(live_service, method, path, {"Host": "evil.example.org"})
    location = resp.getheader("Location")
    assert location is None, (status, location)
    assert not 300 <= status < 400


def test_no_redirect_names_another_host():
    from cds_service.security.headers import same_origin_location

    assert same_origin_location("http://evil.example.org/cds-services") == "/cds-services"
    assert same_origin_location("//evil.example.org/x?y=1") == "/x?y=1"
    assert same_origin_location("/\\evil.example.org") == "/evil.example.org"
