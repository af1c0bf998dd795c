"""Reading a spine MRI report: findings by level, side, severity, with negation and hedging.

Level scope, in order of preference:

1. levels written in the sentence: a finding takes the nearest level group,
   looking backward when the sentence opens with its level ("At L4-5 there is
   a bulge and at L5-S1 a protrusion"), forward otherwise ("Mild bulge at L3-4
   and moderate protrusion at L4-5"), then the other way if none;
2. the level heading the sentence sits under ("L4-5: ... ");
3. the single level of the previous sentence in the same paragraph ("At L4-5
   there is a bulge. There is moderate left foraminal stenosis."), unless the
   sentence speaks of many levels ("multilevel", "elsewhere");
4. none (``level=None``), e.g. "Multilevel degenerative disc disease".

"Mild at L3-4, moderate at L4-5" repeats the previous finding at another
level with another severity (an elliptical list).
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import attributes as at
from . import lexicon as lx
from .levels import LevelGroup, disc_levels, find_level_tokens, group_tokens, level_sort_key
from .model import MriFinding, MriReading
from .text import AFFIRMED, HEDGED, MRI, NEGATED, Mention, normalise, split_sentences

_DISC_KINDS = frozenset({"bulge", "disc_osteophyte", "protrusion", "extrusion", "herniation"})
_ROOT_KINDS = frozenset({"root_contact", "root_compression"})
_SPECIFIC_HERNIATION = frozenset({"protrusion", "extrusion"})
_CERTAINTY_RANK = {AFFIRMED: 0, HEDGED: 1, NEGATED: 2}
#: How far before a finding its side/severity/zone words may stand.
_PRE_WORDS = 5
_POST_CHARS = 40
_NO_CARRY = re.compile(r"(?<![A-Za-z])(?:%s)(?![A-Za-z])" % lx.NO_LEVEL_CARRY, re.IGNORECASE)
_ELLIPSIS = re.compile(lx.ELLIPTICAL_SEVERITY, re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:()]")


def read_mri_text(text: str) -> MriReading:
    """Read one MRI report text (impression, findings or both). Never raises on odd text.

    A text that names no finding gives ``normal=None`` and no findings.
    """
    norm, truncated = normalise(text or "")
    raw: list[MriFinding] = []
    normal_phrase = False
    multilevel_phrase = False
    carry: tuple[int, tuple[str, ...]] | None = None  # (paragraph, levels) of the previous sentence
    for sentence in split_sentences(norm):
        if sentence.section in lx.SKIPPED_SECTIONS:
            continue
        groups = _level_groups(sentence.text)
        own = [lv for _, lv in groups]
        inherited = ()
        if carry and carry[0] == sentence.paragraph and not own and not sentence.heading and not _NO_CARRY.search(sentence.text):
            inherited = carry[1]
        carry = (sentence.paragraph, own[0]) if len(own) == 1 else (sentence.paragraph, inherited) if not own else None
        mentions = MRI.mentions(sentence.text)
        if not mentions:
            continue
        for m in mentions:
            if m.concept == "normal_study" and m.certainty == AFFIRMED:
                normal_phrase = True
            elif m.concept == "multilevel" and m.certainty == AFFIRMED:
                multilevel_phrase = True
        kinds = [m for m in mentions if m.concept not in lx.MRI_SIGNALS]
        if kinds:
            raw.extend(_sentence_findings(sentence.text, sentence.heading, kinds, inherited, groups))
    findings, negated = _consolidate(raw)
    compressive_levels = {f.level for f in findings if f.level and f.kind in lx.MRI_COMPRESSIVE}
    multilevel = len(compressive_levels) >= 2 or multilevel_phrase
    if any(f.certainty == AFFIRMED for f in findings):
        normal = False
    elif normal_phrase:
        normal = True
    elif findings:
        normal = False
    elif negated:
        normal = True
    else:
        normal = None
    return MriReading(normal=normal, multilevel=multilevel, findings=findings, negated=negated, truncated=truncated)


@lru_cache(maxsize=256)
def _heading_levels(heading: str | None) -> tuple[str, ...]:
    if not heading:
        return ()
    out: list[str] = []
    for g in group_tokens(heading, find_level_tokens(heading)):
        out.extend(disc_levels(g))
    return tuple(dict.fromkeys(out))


def _level_groups(text: str) -> list[tuple[LevelGroup, tuple[str, ...]]]:
    """The sentence's level groups that name disc levels, with those levels."""
    groups = [(g, disc_levels(g)) for g in group_tokens(text, find_level_tokens(text))]
    return [(g, lv) for g, lv in groups if lv]


def _sentence_findings(text: str, heading: str | None, kinds: list[Mention], inherited: tuple[str, ...],
                       groups: list[tuple[LevelGroup, tuple[str, ...]]]) -> list[MriFinding]:
    ellipses = [e for e in _ELLIPSIS.finditer(text) if not any(k.start < e.end() and e.start() < k.end for k in kinds)]
    # A level claimed by an elliptical repeat does not also belong to the finding before it.
    claimed = {g.start for g, _ in groups if any(e.end() == g.start for e in ellipses)}
    level_first = bool(groups) and groups[0][0].start < kinds[0].start
    clipped = at.clip(text)
    out = []
    for i, m in enumerate(kinds):
        prev_end = kinds[i - 1].end if i else 0
        next_start = kinds[i + 1].start if i + 1 < len(kinds) else len(text)
        before = text[prev_end : m.start]
        # Modifiers reach back over a few words, and not past a comma ("stenosis, severe, with compression").
        pre = at.last_words(_CLAUSE_BREAK.split(before)[-1], _PRE_WORDS)
        post = text[m.end : min(next_start, m.end + _POST_CHARS)]
        levels = _levels_for(m, groups, level_first, claimed) or _heading_levels(heading) or inherited or (None,)
        kind = _kind(m.concept, pre, m.text)
        if kind in _ROOT_KINDS:
            # "The right L3 nerve root is compressed": side and root may precede the verb phrase.
            near = at.last_words(before, 3)
            side = at.side_in(m.text) or at.side_in(near) or at.side_after(post)
            roots = _roots_in(m.text) or _roots_in(near)
            severity = at.severity_in(m.text) or at.severity_in(at.last_words(before, 1))
        else:
            side = at.merge_sides(at.side_in(pre), at.side_in(m.text)) or at.side_after(post)
            roots = ()
            severity = at.max_severity(at.severity_in(pre), at.severity_in(m.text)) or at.severity_after(post)
        zone = at.zone_in(pre + " " + m.text) if kind in _DISC_KINDS else None
        for level in levels:
            out.append(MriFinding(kind, level, side, severity, zone, roots, m.certainty, clipped))
        for e in ellipses:
            if e.start() >= m.end and e.start() < next_start:
                for g, lv in groups:
                    if g.start == e.end():
                        sev = at.severity_in(e.group(1))
                        for level in lv:
                            out.append(MriFinding(kind, level, side, sev, zone, roots, m.certainty, clipped))
    return out


def _levels_for(m: Mention, groups: list[tuple[LevelGroup, tuple[str, ...]]], level_first: bool, claimed: set[int]) -> tuple[str, ...]:
    before = [lv for g, lv in groups if g.end <= m.start]
    after = [lv for g, lv in groups if g.start >= m.end and g.start not in claimed]
    inside = [lv for g, lv in groups if g.start < m.end and m.start < g.end]
    if inside:
        return inside[0]
    if level_first:
        return before[-1] if before else (after[0] if after else ())
    return after[0] if after else (before[-1] if before else ())


def _kind(concept: str, pre: str, span: str) -> str:
    if concept != "stenosis_unspecified":
        return concept
    words = (pre + " " + span).lower()
    if "foramin" in words:
        return "foraminal_stenosis"
    if "recess" in words:
        return "lateral_recess_stenosis"
    return "central_stenosis"


def _roots_in(span: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.first for t in find_level_tokens(span) if not t.is_pair))


def _consolidate(raw: list[MriFinding]) -> tuple[tuple[MriFinding, ...], tuple[MriFinding, ...]]:
    """Merge repeats (findings section and impression), drop summaries the levels already say."""
    positive: dict[tuple, MriFinding] = {}
    negative: dict[tuple, MriFinding] = {}
    for f in raw:
        bucket = negative if f.certainty == NEGATED else positive
        key = (f.kind, f.level, f.side)
        old = bucket.get(key)
        bucket[key] = f if old is None else _merge(old, f)
    # A side-less finding repeats a sided one at the same level and kind.
    for key in list(positive):
        kind, level, side = key
        if side is None and any(k[0] == kind and k[1] == level and k[2] for k in positive):
            sided = [k for k in positive if k[0] == kind and k[1] == level and k[2]]
            for k in sided:
                positive[k] = _merge(positive[k], positive[key], keep_side=True)
            del positive[key]
    # A level-less finding repeats the same kind stated at a level.
    for key in list(positive):
        kind, level, side = key
        if level is None and any(k[0] == kind and k[1] for k in positive):
            del positive[key]
    # "Herniation" repeats a protrusion/extrusion at the same level.
    for key in list(positive):
        kind, level, side = key
        if kind == "herniation" and any(k[0] in _SPECIFIC_HERNIATION and k[1] == level for k in positive):
            del positive[key]
    # A negation contradicted by a positive finding at the same level is dropped.
    for key in list(negative):
        kind, level, side = key
        if any(k[0] == kind and k[1] == level and (side is None or k[2] in (side, None, "bilateral")) for k in positive):
            del negative[key]
    order = lambda f: (level_sort_key(f.level), f.kind, f.side or "")  # noqa: E731
    return tuple(sorted(positive.values(), key=order)), tuple(sorted(negative.values(), key=order))


def _merge(a: MriFinding, b: MriFinding, keep_side: bool = False) -> MriFinding:
    certainty = a.certainty if _CERTAINTY_RANK[a.certainty] <= _CERTAINTY_RANK[b.certainty] else b.certainty
    return MriFinding(
        kind=a.kind,
        level=a.level,
        side=a.side if keep_side else (a.side or b.side),
        severity=at.max_severity(a.severity, b.severity),
        zone=a.zone or b.zone,
        roots=tuple(dict.fromkeys(a.roots + b.roots)),
        certainty=certainty,
        sentence=a.sentence,
    )
