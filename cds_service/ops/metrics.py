"""Prometheus metrics (prometheus_client), correct with several gunicorn workers.

Labels hold only bounded, non-identifying values: service ids from the
registry, card kinds, prefetch keys, outcome codes, HTTP status. Never a
patient, a hookInstance or a URL.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``cds-service serve`` sets it, see
``multiproc``) every worker writes its own files and ``render()`` adds all of
them up; without it (one process: tests, ``flask run``) the default registry is used.

``PrometheusMetrics`` is the ``cds_service.metrics.Metrics`` the app is given when
``metrics_enabled`` is on; the code that counts never imports this module.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from cds_service.feedback.policy import card_kind

from .multiproc import ENV

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "cds_http_request_duration_seconds", "HTTP request latency by endpoint, service and status",
    ["endpoint", "service", "method", "status"], buckets=_LATENCY_BUCKETS,
)
CARDS = Counter("cds_cards_issued", "Cards returned by hook calls", ["service", "kind", "indicator"])
PREFETCH = Counter(
    "cds_prefetch_keys", "Prefetch keys of hook calls by where the data came from: prefetch (sent by "
    "the client), fetched (a FHIR query was made), unavailable (neither)", ["key", "source"],
)
FHIR_SECONDS = Histogram(
    "cds_fhir_query_duration_seconds", "Time spent reading the FHIR server per prefetch key", ["key"],
    buckets=_LATENCY_BUCKETS,
)
FHIR_QUERIES = Counter(
    "cds_fhir_queries", "FHIR queries by prefetch key and result (ok, or the gap reason: timeout, http-503...)",
    ["key", "result"],
)
FEEDBACK = Counter(
    "cds_feedback_outcomes", "Feedback outcomes stored (duplicates not counted); kind 'unknown' when the card "
    "was not issued by this service", ["service", "kind", "outcome"],
)
FEEDBACK_DUPLICATES = Counter("cds_feedback_duplicates", "Feedback items already stored (idempotent re-posts)",
                              ["service"])
STORE_SECONDS = Histogram(
    "cds_store_operation_duration_seconds", "Store operations made during requests", ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STORE_ERRORS = Counter("cds_store_errors", "Store operations that failed (the hook call went on without them)",
                       ["operation"])
# liveall: one sample per live worker (label pid); child_exit removes a dead one's.
WORKER_START = Gauge("cds_worker_start_time_seconds", "When each live worker process started",
                     multiprocess_mode="liveall")

#: Fetch outcomes (``Metrics.fetch``) meaning no FHIR query could be made for the key.
_NO_QUERY = frozenset({"not-sent", "not-allowed-server", "invalid-token", "unsupported-token-type",
                       "unresolved-token"})
#: Outcomes about the client's own prefetch.
_PREFETCH = frozenset({"prefetch", "prefetch-null", "prefetch-operation-outcome", "invalid-prefetch",
                       "unread-pages"})


def fetch_source(outcome: str, seconds: float) -> str:
    """prefetch | fetched | unavailable, for one ``Metrics.fetch`` call."""
    if outcome in _NO_QUERY:
        return "unavailable"
    if outcome == "fetched" or seconds > 0 or outcome.startswith("http-"):
        return "fetched"
    if outcome in _PREFETCH:
        return "prefetch"
    # A partial-data reason with no time spent: about the prefetched data.
    return "prefetch"


def observe_fetch(key: str, outcome: str, seconds: float) -> None:
    source = fetch_source(outcome, seconds)
    PREFETCH.labels(key, source).inc()
    if source == "fetched":
        FHIR_SECONDS.labels(key).observe(seconds)
        FHIR_QUERIES.labels(key, "ok" if outcome == "fetched" else outcome).inc()


def mark_worker_started() -> None:
    WORKER_START.set(time.time())


def render() -> tuple[bytes, str]:
    """The exposition text of every worker's metrics, and its content type."""
    if os.environ.get(ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class PrometheusMetrics:
    """``cds_service.metrics.Metrics`` on the prometheus_client metrics above (names and labels as listed)."""

    def request(self, endpoint: str, service: str, method: str, status: int, seconds: float) -> None:
        REQUEST_SECONDS.labels(endpoint, service, method, str(status)).observe(seconds)

    def fetch(self, key: str, outcome: str, seconds: float) -> None:
        observe_fetch(key, outcome, seconds)

    def cards_issued(self, service_id: str, cards: list[dict]) -> None:
        for card in cards:
            CARDS.labels(service_id, card_kind(card) or "unknown", card.get("indicator", "unknown")).inc()

    def store_call(self, operation: str, seconds: float, ok: bool) -> None:
        STORE_SECONDS.labels(operation).observe(seconds)
        if not ok:
            STORE_ERRORS.labels(operation).inc()

    def store_error(self, operation: str) -> None:
        STORE_ERRORS.labels(operation).inc()

    def feedback(self, service_id: str, kind: str, outcome: str) -> None:
        FEEDBACK.labels(service_id, kind, outcome).inc()

    def feedback_duplicates(self, service_id: str, count: int) -> None:
        FEEDBACK_DUPLICATES.labels(service_id).inc(count)

    def worker_started(self) -> None:
        mark_worker_started()

    def exposition(self) -> tuple[bytes, str] | None:
        return render()
