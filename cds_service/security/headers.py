"""Security headers set on every response."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Response, request

#: Endpoints whose responses carry patient-specific content: never stored by any cache.
NO_STORE_ENDPOINTS = frozenset({"cds.call_service", "cds.feedback"})

#: For JSON (and error) responses: nothing may load, run or frame. A page that
#: needs more (the HTML console) sets its own policy and this one is not applied.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def same_origin_location(location: str) -> str:
    """``location`` as a path on this service: scheme and host dropped, leading slashes collapsed.

    A redirect built by Werkzeug names the host of the request's ``Host`` header; the
    service never sends a client to another host (no open redirect).
    """
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/\\")
    return urlunsplit(("", "", path, parts.query, ""))


def add_security_headers(response: Response) -> Response:
    for name, value in _ALWAYS.items():
        response.headers[name] = value
    response.headers.setdefault("Content-Security-Policy", STRICT_CSP)
    location = response.headers.get("Location")
    if location is not None:
        response.headers["Location"] = same_origin_location(location)
    if request.endpoint in NO_STORE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response
