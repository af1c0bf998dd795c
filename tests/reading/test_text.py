"""The sentence reader: negation, hedging, scope, sections, and safety on hostile text."""

from __future__ import annotations

import re

import pytest

from cds_service.reading import lexicon as lx
from cds_service.reading import read_emg_text, read_mri_text
from cds_service.reading.text import CLINICAL, EMG, MAX_TEXT_CHARS, MRI, normalise, split_sentences


def _certainty(lexicon, sentence, concept):
    found = [m.certainty for m in lexicon.mentions(sentence) if m.concept == concept]
    assert found, f"{concept} not found in {sentence!r}"
    return found[0]


@pytest.mark.parametrize(
    ("sentence", "concept", "certainty"),
    [
        # negation, before and after, and over a list
        ("No disc herniation.", "herniation", "negated"),
        ("Disc bulge without significant canal or foraminal stenosis.", "foraminal_stenosis", "negated"),
        ("Disc bulge without significant canal or foraminal stenosis.", "bulge", "affirmed"),
        ("No spinal canal stenosis, neural foraminal narrowing, or nerve root compression.", "root_compression", "negated"),
        ("Nerve root compression is not identified.", "root_compression", "negated"),
        ("Foraminal narrowing is not clearly seen.", "foraminal_stenosis", "negated"),
        ("There is no significant change in the disc bulge.", "bulge", "affirmed"),  # "no change" is not a negation
        # a terminator ends the reach of a cue
        ("No central stenosis, but moderate left foraminal stenosis.", "foraminal_stenosis", "affirmed"),
        ("No canal stenosis, mild bilateral foraminal narrowing.", "foraminal_stenosis", "affirmed"),
        ("No herniation and moderate bilateral foraminal stenosis.", "foraminal_stenosis", "affirmed"),
        # hedging
        ("Possible small protrusion at L5-S1.", "protrusion", "hedged"),
        ("Cord compression cannot be excluded.", "cord_compression", "hedged"),
        ("Small protrusion versus bulge.", "bulge", "hedged"),
        ("Small protrusion versus bulge.", "protrusion", "hedged"),
        ("A protrusion which may contact the L5 nerve root.", "root_contact", "hedged"),
        ("Consistent with a left paracentral protrusion.", "protrusion", "affirmed"),
    ],
)
def test_mri_cues(sentence, concept, certainty):
    assert _certainty(MRI, sentence, concept) == certainty


@pytest.mark.parametrize(
    ("sentence", "concept", "certainty"),
    [
        ("No electrodiagnostic evidence of a left lumbosacral radiculopathy.", "radiculopathy", "negated"),
        ("A normal study does not exclude a purely sensory radiculopathy.", "radiculopathy", "hedged"),
        ("Early radiculopathy cannot be excluded.", "radiculopathy", "hedged"),
        ("Radiculopathy is not excluded.", "radiculopathy", "hedged"),
        ("Findings are suggestive of a mild polyneuropathy.", "polyneuropathy", "hedged"),
        ("No fibrillations or positive sharp waves were seen.", "active_denervation", "negated"),
        ("Fibrillations and positive sharp waves were not observed.", "active_denervation", "negated"),
        ("Chronic left L5 radiculopathy without active denervation.", "active_denervation", "negated"),
        ("Chronic left L5 radiculopathy without active denervation.", "radiculopathy", "affirmed"),
        ("Left L5 radiculopathy versus lumbosacral plexopathy.", "plexopathy", "hedged"),
        ("Normal ulnar studies, which argues against ulnar neuropathy.", "ulnar_neuropathy", "negated"),
        ("Left peroneal neuropathy; no evidence of radiculopathy.", "peroneal_neuropathy", "affirmed"),
    ],
)
def test_emg_cues(sentence, concept, certainty):
    assert _certainty(EMG, sentence, concept) == certainty


@pytest.mark.parametrize(
    ("sentence", "concept", "certainty"),
    [
        ("Denies saddle anesthesia.", "saddle_anesthesia", "negated"),
        ("Saddle anesthesia: no", "saddle_anesthesia", "negated"),
        ("Hoffmann sign negative bilaterally.", "hoffmann_sign", "negated"),
        ("Positive Hoffmann sign on the right.", "hoffmann_sign", "affirmed"),
        ("Family history of colon cancer.", "malignancy", "other"),
        ("Breast cancer in her mother.", "malignancy", "other"),
        ("History of breast cancer, s/p mastectomy 2015.", "malignancy", "affirmed"),
        ("Rule out cauda equina syndrome.", "cauda_equina", "hedged"),
        ("New urinary retention since yesterday.", "urinary_retention", "affirmed"),
        # Lay words for the cauda equina signs, as a note quotes the patient.
        ("Since yesterday numb in the saddle area.", "saddle_anesthesia", "affirmed"),
        ("Unable to pass urine since this morning.", "urinary_retention", "affirmed"),
        ("He cannot empty his bladder.", "urinary_retention", "affirmed"),
        # The grammar, not a phrase list: any way of saying the patient cannot pass urine, and numbness
        # of the saddle by its lay names.
        ("She has not been able to pass urine since this morning.", "urinary_retention", "affirmed"),
        ("He hasn't urinated for 14 hours.", "urinary_retention", "affirmed"),
        ("No longer able to empty her bladder.", "urinary_retention", "affirmed"),
        ("New numbness between the legs.", "saddle_anesthesia", "affirmed"),
        ("Her genitals feel numb since yesterday.", "saddle_anesthesia", "affirmed"),
        ("She cannot feel the toilet paper when wiping.", "saddle_anesthesia", "affirmed"),
        ("Denies numbness between the legs.", "saddle_anesthesia", "negated"),
        ("Numbness around the back passage since Monday.", "saddle_anesthesia", "affirmed"),
        ("She wets herself without noticing.", "urinary_incontinence", "affirmed"),
        ("Leaking urine since yesterday.", "urinary_incontinence", "affirmed"),
        # The course after the limbs it names: "weakness of both legs, worsening".
        ("Weakness of both legs, worsening over the last two days.", "progressive_weakness", "affirmed"),
        ("Weakness in the right arm that has been getting worse.", "progressive_weakness", "affirmed"),
        # An assessment that ends in exclusion negates the diagnosis it names.
        ("Cauda equina syndrome was considered and excluded on examination.", "cauda_equina", "negated"),
        ("Cauda equina syndrome suspected but excluded by a normal exam.", "cauda_equina", "negated"),
        ("Cauda equina syndrome excluded clinically.", "cauda_equina", "negated"),
        ("Cauda equina syndrome cannot be excluded.", "cauda_equina", "hedged"),
        ("Cauda equina syndrome not excluded.", "cauda_equina", "hedged"),
    ],
)
def test_clinical_cues(sentence, concept, certainty):
    assert _certainty(CLINICAL, sentence, concept) == certainty


@pytest.mark.parametrize(
    "sentence",
    ["Colon cancer screening, due 2027.", "CES-D score 12.", "Exercise tolerance 4 METs.", "Afebrile overnight.",
     # One buttock or thigh is sciatica's territory, not the saddle; being able to pass urine is no retention.
     "Numbness of the right buttock and posterior thigh.", "Able to pass urine normally.",
     "Numbness of the inner thigh."],
)
def test_look_alikes_are_not_red_flags(sentence):
    concepts = {m.concept for m in CLINICAL.mentions(sentence)}
    assert not concepts & {"malignancy", "metastasis", "cauda_equina", "fever", "saddle_anesthesia", "urinary_retention"}


def test_sections_and_level_headings():
    text = "HISTORY: rule out disc herniation\nFINDINGS:\nL4-5: Mild bulge.\nNo stenosis.\n\nConus: normal.\nIMPRESSION: Mild L4-5 bulge."
    sentences = split_sentences(normalise(text)[0])
    assert [(s.section, s.heading) for s in sentences] == [
        ("history", None),
        ("findings", "L4-5"),
        ("findings", "L4-5"),
        ("findings", None),
        ("impression", None),
    ]


def test_hard_wrapped_lines_are_joined():
    sentences = split_sentences("There is no electrodiagnostic evidence of\na left L5 radiculopathy.")
    assert len(sentences) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  ",
        "The patient had pizza for lunch.",
        "Please correlate clinically. Report called to the ordering provider.",
        "Comparison: none. Technique: sagittal T1 and T2 weighted images.",
        "HISTORY: left L5 radiculopathy, rule out disc herniation at L4-5.",  # history is not a finding
        "L4-5 L5-S1 C5-6",  # levels only
    ],
)
def test_text_without_findings_gives_none(text):
    mri = read_mri_text(text)
    emg = read_emg_text(text)
    assert (mri.findings, mri.negated, mri.normal, mri.multilevel) == ((), (), None, False)
    assert (emg.radiculopathies, emg.neuropathies, emg.normal) == ((), (), None)
    assert (emg.active_denervation, emg.chronic_reinnervation) == (None, None)


@pytest.mark.parametrize(
    "text",
    [
        "no " * 200_000,
        "L4-5 " * 100_000,
        "a" * 1_000_000,
        ("protrusion, " * 5_000) + "contacting the " + ("left " * 5_000) + "nerve root",
        "(" * 50_000 + "stenosis" + ")" * 50_000,
        "\n" * 200_000,
        "foraminal " * 60_000 + "x",
        "L" + "4-" * 100_000 + "5",
        "\u200b\u2013\u00a0" * 100_000,
    ],
)
def test_hostile_text_is_read_in_bounded_work(text):
    # No time assertion: the bound is structural (text cut to MAX_TEXT_CHARS, sentences cut,
    # patterns without nested unbounded repetition); this must simply finish and stay sane.
    mri = read_mri_text(text)
    emg = read_emg_text(text)
    assert mri.truncated == emg.truncated == (len(text) > MAX_TEXT_CHARS)
    assert len(mri.findings) <= MAX_TEXT_CHARS


def _lexicon_patterns():
    for name, alts in {**lx.MRI_CONCEPTS, **lx.EMG_CONCEPTS, **lx.CLINICAL_CONCEPTS}.items():
        for alt in alts:
            yield name, alt
    for group in (lx.NEGATION_PRE, lx.NEGATION_POST, lx.HEDGE_PRE, lx.HEDGE_POST, lx.EXPERIENCER_PRE, lx.EXPERIENCER_POST):
        for alt, _ in group:
            yield "cue", alt
    for alt in lx.PSEUDO + lx.TERMINATORS + lx.CLINICAL_BLOCKERS:
        yield "cue", alt


# A group followed by *, + or {n,} -- nested unbounded repetition, the usual cause of
# catastrophic backtracking -- and "any character" runs.
_UNBOUNDED_GROUP = re.compile(r"\)(?:[*+]|\{\d+,\})")
_ANY_RUN = re.compile(r"(?<!\\)\.[*+]")


@pytest.mark.parametrize(("name", "pattern"), list(_lexicon_patterns()))
def test_lexicon_patterns_have_no_unbounded_nested_repetition(name, pattern):
    assert not _UNBOUNDED_GROUP.search(pattern), (name, pattern)
    assert not _ANY_RUN.search(pattern), (name, pattern)
    re.compile(pattern)


def _corpus_sentences():
    from .corpus_scoring import load

    texts = [r["text"] for k in ("mri", "emg") for s in ("dev", "holdout") for r in load(k, s)]
    texts += ["Denies saddle anesthesia, bowel and bladder incontinence.", "FHx: mother with breast cancer; pt with L1 fx after MVC",
              "Type 2 DM with diabetic peripheral neuropathy; s/p AICD", "Progressive weakness, 3/5 strength; Hoffmann sign: negative"]
    return [s.text for t in texts for s in split_sentences(normalise(t)[0])]


@pytest.mark.parametrize("lexicon", [MRI, EMG, CLINICAL], ids=["mri", "emg", "clinical"])
def test_fast_matching_gives_the_same_mentions_as_a_plain_scan(lexicon):
    for sentence in _corpus_sentences():
        assert lexicon.mentions(sentence, fast=True) == lexicon.mentions(sentence, fast=False), sentence


@pytest.mark.parametrize("text", [
    "x" * 600 + "weakness",  # one sentence over MAX_SENTENCE_CHARS, cut where "weakness" begins
    "Reports saddle\nanesthesia",  # hard-wrapped: the reader joins the lines
    "History: cauda\n  equina syndrome; no fever",
    "Type 2 DM with neuropathy",
])
def test_a_text_with_a_mention_in_a_sentence_could_mention_one(text):
    norm = normalise(text)[0]
    assert any(CLINICAL.mentions(s.text) for s in split_sentences(norm))  # the premise
    assert CLINICAL.could_mention(norm)


@pytest.mark.parametrize("text", ["Essential (primary) hypertension", "Heart rate", "Asthma, uncomplicated"])
def test_a_label_naming_nothing_we_read_could_not_mention_a_concept(text):
    assert not CLINICAL.could_mention(normalise(text)[0])
