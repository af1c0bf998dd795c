"""Spine levels and nerve roots: parsing report spellings into canonical names.

Disc levels are written ``L4-5``, ``L4-L5``, ``L4/5``, ``L5-S1``, ``C6-C7``
(Fardon 2014 nomenclature); we name them ``L4-L5``. Roots are single segments
(``L5``, ``C6``). In an EMG report ``C5-6 radiculopathy`` means the C5 and C6
roots, in an MRI report ``C5-6`` is the disc between them: the caller says
which reading it wants.

Every pattern here is a flat token pattern (no nested repetition), so matching
is linear in the text length; grouping tokens into lists and ranges is done in
Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: The limb whose roots each spine region holds (a limb study tests them; the thoracic roots none).
REGION_LIMB = {"cervical": "upper", "lumbar": "lower"}
LIMB_REGION = {limb: region for region, limb in REGION_LIMB.items()}


#: Segments in cranio-caudal order. C8 is a root without a vertebra.
_VERTEBRAE = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + ["S1"]
_VERTEBRA_INDEX = {v: i for i, v in enumerate(_VERTEBRAE)}
_ROOTS = [f"C{i}" for i in range(1, 9)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + [f"S{i}" for i in range(1, 6)]
_ROOT_INDEX = {r: i for i, r in enumerate(_ROOTS)}
DISC_LEVELS = tuple(f"{a}-{b}" for a, b in zip(_VERTEBRAE, _VERTEBRAE[1:]))

# One segment name: letter + number, not glued to other letters or digits.
# "T1"/"T2" followed by MRI-sequence words are sequences, not levels; that is
# checked in code (a lookahead with alternation stays linear).
_SEG = r"([CTLS])\s?(1[0-2]|[1-9])"
_PAIR_RE = re.compile(
    r"(?<![A-Za-z0-9])" + _SEG + r"\s*(?:-|/|–)\s*([CTLS])?\s?(1[0-2]|[1-9])(?![0-9])(?![A-Za-z])",
    re.IGNORECASE,
)
_SINGLE_RE = re.compile(r"(?<![A-Za-z0-9])" + _SEG + r"(?![0-9])(?![A-Za-z])", re.IGNORECASE)
_SEQUENCE_AFTER = re.compile(
    r"\s*(?:-?\s*weighted|w\b|hyper|hypo|signal|image|sequence|flair|stir|fat|post|pre|and t[12]\b|/t[12]\b|relaxation)",
    re.IGNORECASE,
)
#: "anterolisthesis of L4 on L5": two vertebrae naming one disc level.
_ON_RE = re.compile(r"(?<![A-Za-z0-9])" + _SEG + r"\s+on\s+" + _SEG + r"(?![0-9])", re.IGNORECASE)
_RANGE_WORD = re.compile(r"\s*(?:through|thru|to)\s*$", re.IGNORECASE)
_LIST_WORD = re.compile(r"\s*(?:,|and|or|&|as well as|,\s*and|,\s*or)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class LevelToken:
    """One level-like spelling in a text: a pair (``L4-5``) or a single segment (``L5``)."""

    start: int
    end: int
    first: str
    second: str | None  # None for a single segment

    @property
    def is_pair(self) -> bool:
        return self.second is not None


@dataclass(frozen=True)
class LevelGroup:
    """Level tokens joined by "and", commas or "through": read as one list."""

    start: int
    end: int
    tokens: tuple[LevelToken, ...]
    ranged: tuple[bool, ...]  # ranged[i]: token i+1 closes a "through" range from token i


def _seg(letter: str, number: str) -> str:
    return f"{letter.upper()}{int(number)}"


@lru_cache(maxsize=2048)
def find_level_tokens(text: str) -> tuple[LevelToken, ...]:
    """Level spellings in ``text``, in order, not overlapping; MRI sequence names (T1, T2) excluded.

    Cached: a sentence is asked several times (its own levels, each finding's roots).
    """
    tokens: list[LevelToken] = []
    taken: list[tuple[int, int]] = []
    for m in _ON_RE.finditer(text):
        a, b = _seg(m.group(1), m.group(2)), _seg(m.group(3), m.group(4))
        if a in _VERTEBRA_INDEX and b in _VERTEBRA_INDEX and _VERTEBRA_INDEX[b] == _VERTEBRA_INDEX[a] + 1:
            tokens.append(LevelToken(m.start(), m.end(), a, b))
            taken.append((m.start(), m.end()))
    for m in _PAIR_RE.finditer(text):
        if _overlaps(taken, m.start(), m.end()):
            continue
        first = _seg(m.group(1), m.group(2))
        second = _seg(m.group(3) or m.group(1), m.group(4))
        if first not in _ROOT_INDEX or second not in _ROOT_INDEX or _ROOT_INDEX[second] <= _ROOT_INDEX[first]:
            continue
        tokens.append(LevelToken(m.start(), m.end(), first, second))
        taken.append((m.start(), m.end()))
    for m in _SINGLE_RE.finditer(text):
        if _overlaps(taken, m.start(), m.end()):
            continue
        seg = _seg(m.group(1), m.group(2))
        if seg not in _ROOT_INDEX:
            continue
        if seg[0] == "T" and _SEQUENCE_AFTER.match(text, m.end()):
            continue
        tokens.append(LevelToken(m.start(), m.end(), seg, None))
    tokens.sort(key=lambda t: t.start)
    return tuple(tokens)


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def group_tokens(text: str, tokens: tuple[LevelToken, ...] | list[LevelToken]) -> list[LevelGroup]:
    """Join tokens separated only by list words ("and", ",", "or") or a range word ("through", "to")."""
    groups: list[LevelGroup] = []
    current: list[LevelToken] = []
    ranged: list[bool] = []
    for tok in tokens:
        if current:
            gap = text[current[-1].end : tok.start]
            if len(gap) <= 16 and _RANGE_WORD.match(gap):
                current.append(tok)
                ranged.append(True)
                continue
            if len(gap) <= 16 and _LIST_WORD.fullmatch(gap):
                current.append(tok)
                ranged.append(False)
                continue
            groups.append(LevelGroup(current[0].start, current[-1].end, tuple(current), tuple(ranged)))
        current, ranged = [tok], []
    if current:
        groups.append(LevelGroup(current[0].start, current[-1].end, tuple(current), tuple(ranged)))
    return groups


def disc_levels(group: LevelGroup) -> tuple[str, ...]:
    """The disc levels a group names, as an MRI report means them (``L4-5 and L5-S1``; ``L3-L5``: two discs).

    Single segments are ignored (in MRI text "L5" alone is a vertebra or a root).
    """
    out: list[str] = []
    prev_pair: tuple[str, str] | None = None
    for i, tok in enumerate(group.tokens):
        if not tok.is_pair:
            prev_pair = None
            continue
        pair = (tok.first, tok.second)
        if i > 0 and group.ranged[i - 1] and prev_pair is not None:
            # "L2-3 through L5-S1": every disc from the first to the last.
            out.extend(_disc_span(prev_pair[0], pair[1]))
        else:
            out.extend(_disc_span(*pair))
        prev_pair = pair
    return tuple(dict.fromkeys(out))


def _disc_span(upper: str, lower: str) -> list[str]:
    a, b = _VERTEBRA_INDEX.get(upper), _VERTEBRA_INDEX.get(lower)
    if a is None or b is None or b <= a or b - a > 8:
        return []
    return [f"{_VERTEBRAE[i]}-{_VERTEBRAE[i + 1]}" for i in range(a, b)]


def roots(group: LevelGroup) -> tuple[str, ...]:
    """The roots a group names, as an EMG report means them (``L5/S1``, ``C5-6``: two roots; ``C5-C7``: three)."""
    out: list[str] = []
    prev: str | None = None
    for i, tok in enumerate(group.tokens):
        span = _root_span(tok.first, tok.second) if tok.is_pair else [tok.first]
        if i > 0 and group.ranged[i - 1] and prev is not None:
            span = _root_span(prev, span[-1]) if span else span
        out.extend(span)
        prev = span[-1] if span else prev
    return tuple(dict.fromkeys(out))


def _root_span(first: str, last: str) -> list[str]:
    a, b = _ROOT_INDEX.get(first), _ROOT_INDEX.get(last)
    if a is None or b is None or b < a or b - a > 8:
        return []
    return _ROOTS[a : b + 1]


def root_distance(a: str, b: str) -> int | None:
    """How many roots apart ``a`` and ``b`` are (L4 and L5: 1), or None for a name that is not a root."""
    if a not in _ROOT_INDEX or b not in _ROOT_INDEX:
        return None
    return abs(_ROOT_INDEX[a] - _ROOT_INDEX[b])


def region_of(segment: str) -> str | None:
    """The spine region of a root or disc level: ``cervical``, ``thoracic`` or ``lumbar`` (sacral counts as lumbar)."""
    first = segment.split("-")[0]
    if first not in _ROOT_INDEX:
        return None
    if first[0] == "C" or first == "T1" and "-" not in segment:
        return "cervical"  # the T1 root joins C8 in the lower trunk
    if first[0] == "T":
        return "thoracic"
    return "lumbar"


def roots_at_level(level: str) -> dict[str, str]:
    """The roots a disc level usually affects, by the zone of the lesion (standard anatomy).

    Lumbar and thoracic: a paracentral/subarticular lesion at L4-L5 meets the
    traversing L5 root, a foraminal one the exiting L4 root. Cervical: roots
    exit above their same-numbered vertebra, so C5-C6 meets C6 whatever the zone
    (and C7-T1 meets C8). Returns {"traversing": ..., "exiting": ...}; {} for an
    unknown level.
    """
    if level not in DISC_LEVELS:
        return {}
    upper, lower = level.split("-")
    if upper[0] == "C":
        root = "C8" if upper == "C7" else lower
        return {"traversing": root, "exiting": root}
    exiting = upper
    traversing = lower
    return {"traversing": traversing, "exiting": exiting}


def levels_for_root(root: str) -> tuple[str, ...]:
    """Disc levels where a lesion may meet ``root`` (inverse of :func:`roots_at_level`)."""
    return tuple(level for level in DISC_LEVELS if root in roots_at_level(level).values())


def level_sort_key(level: str | None) -> int:
    """Cranio-caudal order; unknown levels last."""
    if level is None:
        return 10_000
    first = level.split("-")[0]
    return _ROOT_INDEX.get(first, 9_000)
