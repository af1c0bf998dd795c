"""The console page as served: public, its own strict CSP, no inline code, nothing from elsewhere, packaged.

These need no browser; tests/browser/test_console_browser.py drives the page itself.
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.console import PAGE_CSP
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "cds_service" / "console" / "static"


def _get(client, path: str):
    """GET and close (static files are streamed from an open file)."""
    with client.get(path) as response:
        response.get_data()
        return response


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


def test_page_is_served_without_a_jwt_with_its_own_policy():
    # JWT checks on (no issuer trusted): hook calls get 401, the page still loads.
    client = create_app(make_settings(auth_disabled=False)).test_client()
    assert client.post("/cds-services/spine-order-select", json={}).status_code == 401
    page = _get(client, "/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csp = _directives(page.headers["Content-Security-Policy"])
    assert csp["script-src"] == "script-src 'self'"
    assert csp["style-src"] == "style-src 'self'"
    assert csp["connect-src"] == "connect-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["default-src"] == "default-src 'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    for name in ("console.js", "markdown.js", "console.css"):
        asset = _get(client, f"/console/static/{name}")
        assert asset.status_code == 200, name
        assert asset.mimetype in ("text/javascript", "text/css")


def test_page_refers_only_to_its_own_files():
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert refs, "the page loads its scripts and styles"
    for ref in refs:
        assert ref == "data:," or (not re.match(r"^[a-z]+:|^//", ref) and (STATIC / Path(ref).name).is_file()), ref


def test_no_inline_code_and_no_html_sinks():
    html = (STATIC / "index.html").read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="' in tag, f"inline script: {tag}"
    assert not re.search(r"<style\b", html)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html, re.I), "inline event handler"
    # Card text reaches the page through textContent only: no HTML parsing sinks, no eval.
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*['\"]")
    for script in STATIC.glob("*.js"):
        found = sinks.findall(script.read_text())
        assert not found, f"{script.name}: {found}"


def test_console_can_be_switched_off():
    client = create_app(make_settings(console_enabled=False)).test_client()
    assert _get(client, "/").status_code == 404
    assert _get(client, "/console/static/console.js").status_code == 404
    assert client.get("/cds-services").status_code == 200


def test_every_console_file_is_package_data():
    # The image installs the package non-editable: files not listed would be missing there.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["cds_service.console"]
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert files
    # setuptools globs do not cross folders ("static/*" misses "static/x/y.js"); fnmatch's "*" would.
    missing = [f for f in files if not any(fnmatch(f, pattern) and pattern.count("/") == f.count("/")
                                           for pattern in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


@pytest.mark.parametrize("path", ["/", "/console/static/console.js"])
def test_console_responses_match_openapi(path):
    from tests.support import openapi

    client = create_app(make_settings()).test_client()
    reply = _get(client, path)
    openapi.validate_response("GET", path, reply.status_code, reply.get_data(as_text=True), reply.content_type)
    missing = _get(client, "/console/static/no-such-file.js")
    openapi.validate_response("GET", "/console/static/no-such-file.js", missing.status_code, missing.get_json(),
                              missing.content_type)


def test_page_csp_constant_is_what_the_page_gets():
    page = _get(create_app(make_settings()).test_client(), "/")
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
