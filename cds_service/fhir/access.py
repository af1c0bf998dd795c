"""May this hook call read the client's FHIR server, and with which token?

Pure functions, no IO. The rule: ``fhirServer`` must equal one of the
configured base URLs (``CDS_ALLOWED_FHIR_SERVERS``) before any request, with or
without a token, is made to it. Otherwise a caller could point the service at
any URL (request forgery) and collect the tokens of other callers.

The access token is held in a :class:`BearerToken`, whose ``repr``/``str`` hide
it, so a stray log line or exception that formats it shows no secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: RFC 6750 allows b64token; we take any visible ASCII (no space, no CR/LF, so
#: the header cannot be split), which also covers opaque tokens in the wild.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{1,8192}")


class NoServerAccess(Exception):
    """The FHIR server may not be read for this call; ``reason`` is a fixed code (no URL, no token)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BearerToken:
    """An access token that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def header(self) -> str:
        return f"Bearer {self._value}"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "BearerToken(***)"

    __str__ = __repr__


def normalize_base_url(url: object) -> str | None:
    """``scheme://host[:port]/path`` without a trailing slash, lower-cased scheme and host,
    default port dropped; None for anything that is not a plain http(s) base URL
    (user info, query or fragment included)."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    if parts.query or parts.fragment or "\\" in url or any(c.isspace() for c in url.strip()):
        return None
    path = parts.path.rstrip("/")
    if any(step in (".", "..") for step in path.split("/")):
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"


def invalid_allowlist_entries(allowed: Iterable[str]) -> list[str]:
    """Entries of the allowlist that are not base URLs (for a start-up check)."""
    return [entry for entry in allowed if normalize_base_url(entry) is None]


def allowed_base(fhir_server: object, allowed: Iterable[str]) -> str | None:
    """The normalised base of ``fhir_server`` when it is on the allowlist, else None."""
    base = normalize_base_url(fhir_server)
    if base is None:
        return None
    return base if base in {normalize_base_url(a) for a in allowed} else None


def is_under_base(url: str, base: str) -> bool:
    """True when ``url`` is on the same origin as ``base`` and at or below its path.

    Used for searchset ``next`` links: a server must not send the token elsewhere.
    ``base?...`` counts as under the base (HAPI pages as ``base?_getpages=...``).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return False
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if any(step in (".", "..") for step in parts.path.split("/")) or "%2e" in parts.path.lower():
        return False
    origin_path = f"{scheme}://{netloc}{parts.path.rstrip('/')}"
    return origin_path == base or origin_path.startswith(base + "/")


def bearer_token(fhir_authorization: object) -> BearerToken | None:
    """The token of the request's ``fhirAuthorization``, or None when there is none.

    :raise NoServerAccess: ``unsupported-token-type`` when ``token_type`` is not
        Bearer, ``invalid-token`` when the token is not a usable header value.
    """
    if fhir_authorization is None:
        return None
    if not isinstance(fhir_authorization, dict):
        raise NoServerAccess("invalid-token")
    token_type = fhir_authorization.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise NoServerAccess("unsupported-token-type")
    token = fhir_authorization.get("access_token")
    if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
        raise NoServerAccess("invalid-token")
    return BearerToken(token)


@dataclass(frozen=True)
class ServerAccess:
    base_url: str
    token: BearerToken | None


_LOOPBACK_HOSTS = {"localhost", "::1", "[::1]"}


def is_loopback(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def plain_http_entries(allowed: Iterable[str]) -> list[str]:
    """Allowlisted ``http://`` bases outside loopback: the spec requires TLS for FHIR servers."""
    return [a for a in allowed if (normalize_base_url(a) or "").startswith("http://") and not is_loopback(a)]


def caller_allowlist(allowed: Iterable[str]) -> Iterable[str]:
    """The FHIR servers the calling client may name: its issuer's ``fhir_servers`` during an
    authenticated call (so a trusted client cannot name another client's allowlisted server), else
    the global allowlist (JWT checks off: local demos)."""
    from flask import g, has_request_context  # here: the rest of this module is pure

    client = g.get("cds_client") if has_request_context() else None
    servers = getattr(client, "fhir_servers", None) if client is not None and client.authenticated else None
    if servers is None:
        return allowed
    everywhere = {normalize_base_url(a) for a in allowed}
    return [s for s in servers if s in everywhere]


def server_access(request: dict, allowed: Iterable[str]) -> ServerAccess:
    """How this call may read the client's FHIR server.

    Without ``fhirAuthorization`` an allowed server is read without a token (an
    open server, as the CDS Hooks sandbox uses).

    :raise NoServerAccess: ``no-fhir-server`` when the request names none,
        ``not-allowed-server`` when it is not on the allowlist (or not a base URL),
        or a token reason from :func:`bearer_token`.
    """
    server = request.get("fhirServer")
    if server in (None, ""):
        raise NoServerAccess("no-fhir-server")
    base = allowed_base(server, allowed)
    if base is None:
        raise NoServerAccess("not-allowed-server")
    return ServerAccess(base, bearer_token(request.get("fhirAuthorization")))
