"""JWK Sets of trusted issuers: fetched with short timeouts, cached, refreshed sparingly.

Per key-set URL (only URLs from the trusted-issuer settings ever get here):

- a fetched set is used for ``ttl`` seconds without any network call;
- an unknown ``kid`` in a fresh set triggers one re-fetch (the issuer may have
  rotated keys), at most once per ``refresh_min_interval`` seconds per URL and
  per issuer (``refresh_key``), whatever its number of allowlisted URLs;
- a failed fetch starts a backoff (``backoff`` seconds, doubling up to
  ``backoff_max``), counted from the end of the fetch, during which no request
  waits on that URL again; meanwhile a cached set up to ``max_stale`` seconds
  old is still used, and without one the caller gets ``KeySetUnavailable`` at once;
- a request never waits behind another's fetch longer than one fetch's budget
  (``connect_timeout + read_timeout``), and not at all when it holds a usable set.
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

from cds_service.net_deadline import DeadlineAdapter, socket_deadline

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

    The whole download (connect, headers, body) must finish within ``connect_timeout +
    read_timeout`` of wall-clock time: the socket is shut down at that deadline, so a server
    trickling bytes cannot hold the call (``net_deadline``). Redirects are not followed
    (they could lead off the allowlist).

    :raise KeySetFetchError: on a network error, timeout, non-200, oversize or
        non-JWKS body.
    """
    deadline = time.monotonic() + connect_timeout + read_timeout
    with requests.Session() as session, socket_deadline(deadline) as scope:
        session.mount("http://", DeadlineAdapter())
        session.mount("https://", DeadlineAdapter())
        try:
            with session.get(
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
                    if scope.expired:
                        raise KeySetFetchError("too slow")
        except requests.Timeout:
            raise KeySetFetchError("too slow" if scope.expired else "timeout") from None
        except requests.RequestException:
            raise KeySetFetchError("too slow" if scope.expired else "connection failed") from None
        if scope.expired:  # a body cut short by the deadline is not a key set
            raise KeySetFetchError("too slow")
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
        #: refresh_key (issuer) -> when an unknown kid last forced a fetch.
        self._forced_by_key: dict[str, float] = {}

    @property
    def _wait_budget(self) -> float:
        return self._connect_timeout + self._read_timeout

    def get_jwk(self, url: str, kid: str, refresh_key: str | None = None) -> dict | None:
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
            last = max(state.last_forced, self._forced_by_key.get(refresh_key, -math.inf) if refresh_key else -math.inf)
            if now - last < self._refresh_min_interval:
                return None
            if refresh_key is not None:
                self._forced_by_key[refresh_key] = now
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
        if not state.lock.acquire(blocking=False):
            # Another request is fetching. With a set still usable, do not wait at all;
            # without one, wait at most one fetch's budget (that fetch ends by then).
            usable = state.key_set is not None and self._clock() - state.key_set.fetched_at <= self._max_stale
            if forced or usable or not state.lock.acquire(timeout=self._wait_budget):
                return state.key_set
        try:
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
                # From the end of the fetch: a fetch as long as the backoff must not cancel it.
                state.retry_at = self._clock() + delay
                log.warning("JWK Set fetch from %s failed (%s); next try in %.0f s", url, exc, delay)
                return state.key_set
            state.failures = 0
            state.retry_at = -math.inf
            state.key_set = KeySet(keys=keys, fetched_at=now)
            return state.key_set
        finally:
            state.lock.release()
