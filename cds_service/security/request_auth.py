"""Flask side of client authentication: which requests, which audience, what to log."""

from __future__ import annotations

import logging

from flask import g, has_request_context, request

from cds_service.security.client_jwt import CdsClient, ClientJwtVerifier
from cds_service.security.errors import AuthError, Unauthorized

log = logging.getLogger(__name__)

HOOK_ENDPOINTS = frozenset({"cds.call_service", "cds.feedback", "cds.feedback_summary"})
DISCOVERY_ENDPOINT = "cds.discovery"
UNAUTHENTICATED = CdsClient(iss=None, tenant=None, jti=None, sub=None, authenticated=False)


def protected_endpoints(auth_discovery: bool) -> frozenset[str]:
    return HOOK_ENDPOINTS | {DISCOVERY_ENDPOINT} if auth_discovery else HOOK_ENDPOINTS


def needs_auth(endpoints: frozenset[str]) -> bool:
    # Preflights carry no credentials by design (browsers never send them).
    return request.method != "OPTIONS" and request.endpoint in endpoints


def expected_audience(public_base_urls: tuple[str, ...]) -> list[str]:
    """The URLs one of which the client must have put in ``aud``: a configured base + the path.

    From configuration only: never the request's Host or X-Forwarded-* headers, which the
    caller chooses (a token for another deployment would pass).
    """
    return [base + request.path for base in public_base_urls]


def bearer_token() -> str:
    """The token of an ``Authorization: Bearer <token>`` header.

    :raise Unauthorized: when the header is missing, of another scheme, or empty.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("no_token", "Authorization: Bearer <JWT> is required.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("bad_scheme", "Authorization header must be Bearer <JWT>.")
    return token


def authenticate(verifier: ClientJwtVerifier, public_base_urls: tuple[str, ...]) -> CdsClient:
    """Verify the request's bearer JWT, put the caller on ``g.cds_client``, log it (never the token).

    :raise Unauthorized, AuthUnavailable: as ``ClientJwtVerifier.verify``.
    """
    try:
        client = verifier.verify(bearer_token(), expected_audience(public_base_urls))
    except AuthError as exc:
        # The reason code and our own fixed text: no token, no claim values from an untrusted token.
        # The client got one generic text (Unauthorized) so that it learns nothing of our issuers.
        log.warning("CDS client refused on %s: %s (%s)", request.endpoint, getattr(exc, "reason", "?"),
                    getattr(exc, "detail", exc.message))
        raise
    g.cds_client = client  # before logging, so CdsClientLogFilter sees it
    log.info("CDS client iss=%r tenant=%r on %s", client.iss, client.tenant, request.endpoint)
    return client


class CdsClientLogFilter(logging.Filter):
    """Adds ``cds_iss`` and ``cds_tenant`` to log records (``-`` outside an authenticated call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        client = g.get("cds_client") if has_request_context() else None
        record.cds_iss = (client and client.iss) or "-"
        record.cds_tenant = (client and client.tenant) or "-"
        return True
