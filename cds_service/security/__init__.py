"""Trust only the CDS clients we were set up for, and harden every response.

``init_app`` wires it all into a Flask app:

- before each hook call and feedback call (and discovery when
  ``auth_discovery``), the bearer JWT is verified (``client_jwt``) and the
  caller put on ``flask.g.cds_client``; OPTIONS preflights pass untouched;
- JSON bodies nested deeper than ``json_max_depth`` get 400 before parsing (a hook call's in
  stages, as its parts are decoded: ``cds_service.envelope``);
- every response gets the security headers (``headers``).
"""

from __future__ import annotations

import logging

from flask import Flask, g, request

from cds_service.errors import UnsupportedMediaType
from cds_service.fhir.access import normalize_base_url
from cds_service.security.client_jwt import CdsClient, ClientJwtVerifier
from cds_service.security.errors import AuthUnavailable, Unauthorized
from cds_service.security.headers import add_security_headers
from cds_service.security.issuers import parse_trusted_issuers
from cds_service.security.json_depth import check_depth, is_utf8_json
from cds_service.security.jwks import JwksCache
from cds_service.security.replay import ReplayCache, SQLiteReplayCache
from cds_service.security.request_auth import (
    UNAUTHENTICATED,
    CdsClientLogFilter,
    authenticate,
    needs_auth,
    protected_endpoints,
)
from cds_service.settings import Settings, SettingsError

__all__ = [
    "AuthUnavailable",
    "CdsClient",
    "CdsClientLogFilter",
    "ReplayCache",
    "Unauthorized",
    "build_verifier",
    "sqlite_replay_cache",
    "init_app",
]

log = logging.getLogger(__name__)

#: The hook call endpoint: its body's depth is checked in stages (``cds_service.envelope``); the view
#: finds the body read so on ``flask.g.cds_staged_body``.
_HOOK_CALL = "cds.call_service"

_DISABLED_WARNING = "CDS client authentication is DISABLED (CDS_AUTH_DISABLED=true): local demos only"


def sqlite_replay_cache(settings: Settings) -> SQLiteReplayCache:
    """The SQLite replay cache at ``replay_cache_path`` (relative: under ``content_dir``).

    :raise ReplayCacheError: if the file cannot be created or opened.
    """
    path = settings.replay_cache_path
    if not path.is_absolute():
        # content_dir is writable in the image (/app); the package directory is not.
        path = settings.content_dir / path
    return SQLiteReplayCache(path, busy_timeout=settings.replay_cache_busy_timeout)


def build_verifier(settings: Settings, replay_cache: ReplayCache | None = None) -> ClientJwtVerifier:
    """A verifier from settings (its own JWKS cache; the SQLite replay cache unless given).

    :raise SettingsError: on a bad trusted-issuer map or algorithm list.
    :raise ReplayCacheError: if the replay cache file cannot be opened.
    """
    key_sets = JwksCache(
        ttl=settings.jwks_cache_ttl_seconds,
        max_stale=settings.jwks_max_stale_seconds,
        refresh_min_interval=settings.jwks_refresh_min_interval_seconds,
        backoff=settings.jwks_failure_backoff_seconds,
        backoff_max=settings.jwks_failure_backoff_max_seconds,
        connect_timeout=settings.jwks_connect_timeout,
        read_timeout=settings.jwks_read_timeout,
    )
    if replay_cache is None:
        replay_cache = sqlite_replay_cache(settings)
    return ClientJwtVerifier(
        issuers=parse_trusted_issuers(settings.trusted_issuers, settings.content_dir),
        key_sets=key_sets,
        replay_cache=replay_cache,
        algorithms=settings.jwt_algorithms,
        clock_skew=settings.jwt_clock_skew_seconds,
        max_lifetime=settings.jwt_max_lifetime_seconds,
    )


def _check_issuer_fhir_servers(settings: Settings) -> None:
    """Each issuer's ``fhir_servers`` must be on ``allowed_fhir_servers`` (the egress allowlist)."""
    allowed = {normalize_base_url(a) for a in settings.allowed_fhir_servers}
    for issuer in parse_trusted_issuers(settings.trusted_issuers, settings.content_dir).values():
        off = sorted(issuer.fhir_servers - allowed)
        if off:
            raise SettingsError(
                f"setting trusted_issuers (CDS_TRUSTED_ISSUERS): {issuer.iss}: fhir_servers not in "
                f"allowed_fhir_servers (CDS_ALLOWED_FHIR_SERVERS): {off}"
            )
        if settings.allowed_fhir_servers and not issuer.fhir_servers:
            log.warning("trusted issuer %s has no fhir_servers: its calls may name no FHIR server "
                        "(the service uses their prefetch only)", issuer.iss)


def init_app(app: Flask, settings: Settings, replay_cache: ReplayCache | None = None) -> None:
    """Register authentication, the JSON depth limit and security headers on ``app``.

    Call it before other ``before_request`` hooks so callers are authenticated first.
    Its refusals are CdsErrors: ``cds_service.errors.register_error_handlers`` renders them
    (with their ``WWW-Authenticate`` or ``Retry-After`` header).
    ``replay_cache`` replaces the SQLite one (e.g. the shared PostgreSQL store later).

    :raise SettingsError: on invalid security settings (at start-up, not per request).
    :raise ReplayCacheError: if the replay cache file cannot be opened.
    """
    endpoints = protected_endpoints(settings.auth_discovery)
    bases = settings.public_base_urls
    if settings.auth_disabled:
        log.warning(_DISABLED_WARNING)
        verifier = None
    else:
        if replay_cache is None:
            replay_cache = sqlite_replay_cache(settings)
        verifier = build_verifier(settings, replay_cache)
        _check_issuer_fhir_servers(settings)
        if settings.trusted_issuers and not bases:
            # Otherwise aud would be compared with a URL built from the client's Host header, and a
            # token issued for another deployment would pass here. With no trusted
            # issuer every call is refused anyway.
            raise SettingsError(
                "setting public_base_url (CDS_PUBLIC_BASE_URL): required while JWT checks are on; the JWT aud "
                "is checked against it (the URL the EHR calls), never against the request's Host header"
            )
        if not settings.trusted_issuers:
            log.error("no CDS_TRUSTED_ISSUERS configured: every hook call will be refused with 401")
    # For shutdown and tests: close the replay cache's connections.
    app.extensions["cds_security"] = {"verifier": verifier, "replay_cache": replay_cache}

    @app.before_request
    def _authenticate_cds_client():
        if not needs_auth(endpoints):
            return None
        if verifier is None:
            log.warning("unauthenticated call to %s accepted: %s", request.endpoint, _DISABLED_WARNING)
            g.cds_client = UNAUTHENTICATED
            return None
        authenticate(verifier, bases)
        return None

    from cds_service.envelope import read_staged  # here: the envelope reads the depth scan of this package

    max_depth = settings.json_max_depth

    @app.before_request
    def _limit_json_depth():
        if request.method in ("POST", "PUT", "PATCH") and request.is_json:
            # get_data caches the body for the JSON parser and obeys MAX_CONTENT_LENGTH.
            body = request.get_data(cache=True)
            # The scan reads UTF-8 bytes; json.loads would also take UTF-16/32, whose code units
            # can hide quotes and brackets from it. JSON between systems is UTF-8 (RFC 8259 8.1).
            charset = (request.mimetype_params.get("charset") or "utf-8").lower()
            if charset not in ("utf-8", "utf8") or not is_utf8_json(body):
                raise UnsupportedMediaType("Send the JSON body as UTF-8 (RFC 8259), without a byte order mark.")
            if request.endpoint == _HOOK_CALL:
                # The head (all but the prefetch) scanned now, the prefetch when it is decoded, if ever
                # (cds_service.envelope); a body that is not plainly valid JSON is scanned whole, as always.
                staged = read_staged(body, max_depth)
                if staged is None:
                    check_depth(body, max_depth)
                g.cds_staged_body = staged
            else:
                check_depth(body, max_depth)
        return None

    app.after_request(add_security_headers)
