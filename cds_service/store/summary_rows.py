"""Turn the summary queries' rows (the same shape on both backends) into ``SummaryCounts``."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from .base import KindCounts, SummaryCounts


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
