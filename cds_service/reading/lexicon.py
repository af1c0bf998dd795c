"""The reader's words: concept patterns and context cues, as data.

Each concept is a list of regular-expression alternatives, matched
case-insensitively as whole words. Rules for editing (a test enforces them):
no ``.*``/``.+``, and no group repeated without a bound -- use ``GAP(n)``
for "up to n words" -- so matching stays linear in the text length.

Cue lists pair a pattern with its reach in words. Sources: the cue families
of NegEx/ConText (Chapman 2001, Harkema 2009) adapted to spine MRI and EMG
report language (Fardon 2014 nomenclature; clinical-codes.md section 4).
"""

from __future__ import annotations


def GAP(n: int) -> str:
    """Up to ``n`` whole words (with an optional trailing comma) -- a bounded gap that does not
    step over a negation or a clause break ("flattening without cord ..." is not one phrase)."""
    return r"(?:(?!(?:no|not|without|but|however|although|which)\b)[\w'/-]+,?\s+){0,%d}" % n


# --- report sections ------------------------------------------------------------

#: Section names (lower case) a report may use. Sections in SKIPPED_SECTIONS
#: describe why the test was done or how, not what it found.
SECTION_NAMES = frozenset(
    {
        "history", "clinical history", "clinical information", "clinical indication", "clinical data",
        "indication", "indications", "reason for exam", "reason for study", "reason for referral", "reason",
        "comparison", "comparisons", "technique", "procedure", "exam", "examination", "protocol", "contrast",
        "findings", "impression", "impressions", "conclusion", "conclusions", "summary", "interpretation",
        "result", "results", "assessment", "diagnosis", "opinion", "comment", "comments",
        "nerve conduction studies", "nerve conduction study", "ncs", "needle emg", "emg", "needle examination",
        "electromyography", "emg findings", "ncs findings", "summary of findings", "addendum",
        "family history", "fh", "past medical history", "pmh", "social history", "problem list", "medications",
    }
)  # fmt: skip
SKIPPED_SECTIONS = frozenset(
    {
        "history", "clinical history", "clinical information", "clinical indication", "clinical data",
        "indication", "indications", "reason for exam", "reason for study", "reason for referral", "reason",
        "comparison", "comparisons", "technique", "procedure", "exam", "examination", "protocol", "contrast",
    }
)  # fmt: skip
#: Topic headings inside FINDINGS that end a level paragraph.
TOPIC_NAMES = frozenset(
    {"alignment", "conus", "conus medullaris", "vertebrae", "vertebral bodies", "bone marrow", "marrow",
     "spinal cord", "cord", "paraspinal soft tissues", "soft tissues", "other", "other findings", "disc levels",
     "discs", "levels"}
)  # fmt: skip

# --- context cues -----------------------------------------------------------------

NEGATION_PRE: list[tuple[str, int]] = [
    (r"no", 12),
    (r"not", 8),
    (r"without", 12),
    (r"negative for", 12),
    (r"no (?:\w+ ){0,2}evidence (?:of|for|to suggest)", 14),
    (r"without (?:\w+ ){0,2}evidence (?:of|for)", 14),
    (r"no signs? of", 12),
    (r"free of", 8),
    (r"absence of", 10),
    (r"absent", 3),
    (r"den(?:y|ies|ied)", 10),
    (r"denying", 10),
    (r"never", 6),
    (r"neither", 8),
    (r"nor", 4),
    (r"resolution of", 8),
    (r"resolved", 3),
    (r"rules out", 8),
    (r"(?:is |are |was |were )?not (?:consistent|compatible) with", 10),
    (r"(?:argues?|arguing) against", 10),
    (r"(?:does|do|did) not (?:show|reveal|demonstrate|suggest|support)", 10),
    (r"(?:fails?|failed) to (?:show|reveal|demonstrate)", 10),
    (r"normal", 2),
]
NEGATION_POST: list[tuple[str, int]] = [
    (r"(?:is|are|was|were)?\s*(?:not|n't) (?:clearly |definitely |well |convincingly )?(?:seen|identified|present|demonstrated|evident|noted|visualized|appreciated|found|detected|elicited|observed)", 6),
    (r"(?:is|are|was|were) absent", 6),
    (r"absent", 3),
    (r"(?:has|have) resolved", 6),
    (r"resolved", 2),
    (r"(?:is|are|was|were) (?:excluded|ruled out)", 6),
    (r"ruled out", 4),
    # "considered and excluded", "suspected but excluded": the assessment ended in exclusion.
    (r"(?:(?:is|are|was|were) )?(?:considered|suspected|assessed|evaluated|queried) (?:and|but) (?:excluded|ruled out)", 6),
    (r"excluded", 3),
    (r"(?:is|are|was|were) negative", 5),
    (r"negative", 3),
    (r": ?(?:no|none|negative|absent|denies|denied|nil)", 1),
    (r"(?:is|are|was|were) (?:normal|unremarkable)", 3),
    (r"none", 2),
]
HEDGE_PRE: list[tuple[str, int]] = [
    (r"possible", 8),
    (r"possibly", 8),
    (r"probable", 8),
    (r"probably", 8),
    (r"(?:most )?likely", 8),
    (r"presumed", 6),
    (r"(?:may|might|could) (?:represent|reflect|be|indicate|suggest|have|contribute)", 8),
    (r"(?:may|might|could)(?! not)", 3),
    (r"favou?r(?:ing|s)", 6),
    (r"questionable", 6),
    (r"question of", 6),
    (r"suspicious (?:for|of)", 8),
    (r"suspect(?:ed)?", 6),
    (r"suspicion (?:for|of)", 8),
    (r"(?:findings |features )?suggestive of", 10),
    (r"suggest(?:s|ing)?", 8),
    (r"concern(?:ing)? for", 8),
    (r"(?:cannot|can ?not|could not) (?:exclude|rule out)", 10),
    (r"(?:does|do|would|did) not (?:exclude|rule out|preclude)", 12),
    (r"(?:not|nor) (?:exclude|rule out)", 8),
    (r"rule out", 6),
    (r"r/o", 6),
    (r"evaluat(?:e|ion) (?:for|of)", 6),
    (r"assess for", 6),
    # Limited scope: "this study cannot assess a purely sensory radiculopathy".
    (r"(?:cannot|can ?not|could not|does not|do not|did not|would not|(?:is|are|was|were) (?:not able|unable) to) (?:assess|evaluate|detect|test)(?: for)?", 10),
    (r"(?:emg|study|studies|test|testing|examination) (?:is |are )?(?:relatively )?(?:insensitive|not sensitive) (?:to|for)", 8),
    (r"equivocal(?: for)?", 6),
    (r"borderline", 4),
    (r"indeterminate", 4),
    (r"differential (?:diagnosis )?(?:includes?|considerations? include)", 10),
    (r"versus", 4),
    (r"vs\.?", 4),
    (r"\?", 2),
]
HEDGE_POST: list[tuple[str, int]] = [
    (r"(?:cannot|can ?not|could not) be (?:entirely |completely |definitely )?(?:excluded|ruled out)", 8),
    (r"(?:is|are) not (?:entirely |completely )?(?:excluded|ruled out)", 8),
    (r"not (?:excluded|ruled out)", 6),
    # Limited scope: "a purely sensory radiculopathy is not assessed by this study".
    (r"(?:is|are|was|were) not (?:assessed|evaluated|tested|examined|studied|addressed)(?: (?:by|with|in|on))?", 8),
    (r"(?:cannot|can ?not|could not) be (?:assessed|evaluated|detected|tested)(?: (?:by|with|in|on))?", 8),
    (r"not (?:assessed|evaluated)", 4),
    (r"(?:would|will|may|might|could|can) not be (?:detected|assessed|evaluated|identified|seen|excluded)(?: (?:by|with|in|on))?", 8),
    (r"(?:is|are|was|were|lies|lie) (?:beyond|outside) the scope of", 6),
    (r"(?:is|are|was) (?:possible|suspected|questioned|likely|probable|favored|favoured|considered)", 4),
    (r"versus", 3),
    (r"vs\.?", 3),
    (r"\?", 1),
    # "Right S1 radiculopathy, suspected": a trailing qualifier of a problem-list entry.
    (r"(?:suspected|presumed|probable|possible|questionable)(?=\s*(?:[,.;)]|$))", 3),
]
#: Phrases that look like cues but are not ("no change" says nothing about absence).
PSEUDO: list[str] = [
    r"no (?:significant |interval |appreciable )?change",
    r"not (?:significantly )?changed",
    r"without (?:interval |significant )?change",
    r"not only",
    r"no further",
    r"not necessarily",
    r"gram negative",
    r"no increase",
    r"not been",
    r"normal (?:or|to) (?:mild|minimal)",
]
#: Phrases that end a cue's reach.
TERMINATORS: list[str] = [
    r"but", r"however", r"although", r"though", r"except(?: for)?", r"apart from", r"aside from",
    r"which", r"whereas", r"while", r"yet", r"with the exception of", r"other than", r"besides",
    r"nevertheless", r"instead", r"otherwise",
    # A comma or "and" that opens a new positive clause: ", mild ...", ", there is ...".
    r",\s*(?=(?:mild|mildly|moderate|moderately|severe|severely|minimal|marked|small|large|there|with|a|an|this|these|it|probable|possible|likely|consistent|chronic|active|acute|findings)\b)",
    r"and (?=(?:mild|moderate|severe|minimal|marked|there|a|an)\b)",
    r"consistent with",
    r"compatible with",
    r"in keeping with",
]  # fmt: skip
EXPERIENCER_PRE: list[tuple[str, int]] = [
    (r"family (?:history|hx)(?: of)?", 10),
    (r"fhx?", 8),
    (r"(?:mother|father|sister|brother|aunt|uncle|grandmother|grandfather|son|daughter|sibling|parent|cousin|husband|wife|spouse)(?:'s)?(?: (?:has|had|with|died of|passed away from))?", 6),
]
EXPERIENCER_POST: list[tuple[str, int]] = [
    (r"in (?:her|his|their|a|the patient's) (?:mother|father|sister|brother|aunt|uncle|grandmother|grandfather|son|daughter|sibling|parent|cousin|family)", 6),
]

# --- attributes (side, severity, zone) --------------------------------------------

SIDE_BILATERAL = r"bilateral(?:ly)?|both sides|both|b/l|bilat|(?:left|right) (?:greater|more) than (?:right|left)|[lr]\s?>\s?[rl]|left and right|right and left"
SIDE_LEFT = r"left(?:[- ]sided)?|lt"
SIDE_RIGHT = r"right(?:[- ]sided)?|rt"
#: Severity words and the scale step they mean.
SEVERITY: list[tuple[str, str]] = [
    (r"mild(?:ly)?[- ](?:to[- ])?moderate(?:ly)?", "mild-moderate"),
    (r"moderate(?:ly)?[- ](?:to[- ])?severe(?:ly)?", "moderate-severe"),
    (r"mild(?:ly)?|minimal(?:ly)?|slight(?:ly)?|minor|tiny|small", "mild"),
    (r"moderate(?:ly)?", "moderate"),
    (r"severe(?:ly)?|marked(?:ly)?|advanced|high[- ]grade|critical|profound|significant(?:ly)?|large|massive", "severe"),
]
SEVERITY_ORDER = ("mild", "mild-moderate", "moderate", "moderate-severe", "severe")
ZONES: list[tuple[str, str]] = [
    (r"extra[- ]?foraminal|far[- ]lateral", "extraforaminal"),
    (r"(?:neuro)?foraminal", "foraminal"),
    (r"subarticular|lateral recess", "subarticular"),
    (r"paracentral|paramedian|posterolateral", "paracentral"),
    (r"central|midline|broad[- ]based|circumferential|diffuse", "central"),
]

# --- MRI report concepts ---------------------------------------------------------------

_ROOT = r"(?:nerve\s+)?roots?"
_FORAMEN = r"(?:neuro)?(?:neural\s+)?foram(?:en|ina)"
_STENOSIS_WORD = r"(?:stenosis|narrowing|encroachment|compromise)"
MRI_CONCEPTS: dict[str, list[str]] = {
    "disc_osteophyte": [
        r"dis[ck][- ]osteophyte(?:s)?(?: complex(?:es)?| ridg(?:e|es|ing)| bars?)?",
        r"osteophyte[- ]dis[ck] complex(?:es)?",
        r"(?:spondylotic|osteophytic|uncovertebral) (?:ridg(?:e|es|ing)|bars?)",
    ],
    "bulge": [r"bulg(?:e|es|ing)"],
    "protrusion": [r"protru(?:sion|sions|ding|des)"],
    "extrusion": [r"extru(?:sion|sions|ded|des)", r"sequest(?:ration|ered)", r"(?:free|migrated|sequestered) (?:dis[ck] )?fragments?"],
    "herniation": [r"herniat(?:ion|ions|ed|ing)", r"hnp", r"herniated nucleus pulposus"],
    "central_stenosis": [
        r"(?:central\s+|spinal\s+)?canal\s+" + _STENOSIS_WORD,
        r"(?:central|spinal)\s+(?:canal\s+)?stenosis",
        r"thecal sac (?:narrowing|compression|stenosis)",
        r"(?:narrowing|stenosis|compromise) of the (?:spinal |central )?(?:canal|thecal sac)",
        r"(?:spinal |central )?canal (?:is|was) " + GAP(1) + r"(?:narrowed|stenotic|compromised)",
        r"compress(?:es|ing|ion of) (?:the )?thecal sac",
        r"(?:(?:central|spinal) )?canal(?=\s*(?:,|and|or|/)\s+" + GAP(4) + r"(?:stenosis|narrowing|compromise))",
        r"central(?=\s*(?:,|and|or|/)\s+" + GAP(3) + r"(?:foraminal|recess)\s+" + GAP(1) + r"(?:stenosis|narrowing))",
    ],
    "foraminal_stenosis": [
        r"(?:neuro)?(?:neural\s+)?foramin(?:al|a)\s+" + _STENOSIS_WORD,
        r"(?:narrowing|stenosis|compromise|encroachment) (?:of|upon|on) the " + GAP(3) + _FORAMEN,
        _FORAMEN + r"\s+(?:is|are|was|were)\s+" + GAP(2) + r"(?:narrowed|stenotic|compromised|encroached)",
        r"narrow(?:s|ing|ed)? (?:the )?" + GAP(2) + _FORAMEN,
        r"(?:neuro)?(?:neural\s+)?foraminal(?=\s*(?:,|and|or|/)\s+" + GAP(4) + r"(?:stenosis|narrowing|compromise))",
        r"(?:neuro)?foraminal(?=\s+and\s+" + GAP(2) + r"(?:central|canal))",
    ],
    "lateral_recess_stenosis": [
        r"(?:lateral|subarticular)\s+recess(?:es)?\s+" + _STENOSIS_WORD,
        r"(?:narrowing|stenosis|compromise|effacement) of the " + GAP(2) + r"(?:lateral|subarticular) recess(?:es)?",
        r"(?:lateral|subarticular) recess(?:es)? (?:is|are|was|were) " + GAP(2) + r"(?:narrowed|stenotic|effaced|compromised)",
        r"(?:lateral|subarticular) recess(?:es)?(?=\s*(?:,|and|or|/)\s+" + GAP(4) + r"(?:stenosis|narrowing))",
    ],
    "stenosis_unspecified": [r"stenosis", r"stenotic"],
    "root_compression": [
        r"(?:compress(?:es|ing|ed)?|impinge(?:s|d)?|impinging|displac(?:es|ing|ed)|deflect(?:s|ing|ed)|deform(?:s|ing|ed)|entrap(?:s|ping|ped)|(?:with )?mass effect (?:on|upon))\s+(?:upon\s+|on\s+)?(?:the\s+)?" + GAP(6) + _ROOT,
        r"(?:nerve\s+)?roots?\s+(?:compression|impingement|displacement|entrapment|deformity|deviation)",
        r"(?:compression|impingement|displacement|deformity|entrapment|deviation) (?:of|on|upon) the " + GAP(6) + _ROOT,
        r"(?:nerve\s+)?roots?\s+(?:is|are|was|were)\s+" + GAP(1) + r"(?:compressed|impinged|displaced|deflected|deformed|entrapped|effaced)",
        r"(?<=contact or )(?:compression|impingement)",
        r"(?<=contact and )(?:compression|impingement)",
        r"(?<=contact/)(?:compression|impingement)",
    ],
    "root_contact": [
        r"(?:contact(?:s|ing)?|abut(?:s|ting)?|touch(?:es|ing)?|approach(?:es|ing)?|affect(?:s|ing)?|abutment of|contact with|abuts? upon|encroach(?:es|ing)? (?:up)?on)\s+(?:upon\s+)?(?:the\s+)?" + GAP(6) + _ROOT,
        r"(?:nerve\s+)?roots?\s+(?:contact|abutment)",
        r"(?:nerve\s+)?roots?\s+(?:is|are|was|were)\s+" + GAP(1) + r"(?:contacted|abutted|touched)",
    ],
    "cord_compression": [
        r"(?:spinal\s+)?cord\s+(?:compression|flattening|deformity|deformation|impingement|effacement)",
        r"(?:compress(?:es|ing|ion of)|flatten(?:s|ing|ed)?|deform(?:s|ing|ity of)|impinge(?:s|ment on|ment upon|s upon|s on)|effac(?:es|ing|ement of)|mass effect (?:on|upon)) (?:the )?" + GAP(2) + r"(?:spinal )?cord",
    ],
    "cord_contact": [
        r"(?:spinal )?cord (?:contact|abutment|indentation)",
        r"(?:abut(?:s|ting)?|contact(?:s|ing)?|touch(?:es|ing)?|indent(?:s|ing|ation of)?) (?:the )?" + GAP(2) + r"(?:spinal )?cord",
    ],
    "cord_signal": [
        r"myelomalacia",
        r"(?:abnormal |increased |t2 )?cord (?:signal|edema)(?: abnormality| change| changes| intensity)?",
        r"(?:t2 )?(?:signal abnormality|hyperintensity|increased signal|signal change) (?:within|in|of) the (?:\w+ )?(?:spinal )?cord",
        r"intramedullary (?:t2 )?(?:signal|hyperintensity|edema)",
    ],
    "disc_degeneration": [
        r"degenerat(?:ive|ion|ed)\s+dis[ck](?:s)?(?:\s+disease)?",
        r"dis[ck]\s+degenerat(?:ion|ive changes?)",
        r"dis[ck]\s+desiccation",
        r"desiccat(?:ed|ion)",
        r"ddd",
        r"loss of (?:normal )?(?:dis[ck] )?(?:height|signal)(?: and (?:height|signal))?",
        r"dis[ck] (?:height loss|space (?:narrowing|loss)|space is narrowed)",
        r"dis[ck] height is " + GAP(1) + r"(?:decreased|reduced|diminished|narrowed|lost)",
    ],
    "facet_arthropathy": [
        r"facet(?:\s+joint)?s?\s+(?:arthropathy|arthrosis|hypertrophy|degeneration|osteoarthritis|arthritis|degenerative changes?|disease|effusions?)",
        r"(?:hypertrophic|degenerative) (?:changes (?:of|in) the )?facets?(?: joints?)?",
        r"facet and ligamentum flavum hypertrophy",
        r"(?:facet|zygapophyseal) (?:joint )?(?:arthropathy|hypertrophy)",
    ],
    "annular_fissure": [r"annular (?:fissure|tear)s?", r"high[- ]intensity zone", r"hiz"],
    "spondylolisthesis": [r"(?:antero|retro|spondylo)?listhesis"],
    "spondylosis": [r"spondylosis", r"spondylotic changes?", r"degenerative changes?"],
    "multilevel": [r"multi[- ]?level", r"(?:at|involving) (?:multiple|several|numerous) levels", r"multisegmental"],
    "normal_study": [
        r"(?:normal|unremarkable|negative)\s+(?:mri|mr|study|exam|examination|scan)",
        r"(?:normal|unremarkable)\s+(?:mri |mr )?(?:of\s+the\s+)?(?:cervical|thoracic|lumbar|lumbosacral|c|t|l)[- ]?spine",
        r"(?:mri|mr|study|exam|examination|scan)(?: of the (?:cervical|thoracic|lumbar|lumbosacral) spine)? (?:is|was) (?:normal|unremarkable|negative|within normal limits)",
        r"no (?:significant )?(?:abnormalit(?:y|ies)|abnormal findings)",
        r"within normal limits",
    ],
}
#: MRI concepts that narrow the space around a root or the cord (for "levels with findings").
MRI_COMPRESSIVE = frozenset(
    {"bulge", "disc_osteophyte", "protrusion", "extrusion", "herniation", "central_stenosis", "foraminal_stenosis",
     "lateral_recess_stenosis", "root_contact", "root_compression", "cord_compression", "cord_contact"}
)  # fmt: skip
#: Concepts that are not findings but report-level signals.
MRI_SIGNALS = frozenset({"multilevel", "normal_study"})

# --- EMG/NCS report concepts ------------------------------------------------------------

_MONO = r"(?:mono)?neuropath(?:y|ies)"
EMG_CONCEPTS: dict[str, list[str]] = {
    "radiculopathy": [
        r"(?:poly)?radiculopath(?:y|ies|ic)",
        r"(?:nerve\s+)?root\s+(?:lesion|injury|involvement|compromise|irritation)",
        r"radicular (?:process|lesion|injury|involvement)",
    ],
    "carpal_tunnel": [
        r"carpal tunnel(?: syndrome)?",
        r"cts",
        r"median " + _MONO + r" (?:at|across|of) (?:the |both )?(?:(?:left|right|bilateral) )?wrists?",
        r"median nerve (?:entrapment|compression|lesion) at (?:the |both )?(?:(?:left|right|bilateral) )?wrists?",
    ],
    "ulnar_neuropathy": [
        r"ulnar " + _MONO + r"(?: (?:at|across) the (?:(?:left|right) )?elbows?)?",
        r"cubital tunnel(?: syndrome)?",
        r"ulnar nerve (?:entrapment|compression|lesion)(?: at the (?:(?:left|right) )?elbows?)?",
    ],
    "peroneal_neuropathy": [
        # "common fibular (peroneal) neuropathy": the report names the nerve both ways.
        r"(?:common )?(?:peroneal|fibular)(?: \((?:common )?(?:peroneal|fibular)\))? " + _MONO
        + r"(?: (?:at|across) the (?:(?:left|right) )?fibular head)?",
        r"(?:peroneal|fibular)(?: \((?:common )?(?:peroneal|fibular)\))? nerve (?:palsy|entrapment|compression|lesion|injury)",
        r"(?:peroneal|fibular) palsy",
    ],
    "tarsal_tunnel": [r"tarsal tunnel(?: syndrome)?", r"tibial " + _MONO + r" at the ankle"],
    "radial_neuropathy": [r"radial " + _MONO, r"radial nerve (?:palsy|lesion|injury)"],
    "meralgia_paresthetica": [r"meralgia paresthetica", r"lateral femoral cutaneous " + _MONO],
    "polyneuropathy": [
        r"polyneuropath(?:y|ies)",
        r"peripheral neuropath(?:y|ies)",
        r"(?:length[- ]dependent|sensorimotor|axonal|demyelinating|large[- ]fiber|small[- ]fiber|diabetic) " + GAP(3) + r"neuropath(?:y|ies)",
        r"cidp",
        r"guillain[- ]barr[eé](?: syndrome)?",
    ],
    "plexopathy": [
        r"plexopath(?:y|ies)",
        r"plexitis",
        r"brachial neuritis",
        r"parsonage[- ]turner(?: syndrome)?",
        r"neuralgic amyotrophy",
        r"radiculoplexus neuropath(?:y|ies)",
        r"diabetic amyotrophy",
    ],
    "myopathy": [r"myopath(?:y|ies)", r"myopathic (?:process|disorder|disease|myopathy)", r"myositis"],
    "motor_neuron_disease": [r"motor neuron disease", r"amyotrophic lateral sclerosis", r"als"],
    "nmj_disorder": [r"myasthenia(?: gravis)?", r"neuromuscular junction (?:disorder|transmission defect)", r"lambert[- ]eaton"],
    "active_denervation": [
        r"fibrillation(?:s| potentials?)?",
        r"fibs",
        r"positive sharp(?: waves?)?",
        r"psws?",
        r"(?:active|acute|ongoing|subacute|recent) (?:denervation|axonal loss|motor axon loss)",
        r"membrane instability",
        r"(?:abnormal )?spontaneous activity",
        r"denervation potentials",
        r"(?:active|acute|ongoing)(?= and chronic (?:denervation|neurogenic|changes|motor axon loss))",
        r"denervation",
    ],
    "chronic_reinnervation": [
        r"(?:chronic\s+)?reinnervation(?: changes)?",
        r"chronic (?:neurogenic|denervation|motor axon loss|axonal)(?: changes| findings)?",
        r"neurogenic (?:motor unit(?: action potential)?|muap|mup)s?(?: changes)?",
        r"neurogenic (?:changes|recruitment)",
        r"(?:large|increased|high)[- ]amplitude,? (?:long|increased|prolonged)[- ]duration",
        r"polyphasic (?:muap|mup|motor unit)s?",
        r"chronic changes",
    ],
    "normal_study": [
        r"(?:normal|unremarkable|negative)\s+(?:electrodiagnostic|electrophysiologic(?:al)?|emg(?:/ncs)?|ncs(?:/emg)?|nerve conduction|needle|electromyograph\w*)(?:\s+(?:and|/)\s+(?:needle )?(?:emg|ncs|nerve conduction)(?: stud(?:y|ies))?)?(?:\s+(?:study|studies|exam|examination|evaluation|testing|test))?",
        r"normal (?:study|studies|examination|exam|test)",
        r"(?:this|the) (?:electrodiagnostic )?(?:study|examination|exam|test|evaluation) (?:is|was) (?:normal|within normal limits|unremarkable)",
        r"no (?:significant )?(?:electrodiagnostic|electrophysiologic(?:al)?|emg) (?:abnormalit(?:y|ies)|evidence of (?:neuromuscular )?(?:disease|abnormality))",
        r"within normal limits",
    ],
    "abnormal_study": [
        r"abnormal\s+(?:electrodiagnostic|electrophysiologic(?:al)?|emg(?:/ncs)?|ncs|needle|nerve conduction|study|examination|exam|evaluation)",
        r"(?:study|examination|exam|evaluation) (?:is|was) abnormal",
    ],
}
EMG_MIMICS = (
    "carpal_tunnel", "ulnar_neuropathy", "peroneal_neuropathy", "tarsal_tunnel", "radial_neuropathy",
    "meralgia_paresthetica", "polyneuropathy", "plexopathy", "myopathy", "motor_neuron_disease", "nmj_disorder",
)  # fmt: skip
REGION_WORDS: list[tuple[str, str]] = [
    (r"cervicothoracic|cervical", "cervical"),
    (r"thoracic", "thoracic"),
    (r"thoracolumbar|lumbosacral|lumbar|sacral", "lumbar"),
]

# --- clinical text (Condition / Observation) -------------------------------------------

#: The limbs a weakness is said of.
_LIMBS = r"(?:arms?|legs?|hands?|feet|foot|(?:upper|lower) (?:limbs?|extremit(?:y|ies)))"
#: Saying one cannot do something: "unable", "cannot", "has not been able", "no longer able".
_CANNOT = (r"(?:unable|inability|cannot|can ?not|can't|could not|couldn't|not able|no longer able"
           r"|(?:has|have|had)(?: not|n't) been able|(?:is|are|was|were)(?: not|n't) able)")
_PASS_URINE = r"(?:void|urinate|pee|pass (?:any )?(?:urine|water)|empty (?:the |his |her |my |their )?bladder)"
#: The saddle by its clinical names; the groin is kept from the earlier list. Not one buttock or thigh.
_SADDLE = (r"(?:saddle(?: area| region)?|perineum|perineal (?:area|region)|perianal (?:area|region)|groin|genitals"
           r"|genital area|back passage|anus|anal (?:area|region))")
#: The saddle as a patient names it, as the subject of "feels numb".
_SADDLE_LAY = r"(?:genitals|genital area|private parts|bottom and genitals|saddle area|perineum|back passage)"

CLINICAL_CONCEPTS: dict[str, list[str]] = {
    # cauda equina
    # Not "CES" (the CES-D depression scale) and not "mets" (exercise METs): abbreviations that collide.
    "cauda_equina": [r"cauda equina(?: syndrome)?"],
    "urinary_retention": [
        r"urinary retention", r"retention of urine", r"incomplete (?:bladder )?emptying",
        r"(?:elevated|high|large) post[- ]?void residual",
        # Not being able to pass urine, however it is said: the ability phrase, then the act.
        _CANNOT + r" (?:to )?" + _PASS_URINE,
        r"(?:has|have|had)(?: not|n't) (?:voided|urinated|peed|passed (?:any )?(?:urine|water))",
    ],
    "urinary_incontinence": [
        r"urinary incontinence", r"incontinen(?:ce|t) of urine", r"bladder incontinence",
        # As patients say it: wetting oneself, leaking urine.
        r"wet(?:s|ting)? (?:herself|himself|themselves|myself|yourself)",
        r"(?:leak(?:s|ing|ed)?|dribbl(?:e|es|ing|ed)) (?:of )?urine", r"urine leak(?:age|ing|s)?",
        r"loss of bladder control", r"(?:bowel|bladder) (?:and|or|/) (?:bowel|bladder) (?:incontinence|dysfunction|loss)",
        r"loss of (?:bowel|bladder) (?:and|or|/) (?:bowel|bladder)(?: control| function)?",
    ],
    "bladder_dysfunction": [r"neurogenic bladder", r"bladder dysfunction"],
    "fecal_incontinence": [
        r"(?:fecal|faecal|bowel|stool) incontinence", r"incontinen(?:ce|t) of (?:stool|feces|faeces|bowel)",
        r"loss of bowel control", r"(?:bowel|bladder) (?:and|or|/) (?:bowel|bladder) (?:incontinence|dysfunction|loss)",
        r"loss of (?:bowel|bladder) (?:and|or|/) (?:bowel|bladder)(?: control| function)?",
    ],
    "saddle_anesthesia": [
        r"saddle[- ](?:an|hyp|par)?a?esthesia", r"saddle (?:area |region |distribution )?(?:numbness|sensory loss|hypoesthesia|paresthesia)",
        r"(?:perineal|perianal|groin) (?:numbness|an?a?esthesia|sensory loss)",
        r"numb(?:ness)? (?:in|of|over|around) (?:the )?" + _SADDLE,
        r"numb(?:ness)? between (?:the|her|his|my|their|both) legs",
        _SADDLE_LAY + r" (?:is |are |feels? |felt |went |has gone |have gone )?numb",
        r"(?:cannot|can ?not|can't|could not|couldn't|unable to|does not|doesn't|did not|didn't) feel (?:the )?"
        r"(?:toilet paper|tissue) when (?:she |he |they |I )?wip(?:e|es|ing)",
        r"(?:reduced|decreased|diminished|absent|impaired|altered|loss of|no) " + GAP(2) + r"(?:sensation|sensibility|pinprick|light touch)"
        r" (?:over|in|of|around|to) (?:the )?(?:perineum|perineal\w*|perianal\w*|saddle\w*|genital\w*)",
    ],
    # motor deficit
    "progressive_weakness": [
        r"(?:progressive|progressing|worsening|increasing|new|new[- ]onset) " + GAP(2) + r"weakness",
        r"weakness (?:is |that is |has been )?(?:progressing|worsening|getting worse|progressive)",
        # The course after the limbs it names: "weakness of both legs, worsening".
        r"weakness (?:of|in) (?:the |both |his |her |my )?(?:left |right )?" + _LIMBS
        + r",? (?:which |that )?(?:is |are |has been |have been )?(?:progressing|worsening|getting worse|progressive)",
    ],
    "severe_weakness": [
        r"(?:severe|profound|dense|marked|significant) " + GAP(2) + r"weakness",
        r"[0-3]/5 (?:strength|power|weakness)", r"(?:strength|power) (?:of |is )?[0-3]/5",
        r"paralysis", r"para(?:paresis|plegia)", r"quadri(?:paresis|plegia)", r"tetra(?:paresis|plegia)",
    ],
    "foot_drop": [r"foot[- ]drop", r"drop foot", r"wrist[- ]drop"],
    # myelopathy
    "myelopathy": [r"myelopath(?:y|ic)", r"cord compression"],
    "gait_disturbance": [
        r"(?:gait|walking) (?:disturbance|instability|abnormality|abnormalities|difficulty|difficulties|dysfunction|unsteadiness|problems?|trouble|impairment|changes?)",
        r"(?:unsteady|ataxic|spastic|broad[- ]based|wide[- ]based|abnormal|shuffling) gait",
        r"difficulty (?:with )?walking", r"trouble walking", r"unsteadiness", r"unsteady on (?:her |his |their )?feet",
    ],
    "balance_disturbance": [
        r"(?:balance|equilibrium) (?:problems?|difficulty|difficulties|trouble|impairment|disturbance|issues|loss)",
        r"(?:loss of|poor|impaired|decreased) balance", r"imbalance",
    ],
    "hand_clumsiness": [
        r"(?:hand )?clumsiness", r"clumsy hands?",
        r"(?:loss of|decreased|reduced|impaired|poor) (?:manual |hand |fine motor )?dexterity",
        r"difficulty (?:with )?(?:buttoning|handwriting|writing|fine motor tasks)", r"dropping (?:things|objects)",
    ],
    "hyperreflexia": [
        r"hyperreflexi(?:a|c)",
        r"(?:brisk|pathologically brisk|increased|exaggerated) (?:deep tendon )?(?:reflexes|dtrs)",
        r"(?:reflexes|dtrs) (?:are |were )?(?:brisk|3\+|4\+|increased)",
    ],
    "hoffmann_sign": [r"hoffmann?'?s?(?: sign| reflex)?"],
    "clonus": [r"(?:ankle |sustained )?clonus"],
    "babinski_sign": [r"babinski(?:'?s)?(?: sign)?", r"upgoing (?:toes?|plantars?)", r"extensor plantar (?:response|reflex)s?"],
    "lhermitte_sign": [r"lhermitte'?s?(?: sign| phenomenon)?"],
    # infection
    # A written temperature at or above 38.0 C / 100.4 F (reading.thresholds fever_celsius, the coded threshold).
    "fever": [r"fevers?", r"febrile", r"pyrexia",
              r"(?:temperature|temp|t) (?:of |is |was )?(?:3[89]|4[0-2])(?:[.,]\d)? ?(?:°|degrees )?c(?:elsius)?\b",
              r"(?:temperature|temp|t) (?:of |is |was )?(?:100[.,][4-9]|10[1-6](?:[.,]\d)?) ?(?:°|degrees )?f(?:ahrenheit)?\b"],
    "spinal_infection": [
        r"(?:vertebral|spinal) osteomyelitis", r"osteomyelitis of the (?:\w+ )?(?:spine|vertebra|vertebrae)",
        r"dis[ck]itis", r"spondylodis[ck]itis", r"(?:spinal )?epidural abscess", r"spinal infection", r"paraspinal abscess",
        r"pott'?s disease",
    ],
    "iv_drug_use": [r"iv drug (?:use|abuse)", r"ivdu", r"intravenous drug (?:use|abuse)", r"injection drug use", r"pwid"],
    # cancer
    "malignancy": [
        r"cancer", r"carcinoma", r"malignan(?:cy|cies|t)", r"lymphoma", r"(?:multiple )?myeloma", r"sarcoma",
        r"leuka?emia", r"melanoma", r"adenocarcinoma",
    ],
    "metastasis": [r"metasta(?:sis|ses|tic)(?: disease)?"],
    # trauma
    "spine_fracture": [
        r"(?:vertebral|spinal|spine|compression|burst|odontoid|chance|sacral|(?:[ctl]\d{1,2})) fractures?",
        r"fractures? of the " + GAP(2) + r"(?:vertebra|vertebrae|spine|sacrum|[ctl]\d{1,2})",
    ],
    "significant_trauma": [
        r"(?:motor vehicle|car|auto|motorcycle|bicycle) (?:accident|collision|crash)", r"mv[ac]",
        r"fall from (?:a )?(?:height|ladder|roof|scaffold|horse|tree|stairs)",
        r"high[- ](?:energy|velocity) (?:trauma|injury|mechanism)", r"major trauma", r"polytrauma",
        r"(?:spine|spinal|back|neck) (?:trauma|injury)", r"whiplash",
    ],
    # root problem
    "radiculopathy": [
        r"(?:poly)?radiculopath(?:y|ies)", r"radicul(?:itis|algia)", r"nerve root (?:compression|impingement|irritation)",
        r"pinched nerve",
    ],
    "sciatica": [r"sciatica"],
    "spinal_stenosis": [
        r"(?:lumbar |cervical |thoracic |spinal |central |foraminal |canal )?stenosis",
        r"neurogenic claudication", r"pseudo[- ]?claudication",
    ],
    "disc_herniation": [
        r"(?:dis[ck] )?herniat(?:ion|ed) (?:of )?(?:\w+ )?dis[ck]", r"dis[ck] herniation", r"herniated (?:\w+ )?dis[ck]",
        r"hnp", r"slipped dis[ck]", r"dis[ck] (?:protrusion|extrusion)",
    ],
    # axial pain
    "low_back_pain": [r"(?:low|lower) back pain", r"lbp", r"lumbago", r"lumbar (?:spine )?pain", r"back pain", r"lumbalgia"],
    "neck_pain": [r"neck pain", r"cervicalgia", r"cervical (?:spine )?pain"],
    "thoracic_back_pain": [
        r"(?:mid|middle|upper)[- ]?back pain", r"thoracic (?:spine |back )?pain", r"thoracalgia", r"interscapular pain",
    ],
    # symptom character
    "sensory": [
        r"numbness", r"numb", r"tingling", r"paresthesi(?:a|ae|as)", r"pins and needles", r"(?:hyp|dys)a?esthesi(?:a|as)",
        r"burning (?:pain|sensation|feet|hands)", r"sensory (?:loss|symptoms|changes|deficits?|disturbance)",
        r"(?:decreased|reduced|diminished|altered) sensation",
    ],
    "weakness": [r"weakness", r"weak", r"paresis", r"(?:giving|give)[- ]way", r"[0-4](?:\+|-)?/5 (?:strength|power)"],
    "intermittent": [r"intermittent(?:ly)?", r"comes and goes", r"on and off", r"episodic", r"positional", r"fluctuating"],
    "radiating_pain": [
        r"radiat(?:ing|es|ed|ion) " + GAP(3) + r"(?:down|into|to) (?:the |her |his |both )?(?:left |right |bilateral )?(?:legs?|arms?|foot|feet|hands?|buttocks?|thighs?|calf|calves|fingers?)",
        r"radicular (?:pain|symptoms)", r"shooting pain", r"(?:leg|arm) pain", r"pain (?:down|into) the " + GAP(1) + r"(?:leg|arm)",
    ],
    # mimics (same patterns as EMG reports)
    "carpal_tunnel": EMG_CONCEPTS["carpal_tunnel"],
    "ulnar_neuropathy": EMG_CONCEPTS["ulnar_neuropathy"],
    "peroneal_neuropathy": EMG_CONCEPTS["peroneal_neuropathy"],
    "tarsal_tunnel": EMG_CONCEPTS["tarsal_tunnel"],
    "radial_neuropathy": EMG_CONCEPTS["radial_neuropathy"],
    "meralgia_paresthetica": EMG_CONCEPTS["meralgia_paresthetica"],
    "polyneuropathy": EMG_CONCEPTS["polyneuropathy"] + [r"neuropathy"],
    "plexopathy": EMG_CONCEPTS["plexopathy"],
    "myopathy": [r"myopath(?:y|ies)", r"myositis"],
    "motor_neuron_disease": EMG_CONCEPTS["motor_neuron_disease"],
    "nmj_disorder": EMG_CONCEPTS["nmj_disorder"],
    "diabetes": [r"diabet(?:es|ic)(?: mellitus)?", r"t[12]dm", r"dm ?(?:type )?(?:2|ii|1|i)", r"niddm", r"iddm"],
    # EMG safety
    "cardiac_pacemaker": [r"(?:cardiac |permanent |leadless |dual[- ]chamber )?pacemaker", r"ppm", r"crt-p"],
    "cardiac_defibrillator": [r"(?:implantable |implanted )?(?:cardioverter[- ])?defibrillator", r"aicd", r"crt-d", r"s-?icd"],
    "bleeding_disorder": [r"hemophilia", r"haemophilia", r"von willebrand", r"thrombocytopenia", r"coagulopathy", r"bleeding disorder"],
    "lymphedema": [r"lymph(?:o)?edema", r"lymphoedema"],
    # MRI safety
    "neurostimulator": [
        r"neuro-?stimulators?", r"(?:spinal cord|dorsal column|deep brain|vagus nerve|vagal nerve|sacral nerve|"
        r"peripheral nerve|hypoglossal nerve|occipital nerve) stimulators?", r"scs (?:device|implant|system)",
    ],
}
#: Text that contains a concept word but is not about the patient having it.
CLINICAL_BLOCKERS: list[str] = [
    r"(?:colon|breast|prostate|lung|cervical|skin|colorectal) cancer screening",
    r"cancer screening",
    r"screening (?:for|colonoscopy|mammogram)" + r"(?: " + GAP(2) + r"cancer)?",
    r"(?:fear|risk) of " + GAP(1) + r"(?:cancer|malignancy)",
    r"afebrile",
    r"cervical (?:cancer|smear|pap)",
    r"ecg|ekg",
]
#: Clinical concepts that name a part of the body for the symptom's limb.
LIMB_WORDS: list[tuple[str, str]] = [
    (r"arms?|hands?|fingers?|thumbs?|forearms?|wrists?|elbows?|shoulders?|upper (?:extremit(?:y|ies)|limbs?)|ue|bue|rue|lue", "upper"),
    (r"legs?|foot|feet|toes?|thighs?|calf|calves|knees?|ankles?|buttocks?|lower (?:extremit(?:y|ies)|limbs?)|le|ble|rle|lle|sciatic", "lower"),
]

# --- order text --------------------------------------------------------------------------

ORDER_MRI = r"mri|mr|magnetic resonance(?: imaging)?|mrt"
ORDER_NOT_SPINE_MRI = r"mra|mr angiogra\w*|ct|cat scan|x[- ]?ray|xr|radiograph\w*|myelogra\w*|plexus|brain|head|knee|shoulder|hip|pelvis|bone scan|spect|pet"
ORDER_REGIONS: list[tuple[str, tuple[str, ...]]] = [
    (r"(?:total|whole|entire|complete|full) spine|c[-/ ]?t[-/ ]?l[- ]spine|cervical,? thoracic,? (?:and )?lumbar", ("cervical", "thoracic", "lumbar")),
    (r"c[- ]?spine|cervical(?: spine)?|neck", ("cervical",)),
    (r"t[- ]?spine|thoracic(?: spine)?|dorsal spine", ("thoracic",)),
    (r"l[- ]?s[- ]?spine|l[- ]?spine|lumbar(?: spine)?|lumbosacral(?: spine)?|low back|sacrum", ("lumbar",)),
]
ORDER_SPINE_WORD = r"spine|spinal|c[- ]?spine|t[- ]?spine|l[- ]?spine|ls[- ]?spine|cervical|thoracic|lumbar|lumbosacral"
ORDER_CONTRAST: list[tuple[str, str]] = [
    (r"w(?:ith)?\s*/?\s*(?:&|and|\+)?\s*w(?:ithout|/o|o)\b|w/wo|wo/w|w\s*&\s*w/?o|without and with|with and without|w/o and w/?|wo and w|pre[- ]and[- ]post(?: contrast)?|\+/-\s*(?:contrast|gad\w*)", "without-and-with"),
    (r"w/o|wo|without(?: (?:iv )?(?:contrast|gad\w*|dye))?|non[- ]?contrast|no contrast|noncon|plain", "without"),
    (r"w/\s*(?:iv )?(?:contrast|gad\w*|dye)?|with (?:iv )?(?:contrast|gad\w*|dye)|w (?:iv )?(?:contrast|gad\w*)|post[- ]?contrast|\+\s*(?:contrast|gad\w*)|gadolinium|enhanced", "with"),
]
ORDER_EMG = r"emg|electromyogra(?:m|phy|phic)|needle (?:emg|exam\w*|electromyography)"
ORDER_NCS = r"ncs|ncv|nerve conduction(?: velocity| studies| study| test(?:ing)?)?"
#: Electrodiagnostic studies that are not spine work-up (clinical-codes.md 1b: cranial-nerve,
#: laryngeal, hemidiaphragm, single-fibre and neuromuscular-junction studies): no card.
ORDER_EDX_NOT_SPINE = (
    r"facial(?: nerve| muscles?| emg| ncs| nerve conduction)?|cranial[- ]nerves?|blink(?: reflex(?:es)?)?|orbicularis(?: oculi| oris)?"
    r"|trigeminal|masseter|tongue|bell'?s palsy|hemifacial"
    r"|laryn(?:x|geal)|vocal (?:cords?|folds?)|(?:hemi)?diaphragm(?:atic)?|phrenic(?: nerve)?"
    r"|single[- ]fib(?:er|re)(?: emg| electromyography)?|sf[- ]?emg|jitter"
    r"|repetitive (?:nerve )?stimulation|rns|neuromuscular junction|nmj"
    r"|(?:extra)?ocular|oculo\w*|eye muscles?"
)
ORDER_EDX_BOTH = r"edx|electrodiagnostic(?: (?:study|studies|testing|test|evaluation|exam))?|emg\s*/\s*nc[sv]|nc[sv]\s*/\s*emg|emg\s*(?:&|and|\+|w/?)\s*nc[sv]"
#: Limb abbreviations in order text: (pattern, limbs, side).
ORDER_LIMBS: list[tuple[str, tuple[str, ...], str | None]] = [
    (r"ble|blle|bilateral lower (?:extremit(?:y|ies)|limbs?)|both legs|bilateral legs", ("lower",), "bilateral"),
    (r"bue|bilateral upper (?:extremit(?:y|ies)|limbs?)|both arms|bilateral arms", ("upper",), "bilateral"),
    (r"rle|right lower (?:extremity|limb)|right leg", ("lower",), "right"),
    (r"lle|left lower (?:extremity|limb)|left leg", ("lower",), "left"),
    (r"rue|right upper (?:extremity|limb)|right arm", ("upper",), "right"),
    (r"lue|left upper (?:extremity|limb)|left arm", ("upper",), "left"),
    (r"(?:4|four) (?:limbs?|extremit(?:y|ies))|all (?:four )?(?:limbs|extremities)", ("upper", "lower"), "bilateral"),
    (r"lower (?:extremit(?:y|ies)|limbs?)|legs?|foot|feet|les?", ("lower",), None),
    (r"upper (?:extremit(?:y|ies)|limbs?)|arms?|hands?|wrists?|elbows?|ues?", ("upper",), None),
]

#: Hedge cues that mean "not shown, but not excluded": a mention hedged this way
#: does not make a report abnormal ("early radiculopathy cannot be excluded").
NOT_EXCLUDED_CUES = (
    r"(?:cannot|can ?not|could not) (?:be )?(?:entirely |completely |definitely )?(?:exclude|excluded|rule out|ruled out)"
    r"|(?:does|do|would|did) not (?:exclude|rule out|preclude)|(?:not|nor) (?:exclude|rule out)"
    r"|(?:is|are) not (?:entirely |completely )?(?:excluded|ruled out)|not (?:excluded|ruled out)"
    r"|rule out|r/o|evaluat(?:e|ion) (?:for|of)|assess for"
    # Limited scope (what the study could not look at): not shown, not excluded either.
    r"|(?:cannot|can ?not|could not|does not|do not|did not|would not|(?:is|are|was|were) (?:not able|unable) to) (?:assess|evaluate|detect|test)(?: for)?"
    r"|(?:emg|study|studies|test|testing|examination) (?:is |are )?(?:relatively )?(?:insensitive|not sensitive) (?:to|for)"
    r"|(?:would|will|may|might|could|can) not be (?:detected|assessed|evaluated|identified|seen|excluded)(?: (?:by|with|in|on))?"
    r"|(?:is|are|was|were|lies|lie) (?:beyond|outside) the scope of"
    r"|(?:is|are|was|were) not (?:assessed|evaluated|tested|examined|studied|addressed)(?: (?:by|with|in|on))?"
    r"|(?:cannot|can ?not|could not) be (?:assessed|evaluated|detected|tested)(?: (?:by|with|in|on))?"
    r"|not (?:assessed|evaluated)"
)
#: Words that keep a sentence from inheriting the previous sentence's level.
NO_LEVEL_CARRY = r"multi[- ]?level|multiple levels|all levels|any level|other levels|elsewhere|throughout|diffuse(?:ly)?|remaining levels|otherwise|(?:cervical|thoracic|lumbar) spine"
#: "..., moderate at L4-5": a severity and a level standing for the previous finding.
ELLIPTICAL_SEVERITY = (
    r"(?:,|;|\band\b)\s*(?:and\s+)?(mild(?:ly)?|minimal(?:ly)?|moderate(?:ly)?|severe(?:ly)?|marked(?:ly)?|mild[- ]to[- ]moderate|moderate[- ]to[- ]severe)"
    r"(?:\s+(?:narrowed|narrowing|stenosis|stenotic))?\s+(?:at|on)\s+(?=[CTLS]\s?\d)"
)
