"""The CDS clients this service trusts: ``CDS_TRUSTED_ISSUERS`` parsed and checked.

Shape (a JSON object; the key is the exact ``iss`` string, no normalising)::

    {"https://ehr.example.org/": {"jwks_url": "https://ehr.example.org/jwks",
                                  "jku_allowlist": ["https://ehr.example.org/jwks-2"]},
     "https://other-ehr.example.org": "https://keys.example.org/other-jwks.json",
     "https://sandbox.cds-hooks.org": {"jwks_file": "config/issuers/cds-hooks-sandbox.jwks.json"}}

A token's ``jku`` is followed only when it is in that issuer's allowlist (the
configured ``jwks_url`` always is); otherwise the issuer's ``jwks_file`` (a JWK
Set configured out of band, read once at start-up, relative to ``content_dir``)
or its ``jwks_url`` is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from cds_service.fhir.access import normalize_base_url
from cds_service.security.jwks import KeySetFetchError, usable_keys
from cds_service.settings import SettingsError

_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
_SETTING = "trusted_issuers (CDS_TRUSTED_ISSUERS)"


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    #: Key set used when the token has no jku, or one not on the allowlist; may be "".
    jwks_url: str
    #: Key-set URLs a token's ``jku`` may name (includes ``jwks_url``).
    jku_allowlist: frozenset[str]
    #: Keys by kid from ``jwks_file``; None when the issuer has no such file.
    static_keys: Mapping[str, dict] | None = field(default=None, compare=False)
    #: FHIR base URLs (normalised) this issuer's clients may name as ``fhirServer``; empty: none.
    fhir_servers: frozenset[str] = frozenset()

    def key_set_url(self, jku: str | None) -> str | None:
        """The JWKS URL to verify a token of this issuer with; None when there is none."""
        if jku and jku in self.jku_allowlist:
            return jku
        return self.jwks_url or None


def check_key_set_url(url: Any, where: str) -> str:
    """Return ``url`` if it may serve keys: https, or http on a loopback host (tests, demos).

    :raise SettingsError: naming ``where`` otherwise.
    """
    if not isinstance(url, str) or not url:
        raise SettingsError(f"{_SETTING}: {where}: expected a URL string")
    parts = urlsplit(url)
    plain_http_ok = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or plain_http_ok):
        # Keys fetched over plain http could be swapped by anyone on the path.
        raise SettingsError(f"{_SETTING}: {where}: key set URLs must be https (http only on 127.0.0.1)")
    if parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{_SETTING}: {where}: no fragment or credentials in a key set URL")
    return url


def read_key_set_file(path: Path, where: str) -> dict[str, dict]:
    """The usable public keys of a JWK Set file, by kid.

    :raise SettingsError: naming ``where`` if the file is unreadable, not a JWK Set or holds no usable key.
    """
    try:
        keys = usable_keys(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise SettingsError(f"{_SETTING}: {where}: cannot read {path} ({exc.strerror})") from None
    except (ValueError, KeySetFetchError):
        raise SettingsError(f"{_SETTING}: {where}: {path} is not a JWK Set") from None
    if not keys:
        raise SettingsError(f"{_SETTING}: {where}: {path} has no public signing key with a kid")
    return keys


def parse_trusted_issuers(raw: Mapping[str, Any], base_dir: Path | None = None) -> dict[str, TrustedIssuer]:
    """Turn the setting's JSON object into ``{iss: TrustedIssuer}``.

    ``base_dir`` anchors relative ``jwks_file`` paths (the content folder).

    :raise SettingsError: on a wrong shape, an unknown field, a non-https key URL, an
        unreadable key file or an issuer with no key set at all.
    """
    issuers: dict[str, TrustedIssuer] = {}
    for iss, value in raw.items():
        if not isinstance(iss, str) or not iss:
            raise SettingsError(f"{_SETTING}: issuer names must be non-empty strings")
        if isinstance(value, str):
            value = {"jwks_url": value}
        if not isinstance(value, dict):
            raise SettingsError(f"{_SETTING}: {iss}: expected a JWKS URL or an object")
        unknown = set(value) - {"jwks_url", "jku_allowlist", "jwks_file", "fhir_servers"}
        if unknown:
            raise SettingsError(f"{_SETTING}: {iss}: unknown field(s) {', '.join(sorted(unknown))}")
        jwks_url = value.get("jwks_url") or ""
        if jwks_url:
            check_key_set_url(jwks_url, f"{iss} jwks_url")
        allow = value.get("jku_allowlist") or []
        if not isinstance(allow, list):
            raise SettingsError(f"{_SETTING}: {iss}: jku_allowlist must be a list of URLs")
        allowed = {check_key_set_url(u, f"{iss} jku_allowlist") for u in allow}
        if jwks_url:
            allowed.add(jwks_url)
        static_keys = None
        if value.get("jwks_file"):
            if not isinstance(value["jwks_file"], str):
                raise SettingsError(f"{_SETTING}: {iss}: jwks_file must be a file path")
            path = Path(value["jwks_file"])
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            static_keys = read_key_set_file(path, f"{iss} jwks_file")
        servers = value.get("fhir_servers") or []
        if not isinstance(servers, list) or any(normalize_base_url(s) is None for s in servers):
            raise SettingsError(f"{_SETTING}: {iss}: fhir_servers must be a list of FHIR base URLs")
        if not allowed and static_keys is None:
            raise SettingsError(f"{_SETTING}: {iss}: needs a jwks_url, a jwks_file or a jku_allowlist")
        issuers[iss] = TrustedIssuer(
            iss=iss, jwks_url=jwks_url, jku_allowlist=frozenset(allowed), static_keys=static_keys,
            fhir_servers=frozenset(normalize_base_url(s) for s in servers),
        )
    return issuers
