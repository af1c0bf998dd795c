"""Gather the patient's record for one hook call: prefetch first, the FHIR server for the rest.

The steps, per the CDS Hooks spec ("Providing FHIR Resources", "FHIR Resource Access"):

1. plan each prefetch key: use what the client sent, or fetch it (absent, or an
   OperationOutcome), or take ``null`` as "no data" (:mod:`.prefetch`);
2. check ``fhirServer`` against the allowlist before any request (:mod:`.access`);
3. run the missing queries at once, each in its own thread, under one deadline
   (``fhir_budget_seconds``), and parse the prefetched data while they run;
4. file every valid resource in a :class:`PatientRecord`; every key that could
   not be read becomes a :class:`DataGap` with a log line;
5. if an essential key is still missing, answer 412 (the spec's rule).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

import requests

from .. import compute
from ..errors import PreconditionFailed
from ..limits import report_text_chars
from ..metrics import Metrics, NullMetrics
from ..record import RECORD_TYPES, DataGap, PatientRecord
from ..registry import ServiceDefinition
from ..settings import Settings
from . import events
from .access import NoServerAccess, caller_allowlist, server_access
from .client import FetchResult, FhirClient
from .parse import entries, next_link, truncated
from .prefetch import KeyPlan, PrefetchState, is_error_outcome, plan
from .reader import InvalidResource, UnknownPatient, owner, read_resource

log = logging.getLogger(__name__)
_NO_METRICS = NullMetrics()


@dataclass
class _KeyResult:
    """What became of one key."""

    obtained: bool = False
    gap: str | None = None
    outcome: str = ""
    seconds: float = 0.0


class _RecordBuilder:
    """Reads bodies into the record (:mod:`.reader`): checks each resource and whose it is, de-duplicates."""

    def __init__(self, patient_id: str | None, max_report_text_chars: int | None = None):
        self.record = PatientRecord()
        #: Report text filed so far, and how much a call may file (max_report_text_chars).
        self.report_text = 0
        self.max_report_text = max_report_text_chars
        self.patient_id = patient_id
        self._seen: set[tuple[str, str]] = set()
        #: key -> why -> count of resources skipped.
        self.skipped: dict[str, dict[str, int]] = {}

    def _skip(self, key: str, why: str) -> None:
        self.record.skipped_resources += 1
        per_key = self.skipped.setdefault(key, {})
        per_key[why] = per_key.get(why, 0) + 1

    def add_bodies(self, key_plan: KeyPlan, bodies: list[dict]) -> str | None:
        """File the resources of ``bodies``; returns a gap reason the content itself shows, if any."""
        expected = key_plan.resource_type
        gap = None
        for entry in (e for body in bodies for e in entries(body)):
            raw = entry.resource
            rtype = raw.get("resourceType") if isinstance(raw, dict) else None
            if not isinstance(rtype, str):
                self._skip(key_plan.key, "invalid")
                continue
            if rtype == "OperationOutcome" or entry.mode == "outcome":
                # A search may carry warnings; an error outcome means the result is partial.
                if is_error_outcome(raw):
                    gap = gap or "operation-outcome"
                continue
            if expected and rtype != expected and entry.mode != "include":
                self._skip(key_plan.key, "unexpected-type")
                continue
            if rtype not in RECORD_TYPES:
                continue  # e.g. an _include'd Practitioner: legal, not used by the reader
            try:
                resource = read_resource(raw)
                who = owner(resource)
            except UnknownPatient:
                # Whose it is cannot be told, so it cannot pass the other-patient check.
                self._skip(key_plan.key, "unknown-patient")
                continue
            except InvalidResource:
                self._skip(key_plan.key, "invalid")
                continue
            if self.patient_id and who is not None and who != self.patient_id:
                # A server that ignored `patient=` must not put another patient's data in the advice.
                self._skip(key_plan.key, "other-patient")
                gap = gap or "other-patient-data"
                continue
            rid = resource.id
            if rid is not None and (rtype, rid) in self._seen:
                continue  # overlapping pages, or the same resource under two keys
            if self.max_report_text is not None and rtype == "DiagnosticReport":
                text = report_text_chars(raw)
                if self.report_text + text > self.max_report_text:
                    # Fetched reports past the call's text budget are not read (the prefetch got 413).
                    self._skip(key_plan.key, "report-text-limit")
                    gap = gap or "report-text-limit"
                    continue
                self.report_text += text
            if rid is not None:
                self._seen.add((rtype, rid))
            self.record.add(resource)
        return gap


def _unfetchable_reason(key_plan: KeyPlan, access_reason: str | None) -> str:
    """Why a key that needed fetching was not fetched."""
    if key_plan.query is None:
        return "unresolved-token"
    if access_reason == "no-fhir-server":
        # Nothing to fetch from: the root cause is what the client sent.
        return key_plan.state.value
    return access_reason or "not-fetched"


def _guarded(job: Callable[[], FetchResult]) -> Callable[[], FetchResult]:
    def run() -> FetchResult:
        try:
            return job()
        except Exception as exc:  # a bug must cost one key, not the call; no str(exc): it may hold PHI
            log.error("FHIR fetch failed unexpectedly: %s", type(exc).__name__)
            return FetchResult([], "internal-error")

    return run


def gather_record(
    service: ServiceDefinition,
    request: dict,
    settings: Settings,
    *,
    session: requests.Session | None = None,
    metrics: Metrics | None = None,
) -> PatientRecord:
    """The record for ``request``: every prefetch key of ``service``, from prefetch or the FHIR server.

    ``session`` replaces the process's pooled session (tests, benchmarks); ``metrics`` hears of every
    key (``Metrics.fetch``; default: nothing counted).

    :raise PreconditionFailed: when an essential key is neither prefetched nor
        obtainable; the message and ``errors`` name the keys and reason codes only.
    """
    deadline = time.monotonic() + settings.fhir_budget_seconds
    context = request.get("context") if isinstance(request.get("context"), dict) else {}
    patient_id = context.get("patientId") if isinstance(context.get("patientId"), str) else None
    plans = plan(service.prefetch, request)
    results = {p.key: _KeyResult() for p in plans}
    builder = _RecordBuilder(patient_id, settings.max_report_text_chars)

    client, access_reason = _client(service, plans, request, settings, session)
    jobs = _schedule(plans, results, client, access_reason, deadline)
    if any(p.essential and not results[p.key].obtained and p.key not in jobs for p in plans):
        # No query could bring an essential key: answer 412 without reading anything else.
        _finish(service, request, plans, results, builder, metrics)
        raise _precondition_failed(plans, results)
    _run(jobs, plans, results, builder, settings.fhir_max_parallel, deadline)
    _finish(service, request, plans, results, builder, metrics)
    if any(p.essential and not results[p.key].obtained for p in plans):
        raise _precondition_failed(plans, results)
    return builder.record


def _client(service, plans, request, settings, session) -> tuple[FhirClient | None, str | None]:
    """A client for the request's FHIR server when one is needed and allowed; else why not."""
    needed = any(p.must_fetch and p.query for p in plans) or any(
        p.state is PrefetchState.DATA and next_link(p.value) for p in plans
    )
    if not needed:
        return None, None
    try:
        access = server_access(request, caller_allowlist(settings.allowed_fhir_servers))
    except NoServerAccess as exc:
        if exc.reason != "no-fhir-server":
            log.warning("FHIR server not used: service=%s reason=%s", service.id, exc.reason)
        return None, exc.reason
    return FhirClient.from_settings(access, settings, session), None


def _schedule(plans, results, client, access_reason, deadline) -> dict[str, Callable[[], FetchResult]]:
    """Settle the keys the prefetch answers; return the queries still to run, by key."""
    jobs: dict[str, Callable[[], FetchResult]] = {}
    for p in plans:
        result = results[p.key]
        if p.state is PrefetchState.NO_DATA:
            result.obtained, result.outcome = True, "prefetch-null"
        elif p.state is PrefetchState.DATA:
            result.obtained, result.outcome = True, "prefetch"
            if next_link(p.value):  # the client paginated its prefetch (the spec allows it)
                if client is not None:
                    jobs[p.key] = _guarded(lambda c=client, v=p.value: c.continue_paging(v, deadline))
                else:
                    result.gap = "unread-pages"
        elif client is not None and p.query:
            jobs[p.key] = _guarded(lambda c=client, q=p.query: c.fetch(q, deadline))
        else:
            result.gap = _unfetchable_reason(p, access_reason)
    return jobs


def _run(jobs, plans, results, builder, max_parallel: int, deadline: float) -> None:
    """Run the queries at once; parse the prefetch meanwhile; file results as they come, until the deadline."""
    by_key = {p.key: p for p in plans}
    started = time.monotonic()
    pool = None
    futures: dict[Future, str] = {}
    if jobs:
        pool = ThreadPoolExecutor(max_workers=max(1, min(len(jobs), max_parallel)), thread_name_prefix="fhir-fetch")
        futures = {pool.submit(job): key for key, job in jobs.items()}
    try:
        for p in plans:
            if p.state is PrefetchState.DATA:
                content_gap = builder.add_bodies(p, [p.value])
                if p.key not in jobs:
                    truncated_gap = "truncated" if truncated([p.value]) else None
                    results[p.key].gap = results[p.key].gap or content_gap or truncated_gap
        pending = set(futures)
        while pending:
            left = max(0.0, deadline - time.monotonic())
            with compute.waiting():  # another call may compute meanwhile
                done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                key_plan = by_key[futures[future]]
                _take(key_plan, future.result(), results[key_plan.key], builder)
        for future in pending:
            result = results[futures[future]]
            result.gap, result.seconds = "budget-exceeded", time.monotonic() - started
    finally:
        if pool is not None:
            # Late threads stop on their own: no request of theirs outlives the deadline by
            # more than its timeout, and none starts after it.
            pool.shutdown(wait=False, cancel_futures=True)


def _take(key_plan: KeyPlan, fetched: FetchResult, result: _KeyResult, builder: _RecordBuilder) -> None:
    """File one finished query's result."""
    result.seconds = fetched.seconds
    content_gap = builder.add_bodies(key_plan, fetched.bodies) if fetched.bodies else None
    if key_plan.state is PrefetchState.DATA:  # pages after a prefetched searchset
        bodies = [key_plan.value, *fetched.bodies]
    else:
        bodies = fetched.bodies
        result.obtained = bool(bodies)
        result.outcome = "fetched"
    result.gap = fetched.gap or content_gap or ("truncated" if truncated(bodies) else None)


def _finish(service, request, plans: list[KeyPlan], results: dict[str, _KeyResult], builder: _RecordBuilder,
            metrics: Metrics | None) -> None:
    """Record gaps on the record, log one line per gap and per skip, report each key to metrics."""
    hook_instance = request.get("hookInstance")
    metrics = _NO_METRICS if metrics is None else metrics
    for p in plans:
        result = results[p.key]
        if result.gap:
            builder.record.gaps.append(DataGap(p.key, result.gap))
            events.log_gap(service.id, hook_instance, p.key, result.gap)
        for why, count in builder.skipped.get(p.key, {}).items():
            events.log_skipped(service.id, hook_instance, p.key, count, why)
        try:
            metrics.fetch(p.key, result.gap or result.outcome, result.seconds)
        except Exception as exc:  # metrics must never cost the clinician the advice
            log.error("fetch metrics failed: %s", type(exc).__name__)


def _precondition_failed(plans: list[KeyPlan], results: dict[str, _KeyResult]) -> PreconditionFailed:
    missing = [p for p in plans if p.essential and not results[p.key].obtained]
    reasons = {p.key: results[p.key].gap or "not-obtained" for p in missing}
    listed = ", ".join(f"{key} ({reason})" for key, reason in reasons.items())
    return PreconditionFailed(
        f"Required FHIR data could not be obtained: {listed}. Send it as prefetch, or send a "
        "fhirServer this service is allowed to read with a token that can read it.",
        errors=reasons,
    )
