"""The text reader's prefix index must keep covering the lexicon.

The index reads CPython's private regex parser (``re._parser``); if a Python release changed it, every
pattern would quietly fall back to a full scan: the same mentions (tests hold fast == plain scan), but
reading several times slower with every test green. These tests fail instead, naming the patterns.
"""

from __future__ import annotations

import pytest

from cds_service.reading import text


MATCHERS = {
    "MRI": text.MRI._matcher,
    "EMG": text.EMG._matcher,
    "CLINICAL": text.CLINICAL._matcher,
    "CLINICAL cues": text.CLINICAL._cues._matcher,
    "MRI cues": text.MRI._cues._matcher,
}


@pytest.mark.parametrize("name", sorted(MATCHERS))
def test_nearly_every_pattern_is_indexed_and_none_is_scanned_blind(name):
    matcher = MATCHERS[name]
    assert matcher.unanchored == (), f"{name}: patterns scanned in full on every sentence: {matcher.unanchored}"
    assert matcher.indexed_share >= 0.9, f"{name}: only {matcher.indexed_share:.0%} of the patterns are indexed"


def test_the_index_finds_the_prefixes_of_a_known_pattern():
    """The parse-tree walk itself: a literal start, an alternation, an optional group."""
    assert text._first_chars(r"foraminal (?:stenosis|narrowing)", 4) == frozenset({"fora"})
    assert text._first_chars(r"(?:cauda|conus) equina", 3) == frozenset({"cau", "con"})
    assert text._first_chars(r"(?:severe )?stenosis", 3) == frozenset({"sev", "ste"})
    assert text._required_any(r"\d+ ?mm (?:disc )?protrusion") == ("protrusion",)
