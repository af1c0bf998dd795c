"""Verification of the CDS client JWT (CDS Hooks 2.0, "Trusting CDS Clients").

Order matters: nothing from the token is trusted before the signature checks
out, except ``iss``/``kid``/``jku``/``alg``, which only choose among keys we
were configured to trust. The replay cache is written last, so tokens that
fail any other check cannot fill it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKError,
)

from cds_service.security.errors import AuthUnavailable, Unauthorized
from cds_service.security.issuers import TrustedIssuer
from cds_service.security.jwks import JwksCache, KeySetUnavailable
from cds_service.security.replay import ReplayCache, ReplayCacheError
from cds_service.settings import ASYMMETRIC_ALGORITHMS, SettingsError

log = logging.getLogger(__name__)

_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_MIN_RSA_BITS = 2048
MAX_TOKEN_CHARS = 16 * 1024
MAX_JTI_CHARS = 255
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
_JWS_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class CdsClient:
    """Who called, for logs and audit; put on ``flask.g.cds_client``."""

    iss: str | None
    tenant: str | None
    jti: str | None
    sub: str | None
    authenticated: bool = True
    #: The FHIR base URLs (normalised) this client may name as fhirServer: its issuer's
    #: ``fhir_servers``. None outside an authenticated call (the global allowlist).
    fhir_servers: tuple[str, ...] | None = None


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """Return the configured algorithms if all are asymmetric.

    :raise SettingsError: on `none`, an HMAC or unknown algorithm, or an empty list.
    """
    algs = tuple(algorithms)
    bad = [a for a in algs if a not in ASYMMETRIC_ALGORITHMS]
    if bad or not algs:
        raise SettingsError(
            "setting jwt_algorithms (CDS_JWT_ALGORITHMS): only asymmetric algorithms "
            f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) are accepted; got {', '.join(bad) or 'none'}"
        )
    return algs


class ClientJwtVerifier:
    """Checks a bearer JWT against the trusted issuers, their keys and the replay cache."""

    def __init__(
        self,
        *,
        issuers: Mapping[str, TrustedIssuer],
        key_sets: JwksCache,
        replay_cache: ReplayCache,
        algorithms: Iterable[str],
        clock_skew: int,
        max_lifetime: int,
    ):
        self._issuers = dict(issuers)
        self._key_sets = key_sets
        self._replay = replay_cache
        self._algorithms = check_algorithms(algorithms)
        self._skew = clock_skew
        self._max_lifetime = max_lifetime

    def verify(self, token: str, expected_audience: str | list[str]) -> CdsClient:
        """Verify ``token`` for a call to ``expected_audience`` and record its jti.

        :raise Unauthorized: for any token that is not acceptable (reason in ``.reason``).
        :raise AuthUnavailable: if the issuer's keys or the replay cache cannot be reached now.
        """
        if len(token) > MAX_TOKEN_CHARS or not _JWS_COMPACT.match(token):
            raise Unauthorized("malformed", "Bearer token is not a compact JWT.")
        try:
            # Unverified read, only to pick among keys we trust; claims are checked later.
            unverified = jwt.decode_complete(token, options={"verify_signature": False})
        except (InvalidTokenError, ValueError, RecursionError):
            raise Unauthorized("malformed", "Bearer token is not a compact JWT.") from None
        header = unverified["header"]
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise Unauthorized("bad_alg", "Token algorithm is not accepted.")
        typ = header.get("typ", "JWT")  # REQUIRED by the spec; tolerated when absent
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise Unauthorized("bad_typ", "Token typ must be JWT.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("no_kid", "Token header has no kid.")
        iss = unverified["payload"].get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized("unknown_issuer", "Token issuer is not trusted by this service.")
        jku = header.get("jku")
        jku = jku if isinstance(jku, str) else None
        if issuer.static_keys is not None and not (jku and jku in issuer.jku_allowlist):
            # A key set configured out of band: no network call at all.
            pyjwk = self._checked_key(issuer.static_keys.get(kid), alg)
        else:
            url = issuer.key_set_url(jku)
            if url is None:
                raise Unauthorized("jku_not_allowed", "Token jku is not an allowed key set URL for this issuer.")
            pyjwk = self._key(url, kid, alg, issuer.iss)
        claims = self._decode(token, pyjwk, alg, issuer.iss, expected_audience)
        return dataclasses.replace(self._record_use(issuer.iss, claims), fhir_servers=tuple(sorted(issuer.fhir_servers)))

    def _key(self, url: str, kid: str, alg: str, iss: str) -> jwt.PyJWK:
        try:
            # Unknown kids force a re-fetch at most once per interval per issuer, over all its URLs.
            jwk = self._key_sets.get_jwk(url, kid, refresh_key=iss)
        except KeySetUnavailable as exc:
            raise AuthUnavailable(
                "keys_unavailable",
                "The issuer's signing keys cannot be fetched now; try again later.",
                retry_after=exc.retry_after,
            ) from None
        return self._checked_key(jwk, alg)

    def _checked_key(self, jwk: dict | None, alg: str) -> jwt.PyJWK:
        if jwk is None:
            raise Unauthorized("unknown_kid", "No key with this kid in the issuer's key set.")
        if jwk.get("alg", alg) != alg or (alg in _EC_CURVES and jwk.get("crv") != _EC_CURVES[alg]):
            raise Unauthorized("bad_alg", "Token algorithm does not match the key with this kid.")
        try:
            pyjwk = jwt.PyJWK(jwk, algorithm=alg)
        except (PyJWKError, InvalidKeyError, ValueError, TypeError, KeyError):
            raise Unauthorized("bad_alg", "Token algorithm does not match the key with this kid.") from None
        if getattr(pyjwk.key, "key_size", _MIN_RSA_BITS) < _MIN_RSA_BITS and alg[:2] in {"RS", "PS"}:
            raise Unauthorized("weak_key", "The issuer's key with this kid is too short.")
        return pyjwk

    def _decode(self, token: str, key: jwt.PyJWK, alg: str, iss: str, audience: str | list[str]) -> dict:
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self._skew,
                options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except ExpiredSignatureError:
            raise Unauthorized("expired", "Token has expired.") from None
        except ImmatureSignatureError:
            raise Unauthorized("not_yet_valid", "Token iat or nbf is in the future.") from None
        except InvalidAudienceError:
            raise Unauthorized("wrong_audience", "Token aud is not the URL of this endpoint.") from None
        except MissingRequiredClaimError as exc:
            # claim names come from our own list, safe to echo
            raise Unauthorized("missing_claim", f"Token lacks the required claim {exc.claim}.") from None
        except InvalidSignatureError:
            raise Unauthorized("bad_signature", "Token signature is invalid.") from None
        except (InvalidAlgorithmError, InvalidKeyError):
            raise Unauthorized("bad_alg", "Token algorithm does not match the key with this kid.") from None
        except DecodeError:
            raise Unauthorized("malformed", "Bearer token is not a compact JWT.") from None
        except InvalidTokenError:
            raise Unauthorized("bad_claim", "Token claims are not valid.") from None
        for name in ("exp", "iat"):
            if isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)):
                raise Unauthorized("bad_claim", f"Token claim {name} must be a number.")
        for name in ("jti", "tenant", "sub"):
            if name in claims and not isinstance(claims[name], str):
                raise Unauthorized("bad_claim", f"Token claim {name} must be a string.")
        if not claims["jti"] or len(claims["jti"]) > MAX_JTI_CHARS:
            raise Unauthorized("bad_claim", "Token jti must be 1 to 255 characters.")
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise Unauthorized("too_long_lived", "Token lifetime (exp - iat) is longer than this service accepts.")
        return claims

    def _record_use(self, iss: str, claims: dict) -> CdsClient:
        # Keep the jti until the token can no longer pass the exp check anywhere.
        try:
            replayed = self._replay.seen_before(claims["jti"], iss, claims["exp"] + self._skew)
        except ReplayCacheError:
            log.error("replay cache unavailable; CDS client call refused")
            raise AuthUnavailable(
                "replay_cache_unavailable", "Token replay check is unavailable; try again later."
            ) from None
        if replayed:
            raise Unauthorized("replay", "Token was already used (jti seen before).")
        return CdsClient(iss=iss, tenant=claims.get("tenant"), jti=claims["jti"], sub=claims.get("sub"))
