"""Reads from the CDS client's FHIR server, within a deadline, never raising for its failures.

One pooled ``requests.Session`` per process serves every hook call (connections
to the EHR are reused across calls); a fresh one is made after a fork, since a
pool must not be shared between processes.

Failure policy: every network or server problem becomes a *reason code* in the
result (``timeout``, ``http-403``, ``invalid-json``...), never an exception, so
one bad query costs only its own key. Exceptions from ``requests`` are never
formatted: their text holds the URL, which holds the patient id.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ReadTimeoutError

from .. import __version__
from ..net_deadline import socket_deadline
from ..net_deadline import DeadlineAdapter
from ..settings import Settings
from .access import BearerToken, ServerAccess, is_under_base
from .parse import next_link

FHIR_JSON = "application/fhir+json"
#: Answers worth one more try of a GET (the server or a proxy was briefly unable).
RETRY_STATUSES = frozenset({502, 503, 504})
#: A retry needs at least this much budget left, in seconds.
MIN_RETRY_BUDGET = 0.05
#: Pause before a retry, in seconds: long enough for a proxy to pick another backend.
RETRY_PAUSE = 0.02
_CHUNK = 64 * 1024


class CallBudget:
    """What all FHIR queries of one hook call may read together: bytes and Bundle entries.

    Shared by the call's fetch threads (a lock guards the counts). Bytes are taken as each chunk
    arrives, so a query stops reading the moment the call's total is spent, whatever the
    response's own size; entries are taken per page. ``max_response_bytes`` per response,
    pages per query and parallel queries do not multiply past these totals.
    """

    def __init__(self, max_bytes: int, max_entries: int):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.bytes = 0
        self.entries = 0
        self._lock = threading.Lock()

    def fits(self, n: int) -> bool:
        with self._lock:
            return self.bytes + n <= self.max_bytes

    def take_bytes(self, n: int) -> None:
        """:raise FetchFailed: ``call-byte-budget`` when the call's bytes are spent."""
        with self._lock:
            self.bytes += n
            if self.bytes > self.max_bytes:
                raise FetchFailed("call-byte-budget")

    def take_entries(self, n: int) -> None:
        """:raise FetchFailed: ``call-entry-budget`` when the call's entries are spent."""
        with self._lock:
            self.entries += n
            if self.entries > self.max_entries:
                raise FetchFailed("call-entry-budget")


def _entry_count(bundle: dict) -> int:
    found = bundle.get("entry") if bundle.get("resourceType") == "Bundle" else None
    return len(found) if isinstance(found, list) else 1


class FetchFailed(Exception):
    """A read failed; ``reason`` is a fixed code, the message holds nothing else."""

    def __init__(self, reason: str, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass
class FetchResult:
    """What one query gave: JSON bodies in order (a resource, or searchset pages)."""

    bodies: list[dict] = field(default_factory=list)
    #: Why data is missing or partial; None when the query was read completely.
    gap: str | None = None
    seconds: float = 0.0


class _BearerAuth(AuthBase):
    """Adds the token, if any. Always passed, so requests never falls back to ``.netrc``."""

    def __init__(self, token: BearerToken | None):
        self._token = token

    def __call__(self, request):
        if self._token is not None:
            request.headers["Authorization"] = self._token.header()
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def _new_session() -> requests.Session:
    session = requests.Session()
    # No cookies: a session cookie set for one caller's token must not ride along
    # with the next caller's requests.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # Its sockets obey socket_deadline: shut down when the call's budget ends (net_deadline).
    adapter = DeadlineAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"spine-order-cds/{__version__}"})
    return session


def shared_session() -> requests.Session:
    """The process's pooled session (a new one after fork)."""
    global _session, _session_pid
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            _session = _new_session()
            _session_pid = os.getpid()
        return _session


class FhirClient:
    """GETs against one FHIR base URL with one (optional) bearer token."""

    def __init__(
        self,
        base_url: str,
        token: BearerToken | None = None,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 0.2,
        read_timeout: float = 0.35,
        max_pages: int = 5,
        max_retries: int = 1,
        max_bytes: int = 20 * 1024 * 1024,
        budget: CallBudget | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._auth = _BearerAuth(token)
        self._session = session
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_pages = max(1, max_pages)
        self.max_retries = max(0, max_retries)
        self.max_bytes = max_bytes
        #: The call's totals; None: each response bounded by max_bytes only.
        self.budget = budget

    @classmethod
    def from_settings(cls, access: ServerAccess, settings: Settings, session: requests.Session | None = None):
        """A client for one hook call, with that call's byte and entry budget."""
        return cls(
            access.base_url,
            access.token,
            session=session,
            connect_timeout=settings.fhir_connect_timeout,
            read_timeout=settings.fhir_read_timeout,
            max_pages=settings.fhir_max_pages,
            max_retries=settings.fhir_max_retries,
            max_bytes=settings.fhir_max_response_bytes,
            budget=CallBudget(settings.fhir_call_max_bytes, settings.fhir_call_max_entries),
        )

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r})"

    @property
    def session(self) -> requests.Session:
        return self._session if self._session is not None else shared_session()

    # --- queries -----------------------------------------------------------------

    def fetch(self, query: str, deadline: float) -> FetchResult:
        """Read or search ``query`` (relative to the base), following searchset pages.

        ``deadline`` is a ``time.monotonic()`` value; no request starts after it.
        Never raises for network or server trouble: see ``FetchResult.gap``.
        """
        started = time.monotonic()
        try:
            first = self.get_json(f"{self.base_url}/{query.lstrip('/')}", deadline)
        except FetchFailed as exc:
            return FetchResult([], exc.reason, time.monotonic() - started)
        pages, gap = self._follow(first, deadline)
        return FetchResult([first, *pages], gap, time.monotonic() - started)

    def continue_paging(self, bundle: dict, deadline: float) -> FetchResult:
        """The pages after ``bundle`` (a searchset the CDS client paginated in prefetch)."""
        started = time.monotonic()
        pages, gap = self._follow(bundle, deadline)
        return FetchResult(pages, gap, time.monotonic() - started)

    def _follow(self, first: dict, deadline: float) -> tuple[list[dict], str | None]:
        """Pages after ``first``, up to ``max_pages`` in all; and the reason it stopped early."""
        pages: list[dict] = []
        current = first
        while True:
            link = next_link(current)
            if link is None:
                return pages, None
            if 1 + len(pages) >= self.max_pages:
                return pages, "page-limit"
            url = urljoin(self.base_url + "/", link)
            if not is_under_base(url, self.base_url):
                # The token goes only to the allowed base, wherever a server points.
                return pages, "paging-off-server"
            try:
                current = self.get_json(url, deadline)
            except FetchFailed as exc:
                return pages, exc.reason
            if current.get("resourceType") != "Bundle":
                return pages, "unexpected-response"
            pages.append(current)

    # --- one GET -----------------------------------------------------------------

    def get_json(self, url: str, deadline: float) -> dict:
        """One GET of a FHIR resource as JSON, retried once when worth it.

        Only idempotent GETs are sent, so a retry cannot change the server's data;
        it is tried after connection failures and 502/503/504, when budget is left.

        :raise FetchFailed: with the reason of the last attempt.
        """
        attempt = 0
        while True:
            try:
                return self._get_once(url, deadline)
            except FetchFailed as exc:
                attempt += 1
                left = deadline - time.monotonic()
                if not exc.retryable or attempt > self.max_retries or left < MIN_RETRY_BUDGET + RETRY_PAUSE:
                    raise
            time.sleep(RETRY_PAUSE)

    def _get_once(self, url: str, deadline: float) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchFailed("budget-exceeded")
        # A wall-clock deadline on the socket: a server trickling bytes (headers or body) is
        # cut off at the budget, not one read timeout per byte later.
        with socket_deadline(deadline) as scope:
            try:
                return self._get_within(url, deadline, left)
            except FetchFailed:
                if scope.expired:
                    raise FetchFailed("budget-exceeded") from None
                raise

    def _get_within(self, url: str, deadline: float, left: float) -> dict:
        timeout = (min(self.connect_timeout, left), min(self.read_timeout, left))
        # Each `from None` below drops requests' exception, whose text holds the URL.
        try:
            response = self.session.get(url, auth=self._auth, timeout=timeout, stream=True, allow_redirects=False)
        except requests.exceptions.ConnectTimeout:
            raise FetchFailed("timeout", retryable=True) from None
        except requests.exceptions.ReadTimeout:
            raise FetchFailed("timeout") from None
        except requests.exceptions.ConnectionError:
            raise FetchFailed("connection-error", retryable=True) from None
        except requests.exceptions.RequestException:
            raise FetchFailed("request-error") from None
        with closing(response):
            status = response.status_code
            if status in RETRY_STATUSES:
                raise FetchFailed(f"http-{status}", retryable=True)
            if 300 <= status < 400:
                # Redirects are not followed: the target could be off the allowlist.
                raise FetchFailed("redirect")
            if status != 200:
                raise FetchFailed(f"http-{status}")
            raw = self._read_body(response, deadline)
        if time.monotonic() >= deadline:
            raise FetchFailed("budget-exceeded")  # the socket may have been shut down mid-body
        try:
            data = json.loads(raw)
        except ValueError:
            raise FetchFailed("invalid-json") from None
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise FetchFailed("unexpected-response")
        if data["resourceType"] == "OperationOutcome":
            raise FetchFailed("operation-outcome")
        if self.budget is not None:
            self.budget.take_entries(_entry_count(data))
        return data

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchFailed("too-large")
        if declared.isdigit() and self.budget is not None and not self.budget.fits(int(declared)):
            raise FetchFailed("call-byte-budget")  # refused before a byte of it is read
        body = bytearray()  # one buffer: no list of chunks joined into a second copy
        try:
            for chunk in response.iter_content(_CHUNK):
                if self.budget is not None:
                    self.budget.take_bytes(len(chunk))  # counted as it streams in
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchFailed("too-large")
                if time.monotonic() > deadline:
                    raise FetchFailed("budget-exceeded")
        except requests.exceptions.ConnectionError as exc:
            # requests wraps a read timeout inside the body as a ConnectionError.
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                raise FetchFailed("timeout") from None
            raise FetchFailed("connection-error", retryable=True) from None
        except requests.exceptions.RequestException:
            # Broken chunked encoding or gzip: the body is cut; the GET may be retried.
            raise FetchFailed("broken-response", retryable=True) from None
        return body
