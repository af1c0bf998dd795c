"""The sentence reader: find concepts in free text and decide, per mention, whether it is affirmed.

A ConText/NegEx-style rule engine of our own (see docs/report-reading.md for
why not medspaCy). The steps:

1. normalise the text (dashes, odd spaces) and cut it at ``MAX_TEXT_CHARS``;
2. split it into sentences, remembering the report section ("IMPRESSION",
   "HISTORY", ...) and any level heading ("L4-5: ...") each sentence is under;
3. in each sentence, find concept mentions and cue phrases; a pre-cue
   ("no", "possible", "family history of") reaches forward, a post-cue
   ("is not seen", "cannot be excluded") backward, each over a bounded number
   of words and never past a terminator ("but", "however", "; ", a comma that
   starts a new positive clause);
4. each mention gets the certainty of the nearest cue that reaches it:
   ``affirmed`` (none), ``negated``, ``hedged``, or ``other`` (someone else's).

Every pattern is matched with Python ``re`` on at most one sentence of at most
``MAX_SENTENCE_CHARS`` characters, and the lexicon's patterns have no nested
unbounded repetition (a test checks this), so time is linear in the text.
"""

from __future__ import annotations

import re
# CPython's regex parser (private): the index below reads each pattern's parse tree for the strings a
# match must start with. If a Python release changes it, patterns fall back to full scans (same
# results, several times slower); tests/reading/test_index_coverage.py fails when that happens.
import re._constants as _sre_c
import re._parser as _sre_p
import unicodedata
from bisect import bisect_left, bisect_right
from typing import Iterable, Iterator, Mapping, NamedTuple, Sequence

from . import lexicon as lx
from .certainty import AFFIRMED, HEDGED, NEGATED, OTHER, Certainty  # noqa: F401  (re-exported: readers import them from here)

#: Longest text read; the rest is ignored and the reading says it was truncated.
MAX_TEXT_CHARS = 32_000
#: Longest sentence handed to the patterns; longer runs are cut at a space.
MAX_SENTENCE_CHARS = 600



class Sentence(NamedTuple):  # dozens per report: a tuple is cheaper to make than a frozen dataclass
    text: str
    #: Position of the sentence in the text (0, 1, 2, ...).
    index: int
    #: Number of the logical line (paragraph or list item) it is in.
    paragraph: int
    #: Lower-case name of the report section it is in ("impression"), or None.
    section: str | None
    #: The level heading it sits under ("L4-5"), or None.
    heading: str | None


class Mention(NamedTuple):  # many per report: a tuple is cheaper to make than a frozen dataclass
    concept: str
    start: int  # within the sentence
    end: int
    text: str
    certainty: str
    cue: str | None = None

    @property
    def not_excluded(self) -> bool:
        """Hedged by a "cannot be excluded" kind of cue: not shown, only not ruled out."""
        return self.certainty == HEDGED and bool(self.cue) and bool(_NOT_EXCLUDED.fullmatch(self.cue.strip()))


# --- normalising and splitting ---------------------------------------------------

_TRANSLATE = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ", "\u200a": " ", "\t": " ", "\r": "\n",
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2022": "*", "\u00b7": "*",
        "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
    }
)  # fmt: skip


def normalise(text: str) -> tuple[str, bool]:
    """(normalised text, truncated?): NFKC, one kind of dash and space, at most ``MAX_TEXT_CHARS``."""
    truncated = len(text) > MAX_TEXT_CHARS * 2
    text = unicodedata.normalize("NFKC", text[: MAX_TEXT_CHARS * 2]).translate(_TRANSLATE)
    if len(text) > MAX_TEXT_CHARS:
        text, truncated = text[:MAX_TEXT_CHARS], True
    return text, truncated


_SECTION_RE = re.compile(r"\s*([A-Za-z][A-Za-z /&()-]{0,40}?)\s*:\s*")
_LIST_MARKER_RE = re.compile(r"\s*(?:\(?\d{1,2}[.)]|[*\-+])\s+")
_LEVEL_HEADING_RE = re.compile(
    r"\s*(?:at\s+)?((?:[CTLS]\s?\d{1,2}(?:\s*(?:-|/)\s*[CTLS]?\s?\d{1,2})?(?:\s*(?:,|and|&)\s*)?){1,4}?)\s*(?:level|disc)?\s*(?::|\s-\s)\s*",
    re.IGNORECASE,
)
_SPLIT_RE = re.compile(r"[.!?;](?=\s|$)|\s\.\s")
_NO_SPLIT_BEFORE = re.compile(r"(?:\b(?:vs|e\.g|i\.e|approx|dr|mr|mrs|ms|st|fig|cf|etc|sr|jr)|\b[A-Za-z])$", re.IGNORECASE)


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` (already normalised), with their section and level heading."""
    out: list[Sentence] = []
    section: str | None = None
    heading: str | None = None
    for paragraph, raw_line in enumerate(_logical_lines(text)):
        if not raw_line.strip():
            heading = None  # a blank line ends a level paragraph
            continue
        pos = 0
        m = _LIST_MARKER_RE.match(raw_line, pos)
        if m:
            pos = m.end()
        m = _SECTION_RE.match(raw_line, pos)
        if m and not _LEVEL_HEADING_RE.match(raw_line, pos):
            name = " ".join(m.group(1).lower().split())
            if name in lx.SECTION_NAMES:
                section = name
                heading = None
                pos = m.end()
            elif name in lx.TOPIC_NAMES or len(name.split()) <= 3:
                heading = None  # "Conus:", "Alignment:": a new topic, not a level
        m = _LIST_MARKER_RE.match(raw_line, pos)
        if m:
            pos = m.end()
        m = _LEVEL_HEADING_RE.match(raw_line, pos)
        if m:
            heading = m.group(1).strip().rstrip(",&").strip()
            pos = m.end()
        for s, e in _sentence_spans(raw_line, pos):
            piece = raw_line[s:e]
            stripped = piece.strip()
            if not stripped:
                continue
            for cs, ce in _chunks(stripped):
                out.append(Sentence(stripped[cs:ce].strip(), len(out), paragraph, section, heading))
    return out


def _logical_lines(text: str) -> Iterable[str]:
    """Lines, with hard-wrapped lines joined: a line that does not end a sentence continues on the next."""
    buf: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            if buf:
                yield " ".join(buf)
                buf = []
            yield ""
            continue
        if buf and (buf[-1].rstrip().endswith((".", ":", ";", "!", "?")) or _LIST_MARKER_RE.match(line)
                    or _LEVEL_HEADING_RE.match(line) or _is_section_line(line)):
            yield " ".join(buf)
            buf = []
        buf.append(line)
    if buf:
        yield " ".join(buf)


def _is_section_line(line: str) -> bool:
    m = _SECTION_RE.match(line)
    return bool(m) and " ".join(m.group(1).lower().split()) in lx.SECTION_NAMES


def _sentence_spans(line: str, pos: int) -> Iterable[tuple[int, int]]:
    start = pos
    for m in _SPLIT_RE.finditer(line, pos):
        if m.group(0) == "." and _NO_SPLIT_BEFORE.search(line, max(start, m.start() - 8), m.start()):
            continue
        yield start, m.end()
        start = m.end()
    if start < len(line):
        yield start, len(line)


def _chunks(sentence: str) -> Iterable[tuple[int, int]]:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        yield 0, len(sentence)
        return
    start = 0
    while start < len(sentence):
        end = min(start + MAX_SENTENCE_CHARS, len(sentence))
        if end < len(sentence):
            cut = sentence.rfind(" ", start + MAX_SENTENCE_CHARS // 2, end)
            end = cut if cut > start else end
        yield start, end
        start = end


# --- cues and mentions --------------------------------------------------------------


class _Cue(NamedTuple):  # transient, many per sentence: a tuple is cheaper to make than a frozen dataclass
    start: int
    end: int
    kind: str  # negated / hedged / other / pseudo / terminator
    direction: str | None  # "pre" / "post" / None
    window: int
    text: str


class Lexicon:
    """Compiled concept patterns plus the cue sets used with them."""

    def __init__(
        self,
        concepts: Mapping[str, Sequence[str]],
        *,
        exclusive: bool,
        blockers: Sequence[str] = (),
        experiencer: bool = False,
    ):
        self.names = tuple(concepts)
        self._matcher = _Matcher([(name, alt) for name, alts in concepts.items() for alt in alts])
        self.exclusive = exclusive
        self._blocker = _compile(blockers) if blockers else None
        self._cues = _CueMatcher(_BASE_CUES + (_EXPERIENCER_CUES if experiencer else []))

    def could_mention(self, text: str) -> bool:
        """False when no sentence of ``text`` (normalised) can mention any concept: a cheap test
        before splitting a text most of which (problem-list labels) name nothing we read."""
        return self._matcher.could_match(text)

    def mentions(self, sentence: str, fast: bool = True) -> list[Mention]:
        """Concept mentions in one sentence with their certainty (``fast=False``: a plain scan, for tests)."""
        words = _Words(sentence)
        found = [(m.start(), m.end(), name) for name, m in self._matcher.find(sentence, fast, words)]
        if not found:
            return []
        if self._blocker is not None:
            blocks = [(m.start(), m.end()) for m in self._blocker.finditer(sentence)]
            found = [f for f in found if not any(s < f[1] and f[0] < e for s, e in blocks)]
        found = _resolve_overlaps(found, self.exclusive)
        cues = self._cues.find(sentence, fast, words)
        # Where the sentence's words start: the matchers' word starts when lower-casing changed no letter's kind.
        word_starts = words.starts if sentence.isascii() else [m.start() for m in _WORD_RE.finditer(sentence)]
        out = []
        for start, end, name in found:
            certainty, cue = _certainty(start, end, cues, word_starts)
            out.append(Mention(name, start, end, sentence[start:end], certainty, cue))
        return out


_WORD_RE = re.compile(r"[A-Za-z0-9]+")


_WORD_START_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]")


class _Matcher:
    """Many patterns over one sentence, cheaply.

    A pattern whose matches must begin with one of a few known strings of 4, 3
    or 2 characters ("fora" for "foraminal ...", "no") is only tried, with
    ``match``, where a word of the sentence begins with one of them; the others
    are scanned with ``finditer`` after a substring test on literals one of
    which every match must contain. Same results, in the same order (by
    position, then the patterns' order), as scanning every pattern
    (``fast=False``; tests hold them equal).
    """

    def __init__(self, entries: Sequence[tuple[object, str]]):
        self._all: list[tuple[int, object, re.Pattern]] = []
        self._by_prefix: dict[str, list[tuple[int, object, re.Pattern]]] = {}
        self._scan: list[tuple[int, object, re.Pattern, tuple[str, ...] | None]] = []
        for index, (key, pattern) in enumerate(entries):
            rx = _compile([pattern])
            self._all.append((index, key, rx))
            prefixes = _first_chars(pattern, 4) or _first_chars(pattern, 3) or _first_chars(pattern, 2)
            if prefixes:
                for prefix in prefixes:
                    self._by_prefix.setdefault(prefix, []).append((index, key, rx))
            else:
                self._scan.append((index, key, rx, _required_any(pattern)))
        #: Patterns neither indexed by prefix nor anchored by a literal: scanned in full on every sentence.
        self.unanchored = tuple(pattern for (index, (key, pattern)) in enumerate(entries)
                                if any(i == index and a is None for i, _, _, a in self._scan))
        self.indexed_share = 1 - len(self._scan) / len(entries) if entries else 1.0
        self._lengths = tuple(sorted({len(p) for p in self._by_prefix}))
        #: First two characters of every prefix: most words begin none, and one test says so.
        self._heads = frozenset(p[:2] for p in self._by_prefix)

    def find(self, sentence: str, fast: bool = True, words: _Words | None = None) -> list[tuple[object, re.Match]]:
        """(key, match) of every pattern's matches in ``sentence``, by position, then the patterns' order."""
        words = words or _Words(sentence)
        if not fast or words.lower is None:
            found = [(m.start(), index, key, m) for index, key, rx in self._all for m in rx.finditer(sentence)]
        else:
            found = list(self._indexed_matches(sentence, words))
        found = [f for f in found if f[3].end() > f[0]]
        found.sort(key=_position_then_pattern)
        return [(key, m) for _, _, key, m in found]

    def _indexed_matches(self, sentence: str, words: _Words) -> Iterator[tuple[int, int, object, re.Match]]:
        """(start, pattern index, key, match), empty matches too, found through the prefix and literal tables."""
        lower = words.lower
        for index, key, rx, anchors in self._scan:
            if anchors is not None:
                for a in anchors:
                    if a in lower:
                        break
                else:
                    continue
            for m in rx.finditer(sentence):
                yield m.start(), index, key, m
        by_prefix, lengths, heads = self._by_prefix, self._lengths, self._heads
        for pos in words.starts:
            if lower[pos : pos + 2] not in heads:
                continue
            for n in lengths:
                for index, key, rx in by_prefix.get(lower[pos : pos + n], ()):
                    m = rx.match(sentence, pos)
                    if m is not None:
                        yield pos, index, key, m

    def could_match(self, text: str) -> bool:
        """False only when no pattern matches in any sentence of ``text`` (normalised).

        Exact in that direction. A sentence is a piece of the text, lines joined with a space
        (so newlines count as spaces here), and what comes just before and after a sentence in
        the text is never a letter or digit; so a pattern (whose look-arounds reach past its
        match only as word boundaries) that matches in a sentence matches at the same place in
        the text. Only a sentence over ``MAX_SENTENCE_CHARS`` may be cut inside a word: a text
        that long (a note, rarely a label) is simply read.
        """
        if len(text) > MAX_SENTENCE_CHARS:
            return True
        flat = text.replace("\n", " ")
        words = _Words(flat)
        return words.lower is None or next(self._indexed_matches(flat, words), None) is not None


class _Words:
    """A sentence lower-cased and where its words start, worked out once for all the matchers."""

    __slots__ = ("lower", "starts")

    def __init__(self, sentence: str):
        lower = sentence.lower()
        if len(lower) != len(sentence):  # a few characters ("İ") grow when lowered: positions would slip
            self.lower, self.starts = None, []
        else:
            self.lower = lower
            self.starts = [m.start() for m in _WORD_START_RE.finditer(lower)]


def _position_then_pattern(f: tuple) -> tuple[int, int]:
    return f[0], f[1]


def _first_chars(pattern: str, k: int) -> frozenset[str] | None:
    """The lower-case ``k``-character strings every match starts with, if there are at most 64 of
    them, each a letter or digit then letters, digits, spaces, hyphens, slashes or apostrophes; else None."""
    try:
        parsed = list(_sre_p.parse(pattern, re.IGNORECASE))
    except (re.error, AttributeError, TypeError):
        return None
    try:
        found = _firsts(parsed, k, 0)
    except (AttributeError, TypeError, ValueError, RecursionError):
        return None
    if not found or len(found) > 64:
        return None
    if any(len(f) != k or not f[0].isalnum() or not all(c.isalnum() or c in " -/'" for c in f[1:]) for f in found):
        return None
    return frozenset(found)


def _firsts(seq: list, k: int, depth: int) -> set[str] | None:
    if k == 0 or not seq:
        return {""}
    if depth > 30:
        return None
    op, arg = seq[0]
    rest = seq[1:]
    if op is _sre_c.LITERAL:
        tails = _firsts(rest, k - 1, depth + 1)
        return None if tails is None else {chr(arg).lower() + t for t in tails}
    if op is _sre_c.SUBPATTERN:
        return _firsts(list(arg[-1]) + rest, k, depth + 1)
    if op is _sre_c.BRANCH:
        out: set[str] = set()
        for branch in arg[1]:
            sub = _firsts(list(branch) + rest, k, depth + 1)
            if sub is None:
                return None
            out |= sub
        return out
    if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
        low, high, sub = arg
        if high != 1:
            return None
        once = _firsts(list(sub) + rest, k, depth + 1)
        if once is None:
            return None
        if low == 0:
            skip = _firsts(rest, k, depth + 1)
            return None if skip is None else once | skip
        return once
    if op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT, _sre_c.AT):
        return _firsts(rest, k, depth + 1)
    return None


def _required_any(pattern: str) -> tuple[str, ...] | None:
    """Lower-case literals one of which every match of ``pattern`` contains (the most selective such
    set found: a run of literal text, or one run from each branch of an alternation), or None."""
    try:
        parsed = _sre_p.parse(pattern, re.IGNORECASE)
        found = _any_of(list(parsed), 0)
    except (re.error, AttributeError, TypeError, ValueError, RecursionError):
        return None
    return tuple(sorted(found)) if found else None


def _any_of(items: list, depth: int) -> frozenset[str] | None:
    if depth > 30:
        return None
    candidates: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is _sre_c.LITERAL:
            run += chr(arg).lower()
            continue
        if op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT, _sre_c.AT):
            continue  # zero-width: the text on both sides stays contiguous
        if run:
            candidates.append(frozenset([run]))
            run = ""
        inner = None
        if op is _sre_c.SUBPATTERN:
            inner = _any_of(list(arg[-1]), depth + 1)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and arg[0] >= 1:
            inner = _any_of(list(arg[2]), depth + 1)
        elif op is _sre_c.BRANCH:
            branches = [_any_of(list(b), depth + 1) for b in arg[1]]
            if all(branches):
                inner = frozenset().union(*branches)
        if inner:
            candidates.append(inner)
    if run:
        candidates.append(frozenset([run]))
    # The most selective: longest shortest literal, then fewest literals.
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c)), default=None)


_NOT_EXCLUDED = re.compile(lx.NOT_EXCLUDED_CUES, re.IGNORECASE)


#: Word boundaries that also suit alternatives starting or ending in punctuation or a
#: lookahead: a letter or digit at the edge of a match may not touch another one.
_LEAD = r"(?:(?<![A-Za-z0-9])|(?![A-Za-z0-9]))"
_TAIL = r"(?:(?<![A-Za-z0-9])|(?![A-Za-z0-9]))"


def _compile(alternatives: Sequence[str]) -> re.Pattern:
    return re.compile(_LEAD + "(?:" + "|".join(alternatives) + ")" + _TAIL, re.IGNORECASE)


_BASE_CUES = [
    (NEGATED, "pre", lx.NEGATION_PRE),
    (NEGATED, "post", lx.NEGATION_POST),
    (HEDGED, "pre", lx.HEDGE_PRE),
    (HEDGED, "post", lx.HEDGE_POST),
    ("pseudo", None, [(p, 0) for p in lx.PSEUDO]),
    ("terminator", None, [(p, 0) for p in lx.TERMINATORS]),
]
_EXPERIENCER_CUES = [
    (OTHER, "pre", lx.EXPERIENCER_PRE),
    (OTHER, "post", lx.EXPERIENCER_POST),
]
#: When two cues of equal length overlap, the earlier kind in this list wins.
_KIND_RANK = {"pseudo": 0, "hedged": 1, "negated": 2, "other": 3, "terminator": 4}


class _CueMatcher:
    """All cue patterns in one regex scan; each alternative is a named group that says its cue."""

    def __init__(self, cue_sets):
        specs: dict[str, list[tuple[str, str | None, int]]] = {}
        for kind, direction, entries in cue_sets:
            for pattern, window in entries:
                specs.setdefault(pattern, []).append((kind, direction, window))
        self._specs = specs
        self._matcher = _Matcher([(p, p) for p in specs])

    def find(self, sentence: str, fast: bool = True, words: _Words | None = None) -> list[_Cue]:
        raw: list[_Cue] = []
        for pattern, m in self._matcher.find(sentence, fast, words):
            for kind, direction, window in self._specs[pattern]:
                raw.append(_Cue(m.start(), m.end(), kind, direction, window, m.group(0)))
        return _resolve_cues(raw)


def _resolve_cues(raw: list[_Cue]) -> list[_Cue]:
    # Longest cue wins where cues overlap ("cannot be excluded" over "not").
    raw.sort(key=lambda c: (-(c.end - c.start), _KIND_RANK[c.kind], c.start))
    kept: list[_Cue] = []
    for c in raw:
        # The same words may reach both ways ("L5 radiculopathy versus plexopathy").
        if not any(k.start < c.end and c.start < k.end and not _twin(k, c) for k in kept):
            kept.append(c)
    kept.sort(key=lambda c: c.start)
    return kept


def _twin(a: _Cue, b: _Cue) -> bool:
    return (a.start, a.end, a.kind) == (b.start, b.end, b.kind) and a.direction != b.direction


def _resolve_overlaps(found: list[tuple[int, int, str]], exclusive: bool) -> list[tuple[int, int, str]]:
    """Leftmost-longest: of overlapping mentions (of any concept when ``exclusive``, else of one
    concept) keep the one starting first, the longest of those starting together."""
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept: list[tuple[int, int, str]] = []
    for f in found:
        clash = any(k[0] < f[1] and f[0] < k[1] and (exclusive or k[2] == f[2]) for k in kept)
        if not clash:
            kept.append(f)
    kept.sort(key=lambda f: f[0])
    return kept


def _words_between(words: list[int], a: int, b: int) -> int:
    return max(0, bisect_left(words, b) - bisect_left(words, a))


def _certainty(start: int, end: int, cues: list[_Cue], words: list[int]) -> tuple[str, str | None]:
    best: tuple[int, str, str] | None = None  # (distance in words, certainty, cue text)
    # Pre-cues: scan back from the mention to the nearest terminator.
    idx = bisect_right([c.end for c in cues], start)
    for c in reversed(cues[:idx]):
        if c.kind == "terminator":
            break
        if c.direction != "pre":
            continue
        dist = _words_between(words, c.end, start)
        if dist <= c.window:
            best = (dist, c.kind, c.text)
            break
    # Post-cues: scan forward to the nearest terminator.
    for c in cues:
        if c.start < end:
            continue
        if c.kind == "terminator":
            break
        if c.direction != "post":
            continue
        dist = _words_between(words, end, c.start)
        if dist <= c.window:
            if best is None or dist < best[0] or (dist == best[0] and c.kind == "hedged"):
                best = (dist, c.kind, c.text)
            break
    if best is None:
        return AFFIRMED, None
    return best[1], best[2]


# --- the shared lexicons -----------------------------------------------------------

MRI = Lexicon(lx.MRI_CONCEPTS, exclusive=True)
EMG = Lexicon(lx.EMG_CONCEPTS, exclusive=True)
CLINICAL = Lexicon(lx.CLINICAL_CONCEPTS, exclusive=False, blockers=lx.CLINICAL_BLOCKERS, experiencer=True)


def compile_terms(terms: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive whole-word pattern for literal terms (drug names, say); None for no terms."""
    alts = sorted({re.escape(t.strip()) for t in terms if t and t.strip()}, key=len, reverse=True)
    if not alts:
        return None
    return _compile([a.replace(r"\ ", r"\s+") for a in alts])
