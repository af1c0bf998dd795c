"""Validated feedback items (``protocol.validate_feedback``) -> stored outcomes.

Idempotency: an outcome's fingerprint is a hash of what identifies it (card,
outcome, outcomeTimestamp, accepted suggestion ids, reason coding), so a client
re-posting the same outcome (a retry, or the spec's "multiple times for a card")
stores it once. The user's free-text comment is not stored (it may name the
patient); only whether there was one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Sequence

from cds_service.store import FeedbackOutcome
from cds_service.store.timefmt import to_text, utc


def fingerprint(card: str, outcome: str, outcome_at: datetime, suggestions: Sequence[str],
                reason_system: str | None, reason_code: str | None) -> str:
    canonical = json.dumps([card, outcome, to_text(outcome_at), sorted(suggestions), reason_system, reason_code],
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def to_outcome(service_id: str, item: dict[str, Any], received_at: datetime, client_scope: str = "") -> FeedbackOutcome:
    """One feedback item as stored, from the client ``client_scope`` (``identity.client_scope``).

    :raise ValueError: if ``outcomeTimestamp`` or ``received_at`` is naive (the schema gives aware ones).
    """
    outcome_at = utc(item["outcomeTimestamp"])
    received_at = utc(received_at)
    suggestions = tuple(sorted({s["id"] for s in item.get("acceptedSuggestions") or ()}))
    override = item.get("overrideReason") or {}
    reason = override.get("reason") or {}
    system, code = reason.get("system"), reason.get("code")
    return FeedbackOutcome(
        fingerprint=fingerprint(item["card"], item["outcome"], outcome_at, suggestions, system, code),
        service_id=service_id,
        card_uuid=item["card"],
        outcome=item["outcome"],
        accepted_suggestions=suggestions,
        reason_system=system,
        reason_code=code,
        has_comment=bool((override.get("userComment") or "").strip()),
        outcome_at=outcome_at,
        # A client clock ahead of ours must not push a suppression window into the future.
        acted_at=min(outcome_at, received_at),
        received_at=received_at,
        client_scope=client_scope,
    )
