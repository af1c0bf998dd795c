"""The report reader on arbitrary and hostile text: it never raises, stays fast, and what it returns
is well formed (levels and roots are real ones, certainties known, a normal study has no
affirmed finding). Report text comes from EHRs: anything may be in it.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from cds_service.fhir.reader import InvalidResource, read_resource
from cds_service.reading import read_emg_text, read_mri_text, read_record
from cds_service.reading.levels import _ROOTS, DISC_LEVELS
from cds_service.reading.text import (AFFIRMED, CLINICAL, EMG, HEDGED, MAX_TEXT_CHARS, MRI, NEGATED, normalise,
                                      split_sentences)
from cds_service.record import PatientRecord
from cds_service.settings import Settings
from cds_service.valuesets import load_valuesets
from tests.fuzz.strategies import HOSTILE_TEXT, budget
from tests.reading.corpus_scoring import load

VALUESETS = load_valuesets(Settings().valuesets_dir)
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
#: Per text, however hostile: a blow-up (backtracking, quadratic work) takes seconds, a
#: 32,000-character report about 0.2 s on this machine.
DEADLINE_MS = 3000
CLIPPED = 160  # sentences quoted as evidence are clipped to this


def _root_ok(root: str) -> bool:
    return root in _ROOTS


@budget(120, DEADLINE_MS)
@given(HOSTILE_TEXT)
def test_mri_text_never_raises_and_reads_well_formed_findings(text):
    reading = read_mri_text(text)
    assert reading.normal in (True, False, None)
    for f in reading.findings:
        assert f.certainty in (AFFIRMED, HEDGED)
        assert f.level is None or f.level in DISC_LEVELS, f.level
        assert all(_root_ok(r) for r in f.roots), f.roots
        assert len(f.sentence) <= CLIPPED
    assert all(f.certainty == NEGATED for f in reading.negated)
    if reading.normal:
        assert not any(f.certainty == AFFIRMED for f in reading.findings)
    if len(text) > 2 * MAX_TEXT_CHARS:
        assert reading.truncated


@budget(120, DEADLINE_MS)
@given(HOSTILE_TEXT)
def test_emg_text_never_raises_and_reads_well_formed_diagnoses(text):
    reading = read_emg_text(text)
    assert reading.normal in (True, False, None)
    for r in reading.radiculopathies:
        assert r.certainty in (AFFIRMED, HEDGED)
        assert all(_root_ok(root) for root in r.roots), r.roots
        assert r.region in (None, "cervical", "thoracic", "lumbosacral", "lumbar", "sacral"), r.region
        assert len(r.sentence) <= CLIPPED
    for n in reading.neuropathies:
        assert n.certainty in (AFFIRMED, HEDGED) and len(n.sentence) <= CLIPPED
    if reading.normal:
        assert not any(r.certainty == AFFIRMED for r in reading.radiculopathies)
        assert not any(n.certainty == AFFIRMED for n in reading.neuropathies)
    if len(text) > 2 * MAX_TEXT_CHARS:
        assert reading.truncated


def _record(conclusion: str, attachment: str, condition_text: str, kind: str) -> tuple[PatientRecord, int]:
    """The record of one report and one condition, and how many reports it holds: a resource
    FHIR calls invalid (a string of only control characters, say) is skipped, as gathering does."""
    loinc = {"mri": ("30679-5", "MR Lumbar spine WO contrast"), "emg": ("18749-2", "Electromyogram study")}[kind]
    record = PatientRecord()
    for raw in (
        {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "subject": {"reference": "Patient/p"},
         "code": {"coding": [{"system": "http://loinc.org", "code": loinc[0], "display": loinc[1]}]},
         "effectiveDateTime": "2026-09-02", "conclusion": conclusion or "x",
         "presentedForm": [{"contentType": "text/plain",
                            "data": base64.b64encode(attachment.encode("utf-8", "surrogatepass")).decode()}]},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p"},
         "code": {"text": condition_text or "x"}, "note": [{"text": condition_text or "x"}]},
    ):
        try:
            record.add(read_resource(raw))
        except InvalidResource:
            pass
    return record, len(record.diagnostic_reports)


@budget(60, 3 * DEADLINE_MS)
@given(HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT, st.sampled_from(["mri", "emg"]))
def test_the_record_reader_never_raises_on_hostile_report_and_problem_text(conclusion, attachment, text, kind):
    # The whole path a hook call takes: report conclusion and attachment, condition text and note.
    record, held = _record(conclusion, attachment, text, kind)
    picture = read_record(record, VALUESETS, NOW)
    reports = picture.mri_reports if kind == "mri" else picture.emg_reports
    assert len(reports) + picture.unread_resources >= held  # read, or skipped and counted, never lost
    for report in reports:  # the text is read when the rules first ask
        assert report.reading.normal in (True, False, None)


# --- the fast matcher against a plain scan of every pattern --------------------------------

#: Real report sentences (the labelled corpus) and problem-list phrasing: concepts and cues in context.
_CORPUS = sorted({s.text for k in ("mri", "emg") for part in ("dev", "holdout") for r in load(k, part)
                  for s in split_sentences(normalise(r["text"])[0])})
#: Cue phrases the scanned (not prefix-indexed) patterns look for, and characters that change
#: length or meaning when lower-cased.
_INSERTS = ["is not seen", "are not clearly identified", "was not demonstrated", "isn't seen", ": no", ": none",
            "?", ", mild", ", there", "cannot be excluded", "no evidence of", "family history of",
            "4/5 strength", "weakness 3/5", "DM2", "hip fracture", "İ", "\u212a", "ß", "Σ", " ", ", ", "; "]


@st.composite
def _spliced_sentence(draw) -> str:
    """Two corpus sentences cut and joined, with cue phrases and odd characters put in anywhere."""
    a, b = draw(st.sampled_from(_CORPUS)), draw(st.sampled_from(_CORPUS))
    text = a[: draw(st.integers(0, len(a)))] + " " + b[draw(st.integers(0, len(b))):]
    for insert in draw(st.lists(st.sampled_from(_INSERTS), max_size=4)):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + " " + insert + " " + text[at:]
    return text


@budget(400)
@given(_spliced_sentence())
def test_fast_matching_finds_what_a_plain_scan_of_every_pattern_finds(text):
    # The word-start index, the prefix tables and the literal pre-tests only skip work:
    # every mention and cue, with its certainty, is the one a plain scan of every pattern gives.
    for lexicon in (MRI, EMG, CLINICAL):
        assert lexicon.mentions(text, fast=True) == lexicon.mentions(text, fast=False), text


_LINE_STARTS = ["", "", "IMPRESSION: ", "1. ", "- ", "L4-5: ", "History: ", "Dx:", "FHx: "]
_LINE_ENDS = ["", ".", ";", ":", " ", "?"]
#: Phrases the clinical reader knows, to be hard-wrapped at one of their spaces.
_PHRASES = ["low back pain", "neck pain radiating down the left arm", "carpal tunnel syndrome", "foot drop",
            "cauda equina syndrome", "saddle anesthesia", "urinary retention", "progressive weakness",
            "severe weakness", "history of metastatic cancer", "fracture of the L1 vertebra", "diabetic neuropathy"]
_WRAPPED = st.builds(lambda phrase, at, brk: phrase.replace(" ", brk, at) .replace(brk, " ", at - 1),
                     st.sampled_from(_PHRASES), st.integers(1, 3), st.sampled_from(["\n", " \n", "\n  "]))
#: A run over MAX_SENTENCE_CHARS with no space: the sentence is cut inside a word.
_RUN_ON = st.builds(lambda n, word: "x" * n + word, st.integers(250, 700),
                    st.sampled_from(["weakness", "radiculopathy", "DM", "sciatica", "numbness"]))


@st.composite
def _clinical_text(draw) -> str:
    """Problem-list labels and notes: spliced corpus sentences and lone words on hard-wrapped,
    headed, listed lines; sometimes long enough for a sentence to be cut."""
    pieces = draw(st.lists(_spliced_sentence() | _WRAPPED | _RUN_ON | st.sampled_from(_INSERTS), min_size=1, max_size=5))
    lines = [draw(st.sampled_from(_LINE_STARTS)) + p + draw(st.sampled_from(_LINE_ENDS)) for p in pieces]
    text = "".join(line + draw(st.sampled_from(["\n", "\n\n", " ", "\n "])) for line in lines)
    if draw(st.booleans()):
        text = text * draw(st.integers(2, 12))  # past MAX_SENTENCE_CHARS: sentences cut at spaces
    return text


@budget(400)
@given(_clinical_text())
def test_a_text_that_could_not_mention_a_concept_has_no_sentence_that_does(text):
    # could_mention lets the problem-list reader skip splitting a text; it may say True for a
    # text without mentions, but never False for one with a mention in any sentence.
    norm = normalise(text)[0]
    for lexicon in (CLINICAL, MRI, EMG):
        if not lexicon.could_mention(norm):
            for sentence in split_sentences(norm):
                assert not lexicon._matcher.find(sentence.text), (sentence.text, norm)
