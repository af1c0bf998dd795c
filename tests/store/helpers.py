"""Builders for store records in tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from cds_service.cardbuilder import OVERRIDE_SYSTEM
from cds_service.feedback.intake import to_outcome
from cds_service.store import FeedbackOutcome, IssuedCard

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def issued(kind: str = "emg-adds-little", patient_hash: str = "p" * 64, at: datetime = T0,
           service_id: str = "spine-order-sign", indicator: str = "info", card_uuid: str | None = None) -> IssuedCard:
    return IssuedCard(card_uuid=card_uuid or str(uuid.uuid4()), service_id=service_id,
                      hook_instance=str(uuid.uuid4()), kind=kind, indicator=indicator, patient_hash=patient_hash,
                      issued_at=at)


def item(card: str, outcome: str = "overridden", reason: str | None = None, at: datetime = T0,
         suggestions: tuple[str, ...] = (), system: str = OVERRIDE_SYSTEM, comment: str | None = None) -> dict:
    """A feedback item as ``protocol.validate_feedback`` returns it."""
    out: dict = {"card": card, "outcome": outcome, "outcomeTimestamp": at}
    if suggestions:
        out["acceptedSuggestions"] = [{"id": s} for s in suggestions]
    if reason or comment:
        out["overrideReason"] = {}
        if reason:
            out["overrideReason"]["reason"] = {"system": system, "code": reason}
        if comment:
            out["overrideReason"]["userComment"] = comment
    return out


def outcome(card: str, outcome: str = "overridden", reason: str | None = None, at: datetime = T0,
            received: datetime | None = None, service_id: str = "spine-order-sign", **kwargs) -> FeedbackOutcome:
    return to_outcome(service_id, item(card, outcome, reason, at, **kwargs), received or at)
