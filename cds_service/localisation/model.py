"""The localisation vocabulary: where in the nervous system the record points, and how sure.

One vocabulary for every source (problem list, exam observations, notes, order reasons,
MRI and EMG reports), so that symptoms, exam, imaging and electrodiagnosis can be compared
site by site, side by side. No card wording lives here.

Site keys (``Site.key``), the same in the anatomy tables, the labelled set and the cards' extension:

- ``root:C5`` .. ``root:T1``, ``root:L2`` .. ``root:S1``
- ``nerve:median@wrist``, ``nerve:ulnar@elbow``, ``nerve:radial@spiral-groove``,
  ``nerve:common-fibular@fibular-head``, ``nerve:tibial@tarsal-tunnel``, ``nerve:femoral``,
  ``nerve:lateral-femoral-cutaneous``
- ``plexus:brachial``, ``plexus:lumbosacral``
- ``cord:cervical``, ``cord:thoracic``, ``cauda-equina``
- ``polyneuropathy`` (length-dependent, both sides), ``muscle`` (myopathy), ``nmj``, ``motor-neuron``

With a side: ``Site.label_key`` is ``root:L5:left``; cord, cauda equina and polyneuropathy carry none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..reading.dates import PartialDate
from ..reading.model import Evidence
from ..reading.certainty import Certainty

#: Modality of a finding: what kind of observation it is.
SYMPTOM, EXAM, IMAGING, EDX = "symptom", "exam", "imaging", "electrodiagnostic"
MODALITIES = (SYMPTOM, EXAM, IMAGING, EDX)

#: Kind of a finding.
FINDING_KINDS = (
    "sensory", "motor", "reflex", "pain", "provocation",  # symptoms and exam
    "diagnosis",  # a problem-list or order-reason diagnosis (radiculopathy at a level, carpal tunnel, ...)
    "compression",  # imaging: a structure narrows the space of a root or the cord
    "cord-signal",  # imaging: T2 signal change or myelomalacia in the cord
    "denervation-active", "denervation-chronic", "edx-lesion",  # electrodiagnosis
    "spared",  # exam: a muscle, movement or reflex the record says is normal
    "upper-motor-neuron",  # Hoffmann, Babinski, clonus, hyperreflexia
    "sphincter", "gait", "context",  # bladder/bowel, gait, a mechanism (dislocation, crash, crossing legs)
)  # fmt: skip

#: Trajectory of a finding or problem.
TRAJECTORIES = ("new", "progressive", "stable", "improving", "resolved")

#: Verdicts of the localisation (what the EMG/NCS cards decide from).
CONCORDANT = "concordant"  # one root and side, supported by symptoms/exam and the MRI
DISCORDANT = "discordant"  # side, root or level disagree between the clinical picture and the MRI
SEVERAL = "several-candidates"  # root vs nerve, two roots, root vs polyneuropathy or plexus
PERIPHERAL_SHOWN = "peripheral-shown"  # a prior EMG/NCS already shows a peripheral lesion that explains it
NOT_ENOUGH = "not-enough-data"
VERDICTS = (CONCORDANT, DISCORDANT, SEVERAL, PERIPHERAL_SHOWN, NOT_ENOUGH)


@dataclass(frozen=True)
class Site:
    """A place in the nervous system a problem may be: a root, a nerve at a site, a plexus, the cord."""

    kind: str  # root | nerve | plexus | cord | cauda-equina | polyneuropathy | muscle | nmj | motor-neuron
    name: str  # "L5", "median@wrist", "brachial", "cervical"; "" for the single-site kinds
    side: str | None = None  # left | right | bilateral | None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @property
    def label_key(self) -> str:
        return f"{self.key}:{self.side}" if self.side in ("left", "right", "bilateral") else self.key


@dataclass(frozen=True)
class LocFinding:
    """One observation that points to one or more sites."""

    #: Site keys (without side) this observation is compatible with, from the anatomy tables.
    sites: tuple[str, ...]
    side: str | None
    limb: str | None  # upper | lower | None
    modality: str
    kind: str
    #: What was observed, in clinical words ("thumb and index finger numbness", "EHL 4/5").
    element: str
    certainty: Certainty = Certainty.AFFIRMED
    #: The anatomy term id ("ehl", "thumb", "spurling"), for text and exam findings.
    term: str | None = None  # affirmed | hedged | negated | other
    trajectory: str | None = None
    onset: PartialDate | None = None
    #: DiagnosticReport.status for imaging and EDX findings (final, amended, preliminary, ...).
    status: str | None = None
    #: MRI detail: level ("L4-L5"), zone ("foraminal"), severity ("severe").
    level: str | None = None
    zone: str | None = None
    severity: str | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A site the record supports, with what supports it and what argues against it."""

    site: Site
    support: tuple[LocFinding, ...] = ()
    against: tuple[LocFinding, ...] = ()

    @property
    def modalities(self) -> frozenset[str]:
        return frozenset(f.modality for f in self.support)


@dataclass(frozen=True)
class Localisation:
    """The localisation of one order's question: candidates and one verdict."""

    verdict: str
    limb: str | None
    region: str | None
    candidates: tuple[Candidate, ...] = ()
    #: Why, in clinical words, one line each ("symptoms are left L5; the MRI's compression is on the right").
    reasons: tuple[str, ...] = ()
    findings: tuple[LocFinding, ...] = field(default=(), repr=False)

    @property
    def candidate_keys(self) -> tuple[str, ...]:
        return tuple(c.site.label_key for c in self.candidates)

    @property
    def motor_deficit(self) -> bool:
        """Weakness on exam or in the record (a graded 4/5 counts), affirmed."""
        return any(f.kind == "motor" and f.certainty == Certainty.AFFIRMED and f.modality in (SYMPTOM, EXAM)
                   for f in self.findings)

    @property
    def reflex_deficit(self) -> bool:
        """A reduced or absent reflex on exam, affirmed: an objective sign, so the picture is not purely sensory."""
        return any(f.kind == "reflex" and f.certainty == Certainty.AFFIRMED and (self.limb is None or f.limb in (None, self.limb))
                   for f in self.findings)

    @property
    def cord_region(self) -> str | None:
        """"cervical" or "thoracic" when the cord is a candidate (signs or MRI), else None."""
        cords = [c.site.name for c in self.candidates if c.site.kind == "cord"]
        return "cervical" if "cervical" in cords else cords[0] if cords else None

    @property
    def weakness_explained(self) -> bool:
        """A peripheral lesion explains the weakness: shown on a prior EMG/NCS, or the exam pattern
        points to a nerve (a spared root muscle) and every root candidate has findings against it."""
        if not self.motor_deficit:
            return False
        if self.verdict == PERIPHERAL_SHOWN:
            return True
        if not self.candidates or self.candidates[0].site.kind not in ("nerve", "plexus"):
            return False
        top = self.candidates[0]
        roots = [c for c in self.candidates if c.site.kind == "root"]
        # What points at the nerve rather than the root: a muscle the root supplies and the nerve
        # spares tested normal, a context or test at the nerve's site, or an EMG/NCS.
        pointed = any(f.kind in ("spared", "context", "test") or f.modality == EDX for f in top.support) or \
            any(f.kind == "spared" for c in roots for f in c.against)
        return pointed and all(c.against for c in roots)

    @property
    def ncs_detectable_candidate(self) -> bool:
        """A candidate that nerve conduction finds even when needle EMG would miss it."""
        return any(c.site.kind in ("nerve", "polyneuropathy", "plexus") for c in self.candidates)


NO_LOCALISATION = Localisation(verdict=NOT_ENOUGH, limb=None, region=None)
