"""JWK Sets of trusted issuers: fetched with short timeouts, cached, refreshed sparingly.

Per key-set URL (only URLs from the trusted-issuer settings ever get here):

- a fetched set is used for ``ttl`` seconds without any network call;
- an unknown ``kid`` in a fresh set triggers one re-fetch (the issuer may have
  rotated keys), at most once per ``refresh_min_interval`` seconds per URL;
- a failed fetch starts a backoff (``backoff`` seconds, doubling up to
  ``backoff_max``) during which no request waits on that URL again; meanwhile
  a cached set up to ``max_stale`` seconds old is still used, and without one
  the caller gets ``KeySetUnavailable`` at once.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import requests

log = logging.getLogger(__name__)

#: A JWK Set is a few KiB; anything this large is not one.
MAX_KEY_SET_BYTES = 256 * 1024
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class KeySetFetchError(Exception):
    """A key set could not be fetched or read; the message is a short, safe reason."""


class KeySetUnavailable(Exception):
    """No key set fresh enough for this URL; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("key set unavailable")
        self.retry_after = retry_after


@dataclass(frozen=True)
class KeySet:
    #: kid -> public JWK (a dict as published).
    keys: Mapping[str, dict]
    fetched_at: float


@dataclass
class _UrlState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    key_set: KeySet | None = None
    last_forced: float = -math.inf
    failures: int = 0
    retry_at: float = -math.inf


def fetch_key_set(url: str, connect_timeout: float, read_timeout: float) -> dict[str, dict]:
    """GET a JWK Set and return its usable public signing keys by ``kid``.

    The whole download must finish within ``connect_timeout + read_timeout``;
    redirects are not followed (they could lead off the allowlist).

    :raise KeySetFetchError: on a network error, timeout, non-200, oversize or
        non-JWKS body.
    """
    deadline = time.monotonic() + connect_timeout + read_timeout
    try:
        with requests.get(
            url,
            timeout=(connect_timeout, read_timeout),
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as resp:
            if resp.status_code != 200:
                raise KeySetFetchError(f"HTTP {resp.status_code}")
            body = bytearray()
            for chunk in resp.iter_content(8192):
                body.extend(chunk)
                if len(body) > MAX_KEY_SET_BYTES:
                    raise KeySetFetchError("body too large")
                if time.monotonic() > deadline:
                    raise KeySetFetchError("too slow")
    except requests.Timeout:
        raise KeySetFetchError("timeout") from None
    except requests.RequestException:
        raise KeySetFetchError("connection failed") from None
    try:
        doc = json.loads(bytes(body))
    except (ValueError, RecursionError):
        raise KeySetFetchError("not JSON") from None
    return usable_keys(doc)


def usable_keys(doc: Any) -> dict[str, dict]:
    """Public asymmetric signing keys of a JWK Set document, by ``kid``.

    Skipped: keys without a kid, symmetric (``oct``) keys, keys for encryption,
    keys that carry private members, and any kid that appears twice (ambiguous).

    :raise KeySetFetchError: if ``doc`` is not ``{"keys": [...]}``.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise KeySetFetchError("not a JWK Set")
    keys: dict[str, dict] = {}
    duplicated: set[str] = set()
    for jwk in doc["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if jwk.get("kty") not in {"EC", "RSA", "OKP"} or jwk.get("use", "sig") != "sig":
            continue
        ops = jwk.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        if _PRIVATE_MEMBERS & set(jwk):
            log.warning("a JWK Set publishes private key material; that key is ignored")
            continue
        if kid in keys:
            duplicated.add(kid)
        keys[kid] = jwk
    for kid in duplicated:
        del keys[kid]
    return keys


class JwksCache:
    """Thread-safe per-process cache of JWK Sets by URL (see the module docstring)."""

    def __init__(
        self,
        *,
        ttl: float,
        max_stale: float,
        refresh_min_interval: float,
        backoff: float,
        backoff_max: float,
        connect_timeout: float,
        read_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._ttl = ttl
        self._max_stale = max(max_stale, ttl)
        self._refresh_min_interval = refresh_min_interval
        self._backoff = backoff
        self._backoff_max = max(backoff_max, backoff)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._clock = clock
        self._states: dict[str, _UrlState] = {}
        self._states_lock = threading.Lock()

    def get_jwk(self, url: str, kid: str) -> dict | None:
        """The public JWK ``kid`` from the set at ``url``, or None if the set has no such key.

        :raise KeySetUnavailable: when no set for ``url`` is cached fresh enough and
            it cannot be fetched now (failure, or in backoff after one).
        """
        state = self._state(url)
        key_set = state.key_set
        now = self._clock()
        if key_set is not None and now - key_set.fetched_at < self._ttl:
            if kid in key_set.keys:
                return key_set.keys[kid]
            # Unknown kid in a fresh set: maybe a rotation. Re-fetch, but rarely,
            # so random kids cannot make us hammer the issuer.
            if now - state.last_forced < self._refresh_min_interval:
                return None
            key_set = self._refresh(state, url, observed=key_set, forced=True) or key_set
            return key_set.keys.get(kid)
        key_set = self._refresh(state, url, observed=key_set)
        if key_set is None or self._clock() - key_set.fetched_at > self._max_stale:
            raise KeySetUnavailable(retry_after=self._retry_after(state))
        return key_set.keys.get(kid)

    def _state(self, url: str) -> _UrlState:
        state = self._states.get(url)
        if state is None:
            with self._states_lock:
                state = self._states.setdefault(url, _UrlState())
        return state

    def _retry_after(self, state: _UrlState) -> int:
        return max(1, math.ceil(state.retry_at - self._clock()))

    def _refresh(
        self, state: _UrlState, url: str, observed: KeySet | None, forced: bool = False
    ) -> KeySet | None:
        """Fetch the set unless another thread just did or the URL is in backoff.

        Returns the newest set held (maybe stale, maybe None); never raises.
        """
        with state.lock:
            if state.key_set is not observed:
                return state.key_set  # another thread fetched while we waited
            now = self._clock()
            if now < state.retry_at:
                return state.key_set
            if forced:
                state.last_forced = now
            try:
                keys = fetch_key_set(url, self._connect_timeout, self._read_timeout)
            except KeySetFetchError as exc:
                state.failures += 1
                delay = min(self._backoff * 2 ** (state.failures - 1), self._backoff_max)
                state.retry_at = now + delay
                log.warning("JWK Set fetch from %s failed (%s); next try in %.0f s", url, exc, delay)
                return state.key_set
            state.failures = 0
            state.retry_at = -math.inf
            state.key_set = KeySet(keys=keys, fetched_at=now)
            return state.key_set
