"""The store-backed ``CardPolicy``: alert-fatigue suppression, and a record of every card issued.

Both run inside the hook call, so both fail open: if the store cannot answer
within its timeout the call goes on with nothing suppressed and nothing
recorded (a warning is logged and counted). Showing a card too often is a
nuisance; failing the order-entry call is not acceptable.

The policy reports its store calls to the ``Metrics`` it is given; the cards a call
returned reach metrics and the request log from the pipeline, not from here.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Callable, Iterable

from cds_service.metrics import Metrics, NullMetrics
from cds_service.store import IssuedCard, Store, StoreError

from .config import FeedbackConfig
from .identity import PatientHasher
from .retention import RetentionPurger

log = logging.getLogger(__name__)


def card_kind(card: dict) -> str | None:
    """A rendered card's kind: its ``source.topic.code`` (the card template folder)."""
    topic = (card.get("source") or {}).get("topic") or {}
    return topic.get("code")


class StoreCardPolicy:
    def __init__(
        self,
        store: Store,
        hasher: PatientHasher,
        config: FeedbackConfig,
        critical_kinds: Iterable[str],
        scope: Callable[[], str] = lambda: "",
        metrics: Metrics | None = None,
        purger: "RetentionPurger | None" = None,
    ):
        self._store = store
        self._hasher = hasher
        self._config = config
        # The pipeline never drops a critical card; excluded here too, so a red
        # flag is never suppressed even if a caller forgets that rule.
        self._critical = frozenset(critical_kinds)
        self._suppressing = tuple(sorted(r for r in config.suppressing if r[0] not in self._critical))
        self._scope = scope
        self._metrics = NullMetrics() if metrics is None else metrics
        self._purger = purger

    def suppressed_kinds(self, service_id: str, patient_id: str, now: datetime) -> set[str]:
        """Kinds overridden for this patient as already addressed within the suppression window.

        Across services on purpose: order-select and order-sign show the same
        card kinds, and an override at selection holds at signing too.
        Never raises: on a store failure nothing is suppressed.
        """
        reasons = self._suppressing
        if self._config.suppress_days == 0 or not reasons:
            return set()
        since = now - timedelta(days=self._config.suppress_days)
        started = time.perf_counter()
        try:
            kinds = self._store.suppressed_kinds(self._hasher(patient_id, self._scope()), reasons, since)
        except StoreError as exc:
            self._metrics.store_call("suppression-lookup", time.perf_counter() - started, False)
            log.warning("suppression skipped, store unavailable: %s", exc)
            return set()
        self._metrics.store_call("suppression-lookup", time.perf_counter() - started, True)
        return kinds - self._critical

    def record_issued(self, service_id: str, hook_instance: str, patient_id: str, cards: list[dict],
                      now: datetime) -> None:
        """Store uuid, kind, indicator, service, hashed patient and time of each card. Never raises."""
        if not cards:
            return
        scope = self._scope()
        patient_hash = self._hasher(patient_id, scope)
        records = [
            IssuedCard(card_uuid=card["uuid"], service_id=service_id, hook_instance=hook_instance,
                       kind=kind, indicator=card.get("indicator", ""), patient_hash=patient_hash, issued_at=now,
                       client_scope=scope)
            for card in cards
            if card.get("uuid") and (kind := card_kind(card))
        ]
        started = time.perf_counter()
        try:
            self._store.record_issued(records)
        except StoreError as exc:
            self._metrics.store_call("record-issued", time.perf_counter() - started, False)
            log.warning("issued cards not recorded, store unavailable: %s", exc)
            return
        self._metrics.store_call("record-issued", time.perf_counter() - started, True)
        if self._purger is not None:
            self._purger.maybe_purge(now)
