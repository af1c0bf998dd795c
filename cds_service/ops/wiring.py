"""Wire the operational surface into the app: ``init_app`` returns the ``Operations`` the views use.

The store and the card policy the pipeline calls (suppression of kinds already
addressed, a record of every card issued); feedback intake and the summary;
request ids, timing and JSON logs; metrics; readiness.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

from flask import Flask, g, has_request_context

from cds_service.cardbuilder import CardLibrary
from cds_service.errors import CdsError
from cds_service.feedback import (
    FeedbackConfig,
    PatientHasher,
    StoreCardPolicy,
    client_scope,
    load_feedback_config,
    to_outcome,
)
from cds_service.feedback.retention import RetentionPurger
from cds_service.feedback.summary import day_bounds, summary_body
from cds_service.metrics import Metrics, NullMetrics
from cds_service.settings import Settings, SettingsError
from cds_service.store import Store, StoredFeedback, StoreError, replay_cache_for
from cds_service.store.startup import open_for_worker
from cds_service.valuesets import ValueSets

from . import http
from .logjson import configure_logging
from .metrics import PrometheusMetrics
from .readiness import Readiness, check, load_valuesets_once

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before re-posting feedback the store could not take.
RETRY_AFTER_SECONDS = 5


class StoreUnavailable(CdsError):
    """The store cannot take or give feedback now (503 with Retry-After; a re-post is safe)."""

    status = 503
    code = "transient"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


@dataclass
class Operations:
    store: Store
    policy: StoreCardPolicy
    feedback_config: FeedbackConfig
    cards: CardLibrary
    valuesets_dir: Path
    #: ``PrometheusMetrics`` with ``metrics_enabled``, else ``NullMetrics``: for the Engine too.
    metrics: Metrics = field(default_factory=NullMetrics)
    #: For ``security.init_app``: the store when replicas share it (PostgreSQL), else None.
    replay_cache: Any = field(default=None)
    #: Deletes rows older than store_retention_days, about hourly (feedback/retention.py).
    purger: RetentionPurger | None = field(default=None)
    _own_valuesets: ValueSets | None = field(default=None, repr=False)

    def record_feedback(self, service_id: str, items: Sequence[dict], now: datetime) -> list[StoredFeedback]:
        """Store validated feedback items (``protocol.validate_feedback``); duplicates are no-ops.

        :raise StoreUnavailable: if the store cannot take them (nothing is half-stored; re-posting is safe).
        """
        # Bound to the calling client: feedback about a card issued to another client (or never
        # issued) is not stored and changes nothing.
        scope = client_scope()
        outcomes = [to_outcome(service_id, item, now, scope) for item in items]
        try:
            stored = self.store.record_feedback(outcomes)
        except StoreError as exc:
            log.warning("feedback not stored: %s", exc)
            self.metrics.store_error("record-feedback")
            raise StoreUnavailable("Feedback cannot be stored right now; send it again later.") from None
        new = [(s, o) for s, o in zip(stored, outcomes, strict=True) if s.new]
        unknown = sum(1 for s in stored if not s.issued)
        if unknown:
            log.info("feedback about %d card(s) not issued to this client: not stored", unknown)
        for s, o in new:
            self.metrics.feedback(service_id, s.kind or "unknown", o.outcome)
        for s, o in zip(stored, outcomes, strict=True):
            if not s.issued:  # counted (kind "unknown"), never stored
                self.metrics.feedback(service_id, "unknown", o.outcome)
        if len(new) < len(stored) - unknown:
            self.metrics.feedback_duplicates(service_id, len(stored) - unknown - len(new))
        if self.purger is not None:
            self.purger.maybe_purge(now)
        if has_request_context():  # for the request log line
            g.cds_feedback_recorded, g.cds_feedback_duplicates = len(new), len(stored) - unknown - len(new)
        return stored

    def summary(self, service_id: str, start: date, end: date) -> dict:
        """The summary body for cards ``service_id`` issued on the days ``start``..``end`` (UTC).

        :raise StoreUnavailable: if the store cannot answer.
        """
        lower, upper = day_bounds(start, end)
        try:
            # The calling client's own figures only.
            counts = self.store.summary(service_id, lower, upper, self.feedback_config.summary_top_reasons,
                                        client_scope())
        except StoreError as exc:
            log.warning("feedback summary unavailable: %s", exc)
            raise StoreUnavailable("The feedback store cannot answer right now.") from None
        return summary_body(service_id, start, end, counts, self.cards)

    def readiness(self, valuesets: ValueSets | None = None) -> Readiness:
        """Store reachable, value sets loaded: the engine's (``valuesets``), else loaded here once."""
        if valuesets is None:
            if self._own_valuesets is None:
                # An engine without value sets of its own (older wiring): load them once.
                self._own_valuesets = load_valuesets_once(self.valuesets_dir)
            valuesets = self._own_valuesets
        return check(self.store, valuesets)


def init_app(app: Flask, settings: Settings, cards: CardLibrary) -> Operations:
    """Open the store, build the card policy, install logging, request hooks and metrics.

    Call before ``security.init_app`` (so requests are timed and carry an id
    from the start) and build the Engine with ``operations.policy`` and
    ``operations.metrics``; pass ``operations.replay_cache`` to ``security.init_app``.

    :raise SettingsError: on a store URL that is not PostgreSQL.
    :raise StoreError: if the store cannot be opened or migrated (start-up stops), unless the
        gunicorn master opened it at start-up (then a stand-in retries; store/startup.py).
    :raise FeedbackConfigError: if config/feedback.yaml is missing or wrong.
    """
    configure_logging(settings.log_json)
    config = load_feedback_config(settings.content_dir / "config" / "feedback.yaml", cards)
    # A worker restarted while the store is down boots with a stand-in (store/startup.py).
    store, key = open_for_worker(settings)
    critical = [k for k in cards.kinds if cards.template(k).indicator == "critical"]
    if 0 < settings.store_retention_days < config.suppress_days:
        raise SettingsError(
            f"setting store_retention_days (CDS_STORE_RETENTION_DAYS): at least the suppression window "
            f"({config.suppress_days} days, config/feedback.yaml), or 0 to keep every row"
        )
    purger = RetentionPurger(store, settings.store_retention_days)
    # The one place metrics_enabled is read: the Metrics every counting part is given.
    metrics: Metrics = NullMetrics()
    if settings.metrics_enabled:
        metrics = PrometheusMetrics()
    metrics.worker_started()
    policy = StoreCardPolicy(store, PatientHasher(key), config, critical, scope=client_scope, metrics=metrics,
                             purger=purger)
    http.install(app, metrics)

    operations = Operations(
        store=store,
        policy=policy,
        feedback_config=config,
        cards=cards,
        valuesets_dir=settings.valuesets_dir,
        metrics=metrics,
        replay_cache=replay_cache_for(store),
        purger=purger,
    )
    app.extensions["cds_ops"] = operations
    return operations
