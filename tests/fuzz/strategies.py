"""Hypothesis strategies and settings for the fuzz tests: JSON values, hostile report text, budgets.

The suite runs a bounded, derandomized number of examples (the same ones every
run, so a failure is repeatable); ``CDS_FUZZ_EXAMPLES=10`` multiplies them and
draws new ones, for a longer exploration by hand.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("CDS_FUZZ_EXAMPLES", "1")))


def budget(examples: int, deadline_ms: int | None = None) -> settings:
    """Settings for one property: ``examples`` (times SCALE); ``deadline_ms`` bounds each example
    (generously: another process may share the CPU; it is there to catch a blow-up, not to time)."""
    return settings(max_examples=examples * SCALE, deadline=deadline_ms, derandomize=SCALE == 1, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


# --- JSON -----------------------------------------------------------------------------

#: Strings that have broken parsers before: dates at the calendar's ends, numbers as text,
#: control characters, lone surrogates, very long ones.
NASTY_STRINGS = st.sampled_from([
    "", " ", "0", "-1", "1e400", "NaN", "null", "true", "\x00", "\n", "a\nb", "\u202e", "\ud800", "💥",
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30",
    "2026-13-01", "20261126", "T", "2026-11-26T25:00:00Z", "Patient/", "/", "..", "%00", "x" * 5000,
    "L4-5 " * 400, "no " * 400,
])
JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40) | NASTY_STRINGS)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)

# --- report text ----------------------------------------------------------------------

#: What spine MRI and EMG reports are made of: levels, findings, negations and hedges, sides,
#: severities, section headings, list markers.
REPORT_WORDS = [
    "L4-5", "L5-S1", "L3/4", "L4-L5", "C5-6", "C5-C6", "C6-7", "T12-L1", "S1", "L5", "C8", "T1", "T2",
    "l4-5", "L 4-5", "C5-6-7", "L2 through L5", "L4 on L5", "levels", "multilevel", "elsewhere",
    "disc", "bulge", "protrusion", "extrusion", "herniation", "osteophyte", "stenosis", "foraminal",
    "central", "subarticular", "recess", "narrowing", "root", "nerve", "contact", "compression", "cord",
    "signal", "myelomalacia", "spondylolisthesis", "facet", "arthropathy", "fissure", "degeneration",
    "radiculopathy", "polyneuropathy", "carpal", "tunnel", "ulnar", "peroneal", "plexopathy", "myopathy",
    "denervation", "fibrillations", "positive", "sharp", "waves", "reinnervation", "chronic", "active",
    "normal", "abnormal", "study", "unremarkable",
    "no", "not", "without", "negative", "for", "absent", "denies", "free of", "rule out", "ruled out",
    "cannot be excluded", "not excluded", "possible", "probable", "suspected", "may", "versus", "vs",
    "no evidence of", "no significant", "resolved", "history of", "family history",
    "left", "right", "bilateral", "bilaterally", "mild", "moderate", "severe", "marked", "minimal",
    "IMPRESSION:", "FINDINGS:", "HISTORY:", "TECHNIQUE:", "COMPARISON:", "1.", "2)", "-", "*",
    ",", ";", ".", ":", "(", ")", "/", "and", "or", "at", "of", "the", "with", "is", "are",
]
_SEPARATORS = st.sampled_from([" ", " ", " ", ", ", ". ", ".\n", "\n\n", "; ", ": ", " - ", "\t", "\r\n"])
_TOKEN = st.sampled_from(REPORT_WORDS) | st.text(max_size=6)


@st.composite
def report_text(draw, max_words: int = 300) -> str:
    """Report-like text: vocabulary in any order, separated as reports are."""
    words = draw(st.lists(_TOKEN, max_size=max_words))
    return "".join(w + draw(_SEPARATORS) for w in words)


#: Text a reader must survive: arbitrary unicode (control characters, combining marks,
#: surrogates' neighbours), report-like text, and long runs (the same snippet thousands of
#: times: level mentions, negations, punctuation, one endless word).
HOSTILE_TEXT = st.one_of(
    st.text(max_size=2000),
    report_text(),
    st.builds(lambda s, n: s * n, report_text(max_words=12) | _TOKEN, st.integers(min_value=50, max_value=6000)),
    st.builds(lambda s, n: s * n, st.sampled_from(["no ", "not without ", "L4-5, ", "C5-6-", "(", "-", ".", "\n",
                                                   "a", "L", "4", ": ", "1. ", "no evidence of no "]),
              st.integers(min_value=1000, max_value=70000)),
)
