"""The store's one interface, and the records that cross it.

Two backends implement :class:`Store`: ``SQLiteStore`` (the embedded default,
one file shared by the gunicorn workers of one host) and ``PostgresStore``
(shared by several replicas). Callers never see SQL or a driver exception:
every method raises :class:`StoreError` when the store cannot answer.

Nothing here holds a patient id: issued cards carry a keyed hash of it
(``cds_service.feedback.identity``), and feedback carries no free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Protocol, Sequence


class StoreError(Exception):
    """The store could not answer (unreachable, locked too long, disk or SQL error).

    The message is safe to log: a type name and what was attempted, never a
    connection URL, a password or a row's content.
    """


@dataclass(frozen=True)
class IssuedCard:
    """One card this service returned: what feedback is later counted against."""

    card_uuid: str
    service_id: str
    hook_instance: str
    kind: str
    indicator: str
    patient_hash: str
    issued_at: datetime
    #: The client that received the card (its JWT issuer and tenant; "" when JWT checks are off):
    #: only that client's feedback counts for it.
    client_scope: str = ""


@dataclass(frozen=True)
class FeedbackOutcome:
    """One feedback item as stored (the spec's Feedback, minus the user's comment text).

    ``fingerprint`` identifies the outcome: a re-post of the same outcome has
    the same one and is stored once. ``acted_at`` is when the user acted, never
    later than when we received it (a client clock in the future cannot stretch
    a suppression).
    """

    fingerprint: str
    service_id: str
    card_uuid: str
    outcome: str  # "accepted" | "overridden"
    accepted_suggestions: tuple[str, ...]
    reason_system: str | None
    reason_code: str | None
    has_comment: bool
    outcome_at: datetime
    acted_at: datetime
    received_at: datetime
    #: The client that sent it (see ``IssuedCard.client_scope``).
    client_scope: str = ""


@dataclass(frozen=True)
class StoredFeedback:
    """What storing one feedback item did: new or a duplicate, and the card's kind if we issued it."""

    fingerprint: str
    new: bool
    kind: str | None
    #: False when no card of this uuid was issued to this client: then nothing was stored.
    issued: bool = True


@dataclass(frozen=True)
class KindCounts:
    """Raw figures for one card kind over a date range (cards issued in the range)."""

    kind: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    #: (reason system, reason code) -> distinct overridden cards; (None, None) is "no reason given".
    reasons: tuple[tuple[tuple[str | None, str | None], int], ...] = ()


@dataclass(frozen=True)
class SummaryCounts:
    kinds: tuple[KindCounts, ...]
    #: Distinct cards with feedback posted to the service in the range that it never issued.
    unmatched_feedback: int


def stored_results(items: Sequence[FeedbackOutcome], new: dict[str, bool],
                   issued: dict[tuple[str, str], str]) -> list[StoredFeedback]:
    """What ``record_feedback`` returns: per item, new or duplicate (the first of identical items
    in one post is the new one), its card's kind, and whether the card was issued to its client."""
    seen: set[str] = set()
    out = []
    for item in items:
        kind = issued.get((item.client_scope, item.card_uuid))
        if kind is None:
            out.append(StoredFeedback(item.fingerprint, False, None, issued=False))
            continue
        out.append(StoredFeedback(item.fingerprint, new.get(item.fingerprint, False) and item.fingerprint not in seen,
                                  kind))
        seen.add(item.fingerprint)
    return out


class Store(Protocol):
    """Feedback, issued cards and suppression lookups; backends in ``sqlite`` and ``postgres``."""

    backend: str  # "sqlite" | "postgresql"

    def record_issued(self, cards: Sequence[IssuedCard]) -> None:
        """Remember cards returned by a hook call (a uuid already stored is left as it is).

        :raise StoreError: if the store cannot be written.
        """

    def record_feedback(self, items: Sequence[FeedbackOutcome]) -> list[StoredFeedback]:
        """Store feedback items; an item whose fingerprint is stored already is a duplicate.

        Only items about a card issued to the same client (``client_scope``) are stored;
        the others come back with ``issued=False`` and are not stored at all.

        :raise StoreError: if the store cannot be written (then nothing of ``items``
            is reported as stored; a retry of the same items is safe).
        """

    def suppressed_kinds(self, patient_hash: str, reasons: Iterable[tuple[str, str, str]],
                         since: datetime) -> set[str]:
        """Kinds of cards issued for the patient and overridden since ``since`` with a reason that
        suppresses that kind: ``reasons`` holds (kind, reason system, reason code).

        :raise StoreError: if the store cannot be read.
        """

    def summary(self, service_id: str, start: datetime, end: datetime, top_reasons: int,
                client_scope: str = "") -> SummaryCounts:
        """Per kind: cards issued by ``service_id`` to ``client_scope`` in [start, end) and their outcomes.

        :raise StoreError: if the store cannot be read.
        """

    def meta_value(self, key: str, default: str) -> str:
        """The stored value of ``key``; stores ``default`` first if there is none (atomic).

        :raise StoreError: if the store cannot be read or written.
        """

    def purge(self, before: datetime) -> tuple[int, int]:
        """Delete issued cards and feedback older than ``before``; (cards, feedback) deleted.

        :raise StoreError: if the store cannot be written.
        """

    def ping(self) -> None:
        """Return when the store answers a trivial query.

        :raise StoreError: if it does not, within the store's timeout.
        """

    def schema_version(self) -> int:
        """The highest migration applied.

        :raise StoreError: if the store cannot be read.
        """

    def close(self) -> None:
        """Close this process's connections (tests, shutdown); later calls reopen."""
