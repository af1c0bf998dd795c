"""What the clinical reader hands to the card rules: frozen, typed, explainable findings.

Every finding carries ``evidence``: the resources it came from (type, id,
date), a short text of what matched, and how (a coding in a value set, or
words in text, with the words' negation/hedge status). Coded evidence comes
before text evidence. No card wording lives here.

Vocabularies used in fields:

- side: ``left`` | ``right`` | ``bilateral`` | None (not stated)
- region: ``cervical`` | ``thoracic`` | ``lumbar`` (lumbosacral and sacral count as lumbar)
- disc level: ``L4-L5``, ``L5-S1``, ``C5-C6``; root: ``L5``, ``C6``
- certainty: ``affirmed`` | ``hedged`` ("possible", "cannot be excluded") |
  ``negated`` ("no evidence of") | ``other`` (about someone else: family history)
- severity: ``mild`` | ``mild-moderate`` | ``moderate`` | ``moderate-severe`` | ``severe``
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from . import memo
from .dates import PartialDate
from .levels import level_sort_key
from .certainty import Certainty

CODED, TEXT = "coded", "text"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    """One resource (or one sentence of it) that supports a finding."""

    resource_type: str
    resource_id: str | None
    #: ISO date at the precision the record gives ("2024-03"), or None.
    date: str | None
    #: What matched, for a human: the code's display or the matched sentence (<= 160 chars).
    text: str
    #: "coded" (a coding in a value set) or "text" (words in text).
    matched_by: str
    #: Of the matched words: affirmed, hedged, negated, other. Coded facts are affirmed
    #: unless the resource itself says otherwise (verificationStatus provisional -> hedged).
    certainty: Certainty = Certainty.AFFIRMED
    #: "system|code" for coded evidence.
    code: str | None = None
    #: The value set the code was found in.
    value_set: str | None = None
    #: Verification mark of that value set entry: V, M or ?.
    verification: str | None = None

    @property
    def reference(self) -> str | None:
        return f"{self.resource_type}/{self.resource_id}" if self.resource_id else None


def sort_evidence(items) -> tuple[Evidence, ...]:
    """Coded first, then text; newest first within each; duplicates dropped."""
    unique = list(dict.fromkeys(items))
    unique.sort(key=lambda e: (e.matched_by != CODED, _neg_date(e.date)))
    return tuple(unique)


def _neg_date(date: str | None) -> str:
    # Sort newest first with missing dates last: invert digit characters.
    if not date:
        return "~"
    return "".join(chr(ord("9") - ord(ch) + ord("0")) if ch.isdigit() else ch for ch in date)


@dataclass(frozen=True)
class OrderInfo:
    """A draft order recognised as a spine MRI or an electrodiagnostic study."""

    kind: str  # "spine-mri" | "electrodiagnostic"
    #: Spine regions imaged (empty when the order does not say).
    regions: tuple[str, ...]
    #: "without" | "with" | "without-and-with" | None (MRI only).
    contrast: str | None
    #: "emg" and/or "ncs" (EDX only); empty when only "electrodiagnostic" is known.
    studies: tuple[str, ...]
    #: "upper" and/or "lower" (EDX only).
    limbs: tuple[str, ...]
    side: str | None
    #: "coding" when a coding put the order in a value set, else "text".
    matched_by: str
    #: The codings/text that matched.
    evidence: tuple[Evidence, ...]
    order_reference: str | None = None
    #: What the order's reasonCode says (coded or text), read like a problem-list entry:
    #: kind is a reader concept ("radiculopathy", "axial-pain", "urinary-retention", ...).
    indications: tuple["ConditionFinding", ...] = ()
    #: References of every draft order line that is part of this one study ("95910" and
    #: "95886" ordered as two lines), this order's first; empty for a single line.
    parts: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """The single region, or None for none or several."""
        return self.regions[0] if len(self.regions) == 1 else None


@dataclass(frozen=True)
class RedFlag:
    """A sign that may need urgent care rather than a routine test.

    category: cauda-equina | motor-deficit | myelopathy | infection | cancer | trauma
    sign: e.g. urinary-retention, saddle-anesthesia, foot-drop, hoffmann-sign,
    fever, cancer-history, non-melanoma-skin-cancer, spine-fracture, fragility-fracture
    (see ``reading.red_flags``). The reader says what the record states; whether it is a red
    flag now is decided by ``config/guidelines/red-flags.yaml`` (``rules.red_flags``).
    """

    category: str
    sign: str
    certainty: str
    #: Earliest onset (or recorded date) among the evidence.
    onset: PartialDate | None
    #: Within the policy's window for the category ("recent trauma"); None when undated.
    recent: bool | None
    #: Still current (an active Condition or a recent Observation) vs past history.
    current: bool
    evidence: tuple[Evidence, ...]
    #: Where the record puts it, when it says: spine region (a coded fracture's, "L3-4 discitis"),
    #: limb (upper/lower: "left leg weakness") and side. The rules take the urgent study's region from these.
    region: str | None = None
    limb: str | None = None
    side: str | None = None


@dataclass(frozen=True)
class RootProblem:
    """A suspected nerve-root problem from the problem list / observations, by region."""

    region: str | None
    #: radiculopathy | sciatica | spinal-stenosis | disc-herniation | neurogenic-claudication
    kinds: tuple[str, ...]
    levels: tuple[str, ...]
    roots: tuple[str, ...]
    side: str | None
    certainty: str
    onset: PartialDate | None
    #: "onset" (onset[x] given) or "recorded" (only recordedDate: onset at or before it).
    onset_basis: str | None
    #: (fewest, most) days from onset to now; None without a date.
    duration_days: tuple[int, int] | None
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class ConditionFinding:
    """A condition that bears on the order: a mimic of a root problem, diabetes, a bleeding risk.

    kind (mimics): carpal-tunnel-syndrome | ulnar-neuropathy | peroneal-neuropathy |
    tarsal-tunnel-syndrome | radial-neuropathy | meralgia-paresthetica | polyneuropathy |
    plexopathy | myopathy | motor-neuron-disease | myasthenia; others: diabetes,
    bleeding-disorder, lymphedema, axial-pain.
    """

    kind: str
    side: str | None
    #: Extra typing from the value set, e.g. "diabetic" polyneuropathy, "pacemaker".
    subtype: str | None
    certainty: str
    onset: PartialDate | None
    evidence: tuple[Evidence, ...]
    #: For axial pain: the spine region; for plexopathy: upper/lower limb.
    region: str | None = None


@dataclass(frozen=True)
class Symptom:
    """Symptom character: sensory | weakness | intermittent | radiating-pain | limb-pain."""

    kind: str
    limb: str | None  # upper | lower | None
    side: str | None
    certainty: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Medication:
    """An anticoagulant or antiplatelet drug the patient takes (or long-term use coded as a condition)."""

    kind: str  # anticoagulant | antiplatelet
    ingredient: str | None
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class CardiacDevice:
    kind: str  # pacemaker | defibrillator | other-cardiac-implant
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Neurostimulator:
    """An implanted neurostimulator (spinal cord stimulator and others): an MRI safety fact."""

    kind: str  # spinal-cord-stimulator | neurostimulator
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class LabValue:
    kind: str  # inr | platelets | egfr
    #: Platelets in 10*3/uL; eGFR in mL/min/1.73 m2; INR as a ratio.
    value: float
    unit: str | None
    date: str | None
    evidence: tuple[Evidence, ...]
    #: "<", "<=", ">", ">=" when the result is a bound ("<15", a Quantity comparator), else None.
    comparator: str | None = None


@dataclass(frozen=True)
class RecordEntry:
    """A Condition or MedicationRequest as recorded: its codes, words, status and dates.

    For rules that match codes and words of their own table (config/guidelines/imaging-appropriateness.yaml:
    prior lumbar surgery, osteoporosis, steroid use, immunosuppression) rather than a reader value set.
    """

    resource_type: str
    resource_id: str | None
    #: (canonical system, code, display) of every coding.
    codes: tuple[tuple[str, str, str | None], ...]
    #: The code's text and displays, then each note, as written.
    texts: tuple[str, ...]
    #: An active Condition (or one with no status and no abatement); an active MedicationRequest.
    current: bool
    #: "hedged" for a provisional or differential Condition, else "affirmed".
    certainty: str
    #: Onset (Condition) or authoredOn (MedicationRequest); else the recorded date.
    date: PartialDate | None


# --- report readings ----------------------------------------------------------------


@dataclass(frozen=True)
class MriFinding:
    """One finding of a spine MRI report at one level (or with no level stated).

    kind: bulge | disc_osteophyte | protrusion | extrusion | herniation |
    central_stenosis | foraminal_stenosis | lateral_recess_stenosis | root_contact |
    root_compression | cord_contact | cord_compression | cord_signal |
    disc_degeneration | facet_arthropathy | annular_fissure | spondylolisthesis | spondylosis
    """

    kind: str
    level: str | None
    side: str | None
    severity: str | None
    #: central | paracentral | subarticular | foraminal | extraforaminal (disc findings).
    zone: str | None
    #: Roots the report names at this finding ("contacting the left L5 root").
    roots: tuple[str, ...]
    certainty: str
    #: The sentence it was read from (<= 160 chars).
    sentence: str


@dataclass(frozen=True)
class MriReading:
    """What one spine MRI report text says."""

    #: True: a normal study; False: something found; None: the text says neither.
    normal: bool | None
    #: Compressive findings at two or more levels, or the report says "multilevel".
    multilevel: bool
    #: Affirmed and hedged findings, cranio-caudal.
    findings: tuple[MriFinding, ...]
    #: Negated findings ("no stenosis at L5-S1"), for explanations.
    negated: tuple[MriFinding, ...]
    truncated: bool

    @property
    def levels_with_findings(self) -> tuple[str, ...]:
        """Disc levels with a compressive finding (bulge, herniation, stenosis, root or cord contact)."""
        from .lexicon import MRI_COMPRESSIVE

        levels = {f.level for f in self.findings if f.level and f.kind in MRI_COMPRESSIVE}
        return tuple(sorted(levels, key=level_sort_key))

    def at(self, level: str) -> tuple[MriFinding, ...]:
        return tuple(f for f in self.findings if f.level == level)


@dataclass(frozen=True)
class EmgRadiculopathy:
    region: str | None
    roots: tuple[str, ...]
    side: str | None
    certainty: str
    #: Active denervation (fibrillations, positive sharp waves) said of this radiculopathy.
    active: bool | None
    #: Chronic reinnervation / chronic neurogenic changes said of it.
    chronic: bool | None
    severity: str | None
    sentence: str
    #: Hedged only as "cannot be excluded" / "not assessed by this study": not shown, only not ruled out.
    not_excluded: bool = False


@dataclass(frozen=True)
class EmgNeuropathy:
    """A non-root diagnosis on an EMG/NCS: entrapment, polyneuropathy, plexopathy, myopathy, ...

    kind: carpal_tunnel | ulnar_neuropathy | peroneal_neuropathy | tarsal_tunnel |
    radial_neuropathy | meralgia_paresthetica | polyneuropathy | plexopathy | myopathy |
    motor_neuron_disease | nmj_disorder
    """

    kind: str
    side: str | None
    severity: str | None
    certainty: str
    sentence: str
    #: Hedged only as "cannot be excluded" / "not assessed by this study": not shown, only not ruled out.
    not_excluded: bool = False
    #: Where the report puts the lesion, when it says: elbow | wrist | fibular-head | ankle | spiral-groove;
    #: for a plexopathy: brachial | lumbosacral.
    site: str | None = None


@dataclass(frozen=True)
class EmgReading:
    """What one EMG/NCS report text says."""

    normal: bool | None
    radiculopathies: tuple[EmgRadiculopathy, ...]
    neuropathies: tuple[EmgNeuropathy, ...]
    #: Report-level: fibrillations/positive sharp waves/active denervation found (True),
    #: looked for and absent (False), not mentioned (None).
    active_denervation: bool | None
    chronic_reinnervation: bool | None
    #: Negated diagnoses ("no evidence of polyneuropathy"), for explanations.
    negated: tuple[str, ...]
    truncated: bool
    #: The report's own sentences that say it is normal or deny a diagnosis (<= 160 chars each).
    normal_sentences: tuple[str, ...] = ()
    #: Sentences naming what the study could not assess or exclude ("a purely sensory
    #: radiculopathy is not assessed by this study"): limits of the study, never findings.
    scope_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MriReport:
    """A prior spine MRI report in the record; its text is read when ``reading`` is first used.

    The rules look at the newest report (per region) only: a record with a dozen prior
    MRIs pays for reading the ones that bear on the order, not for all of them.
    """

    evidence: tuple[Evidence, ...]
    date: PartialDate | None
    status: str | None
    #: Regions the report's code or title names (empty when it does not say).
    regions: tuple[str, ...]
    #: The report's text (impression and attachments), "" when it has none.
    text: str = field(repr=False)
    #: True when the text came only from the code/title (no conclusion or attachment to read).
    text_available: bool = True

    @cached_property
    def reading(self) -> MriReading:
        from .mri_text import read_mri_text  # here: mri_text imports this module

        return _read_lazily(read_mri_text, self.text, "MRI")


@dataclass(frozen=True)
class EmgReport:
    """A prior EMG/NCS report in the record; its text is read when ``reading`` is first used."""

    evidence: tuple[Evidence, ...]
    date: PartialDate | None
    status: str | None
    text: str = field(repr=False)
    text_available: bool = True

    @cached_property
    def reading(self) -> EmgReading:
        from .emg_text import read_emg_text

        return _read_lazily(read_emg_text, self.text, "EMG")


def _read_lazily(read, text: str, kind: str):
    # The readers never raise on odd text; should one, the report counts as saying nothing
    # (an exception here would fail the hook call from inside the rules).
    try:
        return memo.read(kind, text, read)  # the same report again (order-select, then order-sign)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        log.warning("clinical reader could not read a %s report text (%s)", kind, type(exc).__name__)
        return read("")


@dataclass(frozen=True)
class ClinicalPicture:
    """Everything the card rules need from the record, read once per hook call."""

    age_years: int | None
    #: Patient.gender as sent (male | female | other | unknown) or None.
    sex: str | None
    red_flags: tuple[RedFlag, ...]
    root_problems: tuple[RootProblem, ...]
    #: Neck or low back pain without a stated root problem.
    axial_pain: tuple[ConditionFinding, ...]
    mimics: tuple[ConditionFinding, ...]
    symptoms: tuple[Symptom, ...]
    #: Newest first.
    mri_reports: tuple[MriReport, ...]
    emg_reports: tuple[EmgReport, ...]
    anticoagulants: tuple[Medication, ...]
    antiplatelets: tuple[Medication, ...]
    cardiac_devices: tuple[CardiacDevice, ...]
    bleeding_disorders: tuple[ConditionFinding, ...]
    lymphedema: tuple[ConditionFinding, ...]
    diabetes: ConditionFinding | None
    inr: LabValue | None
    platelets: LabValue | None
    #: The latest dated eGFR, whatever its age (how recent counts is the rule's: config/guidelines/pretest.yaml).
    egfr: LabValue | None = None
    dialysis: tuple[ConditionFinding, ...] = ()
    #: One finding per current pregnancy Condition or positive pregnancy test (subtype "positive-test"),
    #: each with its own date (onset): the rules decide which is recent enough.
    pregnancy: tuple[ConditionFinding, ...] = ()
    neurostimulators: tuple[Neurostimulator, ...] = ()
    #: Resources that could not be read (odd data); their count only, no content.
    unread_resources: int = 0
    #: Localising findings from problem-list, exam and note text (``cds_service.localisation.reader``).
    localising: tuple = ()
    #: Prefetch keys whose data was missing (copied from the record).
    data_gaps: tuple[str, ...] = field(default_factory=tuple)
    #: Conditions and MedicationRequests as recorded (``reading.entries``), for rules with their own code tables.
    entries: tuple[RecordEntry, ...] = ()

    def red_flags_in(self, category: str) -> tuple[RedFlag, ...]:
        return tuple(f for f in self.red_flags if f.category == category)

    @property
    def mostly_sensory(self) -> bool:
        """Sensory symptoms are recorded and weakness is not (nor a motor red flag)."""
        sensory = any(s.kind == "sensory" and s.certainty == Certainty.AFFIRMED for s in self.symptoms)
        weak = any(s.kind == "weakness" and s.certainty == Certainty.AFFIRMED for s in self.symptoms)
        return sensory and not weak and not self.red_flags_in("motor-deficit")

    def latest_mri(self, region: str | None = None) -> MriReport | None:
        for r in self.mri_reports:
            if region is None or not r.regions or region in r.regions:
                return r
        return None

    @property
    def latest_emg(self) -> EmgReport | None:
        return self.emg_reports[0] if self.emg_reports else None
