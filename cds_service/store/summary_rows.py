"""The summary's queries (the same SQL on both backends) and turning their rows into ``SummaryCounts``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Sequence

from .base import KindCounts, SummaryCounts


def run_summary_queries(execute: Callable[[str, Sequence[Any]], Any], mark: str,
                        window: Sequence[Any]) -> tuple[list, list, list, int]:
    """(shown, outcomes, reasons, unmatched) for ``window`` = (client scope, service id, start, end).

    A client sees its own figures only: cards issued to it, feedback it sent.

    ``execute(sql, params)`` returns a cursor; ``mark`` is the driver's placeholder
    (``?`` for sqlite3, ``%s`` for psycopg). The caller chooses the transaction.
    """
    in_range = f"i.client_scope = {mark} AND i.service_id = {mark} AND i.issued_at >= {mark} AND i.issued_at < {mark}"
    shown = execute(f"SELECT i.kind, COUNT(*) FROM issued_cards i WHERE {in_range} GROUP BY i.kind", window).fetchall()
    outcomes = execute(
        "SELECT i.kind, f.outcome, COUNT(DISTINCT f.card_uuid) FROM issued_cards i"
        f" JOIN feedback f ON f.card_uuid = i.card_uuid AND f.client_scope = i.client_scope WHERE {in_range}"
        " GROUP BY i.kind, f.outcome",
        window,
    ).fetchall()
    reasons = execute(
        "SELECT i.kind, f.reason_system, f.reason_code, COUNT(DISTINCT f.card_uuid) FROM issued_cards i"
        f" JOIN feedback f ON f.card_uuid = i.card_uuid AND f.client_scope = i.client_scope WHERE {in_range}"
        " AND f.outcome = 'overridden' GROUP BY i.kind, f.reason_system, f.reason_code",
        window,
    ).fetchall()
    unmatched = execute(
        "SELECT COUNT(DISTINCT f.card_uuid) FROM feedback f"
        " LEFT JOIN issued_cards i ON i.card_uuid = f.card_uuid AND i.client_scope = f.client_scope"
        f" WHERE i.card_uuid IS NULL AND f.client_scope = {mark} AND f.service_id = {mark}"
        f" AND f.received_at >= {mark} AND f.received_at < {mark}",
        window,
    ).fetchone()[0]
    return shown, outcomes, reasons, unmatched


def build_summary(
    shown: Iterable[tuple[str, int]],
    outcomes: Iterable[tuple[str, str, int]],
    reasons: Iterable[tuple[str, str | None, str | None, int]],
    unmatched: int,
    top_reasons: int,
) -> SummaryCounts:
    """Per kind: shown, accepted, overridden and the ``top_reasons`` most frequent override reasons.

    Reasons are ordered by count, then code (so equal counts come out the same
    way every time); "no reason given" is a reason like any other here.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"shown": 0, "accepted": 0, "overridden": 0})
    for kind, n in shown:
        counts[kind]["shown"] = int(n)
    for kind, outcome, n in outcomes:
        counts[kind][outcome] = int(n)
    by_kind: dict[str, list[tuple[tuple[str | None, str | None], int]]] = defaultdict(list)
    for kind, system, code, n in reasons:
        by_kind[kind].append(((system, code), int(n)))
    kinds = []
    for kind in sorted(counts):
        ranked = sorted(by_kind[kind], key=lambda r: (-r[1], r[0][1] or "", r[0][0] or ""))
        kinds.append(KindCounts(kind=kind, reasons=tuple(ranked[:top_reasons]), **counts[kind]))
    return SummaryCounts(kinds=tuple(kinds), unmatched_feedback=int(unmatched))
