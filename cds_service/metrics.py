"""What the service reports to metrics, as a dependency passed in: the ``Metrics`` protocol and its null twin.

As ``pipeline.CardPolicy`` has ``NullCardPolicy``, ``Metrics`` has ``NullMetrics``: the code that
counts (the pipeline, FHIR gathering, the card policy, feedback intake, the request hooks) is given
one and calls it, whether metrics are on or not. ``metrics_enabled`` is read once, where the app is
wired (``ops/wiring.py``): on, ``ops.metrics.PrometheusMetrics``; off, ``NullMetrics``.

Values passed are bounded and never identify a patient: service ids, card kinds and indicators,
prefetch keys, outcome codes, HTTP statuses.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def request(self, endpoint: str, service: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered (``service``: a registry id, ``unknown`` or ``-``)."""

    def fetch(self, key: str, outcome: str, seconds: float) -> None:
        """One prefetch key of a hook call: ``prefetch`` (used as sent), ``prefetch-null``, ``fetched``, or the
        reason code of a gap (``timeout``, ``http-403``, ``not-allowed-server``...); ``seconds`` spent reading
        the FHIR server for it (0 when nothing was read)."""

    def cards_issued(self, service_id: str, cards: list[dict]) -> None:
        """The cards a hook call returned."""

    def store_call(self, operation: str, seconds: float, ok: bool) -> None:
        """One store operation made during a hook call, and whether it succeeded."""

    def store_error(self, operation: str) -> None:
        """A store operation failed (one that is not timed)."""

    def feedback(self, service_id: str, kind: str, outcome: str) -> None:
        """One feedback outcome counted (``kind`` ``unknown`` for a card this service did not issue)."""

    def feedback_duplicates(self, service_id: str, count: int) -> None:
        """Feedback items already stored (idempotent re-posts)."""

    def worker_started(self) -> None:
        """This worker process is up."""

    def exposition(self) -> tuple[bytes, str] | None:
        """The text ``GET /metrics`` serves and its content type; None: no metrics here (404)."""


class NullMetrics:
    """Metrics off: nothing counted, and ``GET /metrics`` is 404."""

    def request(self, endpoint: str, service: str, method: str, status: int, seconds: float) -> None:
        return None

    def fetch(self, key: str, outcome: str, seconds: float) -> None:
        return None

    def cards_issued(self, service_id: str, cards: list[dict]) -> None:
        return None

    def store_call(self, operation: str, seconds: float, ok: bool) -> None:
        return None

    def store_error(self, operation: str) -> None:
        return None

    def feedback(self, service_id: str, kind: str, outcome: str) -> None:
        return None

    def feedback_duplicates(self, service_id: str, count: int) -> None:
        return None

    def worker_started(self) -> None:
        return None

    def exposition(self) -> tuple[bytes, str] | None:
        return None
