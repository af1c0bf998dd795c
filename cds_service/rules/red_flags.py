"""The red-flag card: urgent care or urgent imaging instead of a routine test.

Which signs are red flags, when they are current, where the urgent study looks and how urgent it is
are the table of ``config/guidelines/red-flags.yaml`` (loaded once: ``rules.red_flag_table``).
:func:`assess` applies it to one order: the reader's signs (``reading.red_flags``), a prior MRI's cord
compression with cord signal, a sensory level from the localisation, and the order's localisation (is
a weakness explained by a peripheral lesion? where is the cord problem?). It returns

- ``critical``: flags that make the urgent card (affirmed, current, in context);
- ``other``: flags that do not make it by themselves (a cancer history, spine pain after trauma, an
  osteoporotic fracture) but that other cards may weigh (imaging may be appropriate now);
- ``hedged``: flags only "possible" in the record: never the urgent card; listed on it when an
  affirmed flag makes it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable, Mapping

from ..cardbuilder import CardSpec, Suggestion
from ..localisation.localise import localise
from ..localisation.model import EXAM, NO_LOCALISATION, PERIPHERAL_SHOWN, SYMPTOM, Localisation
from ..localisation.reader import _TRAJECTORY  # the localisation reader's trajectory words, one list for both
from ..reading.dates import PartialDate
from ..reading.levels import region_of
from ..reading.model import ClinicalPicture, Evidence, RedFlag
from ..reading.red_flags import CATEGORIES
from . import actions
from .common import LIMB_REGION, OrderInput, evidence_lines, order_fact, order_region
from .red_flag_table import CONTEXTS, MRI_CORD, PRIORITIES, SENSORY_LEVEL, Category, Clause, RedFlagTable
from ..reading.certainty import Certainty

if TYPE_CHECKING:
    from .config import RuleConfig

KIND = "red-flag-urgent-evaluation"
_FINAL = {None, "final", "amended", "corrected", "appended"}
_NEURO = ("cauda-equina", "myelopathy", "motor-deficit")


# --- assessing one order -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sign:
    """One sign as the rules see it: the reader's RedFlag (or a derived one), with its trajectory."""

    category: str
    sign: str
    certainty: str
    onset: PartialDate | None
    evidence: tuple[Evidence, ...]
    region: str | None = None
    limb: str | None = None
    side: str | None = None
    #: progressive | new | stable | None, from the record's words ("worsening", "new", "unchanged").
    trajectory: str | None = None
    #: For a prior MRI's cord finding: the report's date and level.
    mri: Mapping[str, str | None] | None = None


@dataclass(frozen=True)
class Flag:
    """A category raised for an order, with where the urgent study should look."""

    category: str
    #: "critical" (the urgent card), "other" (not critical by itself) or "hedged".
    level: str
    signs: tuple[Sign, ...]
    region: str | None
    contrast: bool
    priority: str
    links: tuple[str, ...] = ()
    #: What made a "with:" context hold: the back pain, the weakness on exam.
    context: tuple[Evidence, ...] = ()

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(dict.fromkeys([e for s in self.signs for e in s.evidence] + list(self.context)))

    @property
    def from_prior_mri_only(self) -> bool:
        return all(s.sign == MRI_CORD for s in self.signs if s.sign not in _SUPPORT_ONLY)

    @property
    def shown_on_prior_mri(self) -> bool:
        """A prior MRI's final, affirmed cord finding is among the signs."""
        return any(s.sign == MRI_CORD and s.certainty == Certainty.AFFIRMED for s in self.signs)

    @property
    def progressive(self) -> bool:
        return any(s.trajectory == "progressive" for s in self.signs)


_SUPPORT_ONLY = frozenset({"gait-disturbance", "balance-disturbance"})


@dataclass(frozen=True)
class Assessment:
    critical: tuple[Flag, ...] = ()
    other: tuple[Flag, ...] = ()
    hedged: tuple[Flag, ...] = ()

    @property
    def any(self) -> bool:
        """Any flag at all: ACR's "without red flags" variants (imaging not yet appropriate) do not apply."""
        return bool(self.critical or self.other or self.hedged)

    def categories(self, level: str | None = None) -> tuple[str, ...]:
        flags = self.critical + self.other + self.hedged if level is None else getattr(self, level)
        return tuple(dict.fromkeys(f.category for f in flags))


@dataclass
class _Context:
    o: OrderInput
    picture: ClinicalPicture
    table: RedFlagTable
    now: datetime
    loc: Localisation
    _locs: dict = field(default_factory=dict)

    def loc_for(self, limb: str | None) -> Localisation:
        """The localisation of the order's question, or of the same question in another limb."""
        if limb is None or limb == self.loc.limb:
            return self.loc
        if limb not in self._locs:
            info = dataclasses.replace(self.o.info, limbs=(limb,), regions=(), side=None)
            self._locs[limb] = localise(dataclasses.replace(self.o, info=info), self.picture, self.now)
        return self._locs[limb]


def assess(o: OrderInput, picture: ClinicalPicture, cfg: "RuleConfig", now: datetime,
           loc: Localisation = NO_LOCALISATION) -> Assessment:
    """The red flags of ``picture`` for order ``o``, by the table (see the module's docstring)."""
    table = cfg.red_flags
    ctx = _Context(o, picture, table, now, loc)
    signs = _signs(picture, table, now)
    raised: dict[str, Flag] = {}
    for cat in table.categories:
        present = {lvl: _current(ctx, cat, [s for s in signs if s.category == cat.name or s.sign in _with_signs(cat)], lvl)
                   for lvl in (Certainty.AFFIRMED, Certainty.HEDGED)}
        flag = _raise(ctx, cat, present, raised)
        if flag is not None:
            raised[cat.name] = flag
    flags = list(raised.values())
    return Assessment(
        critical=tuple(f for f in flags if f.level == "critical"),
        other=tuple(f for f in flags if f.level == "other"),
        hedged=tuple(f for f in flags if f.level == "hedged"),
    )


def _with_signs(cat: Category) -> frozenset[str]:
    return frozenset(s for c in cat.counts_when + cat.not_critical_when for s in c.with_) - CONTEXTS


def _signs(picture: ClinicalPicture, table: RedFlagTable, now: datetime) -> list[Sign]:
    out: list[Sign] = []
    for f in picture.red_flags:
        out += _reclassified(f, table)
    out += _mri_cord_signs(picture)
    out += _sensory_level_signs(picture)
    out += _progressive_motor_signs(picture)
    return out


def _reclassified(f: RedFlag, table: RedFlagTable) -> list[Sign]:
    """The reader's flag as rule signs; written cancer and fracture mentions read with the table's words."""
    def sign(name: str, evidence: tuple[Evidence, ...]) -> Sign:
        traj = "progressive" if name == "progressive-weakness" else _trajectory(evidence)
        return Sign(f.category, name, _certainty(evidence, f.certainty), f.onset, evidence, f.region, f.limb, f.side, traj)

    if not f.current:
        return []
    if f.category == "cancer" and f.sign in ("malignancy", "metastasis", "bone-metastasis"):
        coded = tuple(e for e in f.evidence if e.matched_by == "coded")
        text = [e for e in f.evidence if e.matched_by != "coded"]
        skin = tuple(e for e in text if table.non_melanoma_skin.search(e.text) and "melanoma" not in
                     table.non_melanoma_skin.sub("", e.text).lower())
        history = tuple(e for e in text if e not in skin and table.cancer_history.search(e.text))
        active = coded + tuple(e for e in text if e not in skin and e not in history)
        out = [sign(f.sign, active)] if active else []
        if history:
            out.append(sign("cancer-history", history))
        if skin:
            out.append(sign("non-melanoma-skin-cancer", skin))
        return out
    if f.category == "trauma" and f.sign == "spine-fracture":
        fragile = tuple(e for e in f.evidence if e.matched_by != "coded" and table.fragility_fracture.search(e.text))
        rest = tuple(e for e in f.evidence if e not in fragile)
        return ([sign("spine-fracture", rest)] if rest else []) + ([sign("fragility-fracture", fragile)] if fragile else [])
    return [sign(f.sign, f.evidence)]


def _certainty(evidence: tuple[Evidence, ...], default: str) -> str:
    return Certainty.AFFIRMED if any(e.certainty == Certainty.AFFIRMED for e in evidence) else (
        Certainty.HEDGED if evidence else default)


def _trajectory(evidence: Iterable[Evidence]) -> str | None:
    found = set()
    for e in evidence:
        t = next((t for rx, t in _TRAJECTORY if rx.search(e.text)), None)
        if t:
            found.add(t)
    return next((t for t in ("progressive", "new", "stable", "improving", "resolved") if t in found), None)


def _mri_cord_signs(picture: ClinicalPicture) -> list[Sign]:
    """Cord compression and cord signal on the newest MRI of the cervical or thoracic spine."""
    out: list[Sign] = []
    for region in ("cervical", "thoracic"):
        mri = next((r for r in picture.mri_reports if region in r.regions), None)
        if mri is None or not mri.text_available:
            continue
        found = [f for f in mri.reading.findings if f.certainty in (Certainty.AFFIRMED, Certainty.HEDGED)
                 and (f.level is None or region_of(f.level) == region)]
        compression = [f for f in found if f.kind == "cord_compression"]
        signal = [f for f in found if f.kind == "cord_signal"]
        if not (compression and signal):
            continue
        hedged = any(f.certainty == Certainty.HEDGED for f in compression + signal) or mri.status not in _FINAL
        sentences = list(dict.fromkeys(f.sentence for f in compression + signal))
        evidence = tuple(dataclasses.replace(mri.evidence[0], text=s[:160], matched_by="text",
                                             certainty=Certainty.HEDGED if hedged else Certainty.AFFIRMED)
                         for s in sentences[:2]) if mri.evidence else ()
        level = next((f.level for f in signal + compression if f.level), None)
        out.append(Sign("myelopathy", MRI_CORD, Certainty.HEDGED if hedged else Certainty.AFFIRMED, mri.date, evidence, region,
                        mri=({"date": mri.date.text if mri.date else None, "level": level, "status": mri.status})))
    return out


def _sensory_level_signs(picture: ClinicalPicture) -> list[Sign]:
    """A sensory level on the trunk (the localisation reader's cord sign): the thoracic cord."""
    found = [f for f in picture.localising if f.term == SENSORY_LEVEL and f.certainty in (Certainty.AFFIRMED, Certainty.HEDGED)]
    if not found:
        return []
    evidence = tuple(dict.fromkeys(e for f in found for e in f.evidence))
    onset = min((f.onset for f in found if f.onset), key=lambda d: d.earliest, default=None)
    return [Sign("myelopathy", SENSORY_LEVEL, _certainty(evidence, Certainty.AFFIRMED), onset, evidence, "thoracic",
                 trajectory=_trajectory(evidence))]


_PROGRESSIVE = next(rx for rx, t in _TRAJECTORY if t == "progressive")
_PAIN = re.compile(r"\b(?:pain|ache|aching|numb\w*|tingl\w*|burning)\b", re.I)


def _progressive_motor_signs(picture: ClinicalPicture) -> list[Sign]:
    """A graded or named weakness the record calls worsening in the same clause ("EHL 3/5, worsening over the
    past week"): progressive weakness, whatever words name it. A clause about pain or numbness getting worse
    does not make the weakness beside it progressive."""
    out: list[Sign] = []
    for f in picture.localising:
        if f.kind != "motor" or f.certainty != Certainty.AFFIRMED or f.trajectory != "progressive" or not f.evidence:
            continue
        mention = f.element.split()[0].lower() if f.element else ""
        clauses = [c for e in f.evidence for c in re.split(r"[;]|\.\s", e.text) if mention and mention in c.lower()]
        if any(_PROGRESSIVE.search(c) and not _PAIN.search(c) for c in clauses):
            out.append(Sign("motor-deficit", "progressive-weakness", Certainty.AFFIRMED, f.onset, f.evidence,
                            limb=f.limb, side=f.side, trajectory="progressive"))
    return out


def _current(ctx: _Context, cat: Category, signs: list[Sign], level: str) -> dict[str, Sign]:
    """The signs that count now for this category (affirmed ones, or with ``level`` hedged also hedged ones)."""
    out: dict[str, Sign] = {}
    for s in signs:
        if s.sign in cat.not_counted:
            continue
        if s.certainty != Certainty.AFFIRMED and not (level == "hedged" and s.certainty == Certainty.HEDGED):
            continue
        moving = s.trajectory in ("new", "progressive")
        window = cat.window(s.sign)
        if window is not None and s.onset is not None and s.onset.days_before(ctx.now)[0] > window and not moving:
            continue  # dated before the window and not called new or progressive: not a new sign
        if cat.stable_does_not_count and s.trajectory in ("stable", "improving", "resolved"):
            continue
        if cat.explained_does_not_count and not moving and s.sign != "progressive-weakness":
            loc = ctx.loc_for(s.limb or ctx.loc.limb)
            # Called stable, or first dated new_if_within_days ago or more, it is not new; undated or more
            # recent it may be (an Observation's date is when it was seen, not when it began).
            old = s.trajectory == "stable" or (s.onset is not None and cat.new_if_within_days is not None
                                               and s.onset.days_before(ctx.now)[0] >= cat.new_if_within_days)
            worsening = any(f.trajectory in ("progressive", "new") for f in loc.findings if f.kind == "motor")
            if old and not worsening and _explained(loc):
                continue  # a stable weakness a peripheral lesion explains is not a spinal red flag
        if s.sign in out:  # one sign from two sources: keep both evidences
            first = out[s.sign]
            s = dataclasses.replace(first, evidence=first.evidence + tuple(e for e in s.evidence if e not in first.evidence))
        out[s.sign] = s
    return out


def _explained(loc: Localisation) -> bool:
    """The weakness in this limb has a peripheral explanation: a prior EMG/NCS shows it, or the exam points to
    a nerve or plexus (every root candidate has a spared muscle against it, or the site has its own
    mechanism: a shoulder dislocation or crash for the plexus, leg crossing for the fibular nerve)."""
    if not loc.motor_deficit:
        return False
    if loc.weakness_explained or loc.verdict == PERIPHERAL_SHOWN:
        return True
    if not loc.candidates or loc.candidates[0].site.kind not in ("nerve", "plexus"):
        return False
    # A plexus or nerve with its own mechanism (a crash or dislocation for the brachial plexus) and
    # nothing against it: a traumatic plexus injury, whose test is the EMG/NCS at 3-6 weeks.
    top = loc.candidates[0]
    return any(f.kind == "context" for f in top.support) and not top.against


def _raise(ctx: _Context, cat: Category, present: dict[str, dict[str, Sign]], raised: dict[str, Flag]) -> Flag | None:
    for level, clauses in (("critical", cat.counts_when), ("other", cat.not_critical_when)):
        used, context = _holds(ctx, clauses, present[Certainty.AFFIRMED], raised)
        if used:
            return _flag(ctx, cat, level, used, present[Certainty.AFFIRMED], context)
    used, context = _holds(ctx, cat.counts_when + cat.not_critical_when, present[Certainty.HEDGED], raised)
    if used:
        return _flag(ctx, cat, "hedged", used, present[Certainty.HEDGED], context)
    return None


def _holds(ctx: _Context, clauses: tuple[Clause, ...], signs: dict[str, Sign],
           raised: dict[str, Flag]) -> tuple[list[Sign], tuple[Evidence, ...]]:
    """The signs of the first clause that holds, and the evidence of the context that made it hold."""
    for c in clauses:
        main = [signs[s] for s in sorted(c.any) if s in signs]
        if not main:
            continue
        if not c.with_:
            return main, ()
        extra = [signs[s] for s in sorted(c.with_) if s in signs]
        if extra:
            return main + extra, ()
        for name in sorted(c.with_ & CONTEXTS):
            evidence = _context(ctx, name, raised)
            if evidence is not None:
                return main, evidence
    return [], ()


def _context(ctx: _Context, name: str, raised: dict[str, Flag]) -> tuple[Evidence, ...] | None:
    """The evidence that context ``name`` holds (at most two items), or None when it does not."""
    p = ctx.picture
    if name == "spine-pain":
        found = [a for a in p.axial_pain if a.certainty == Certainty.AFFIRMED] + [r for r in p.root_problems if r.certainty == Certainty.AFFIRMED]
    elif name == "lumbar-root-problem":
        found = [r for r in p.root_problems if r.certainty == Certainty.AFFIRMED and (r.region == "lumbar" or "sciatica" in r.kinds)]
    elif name == "neuro-deficit":
        neuro = [f for c, f in raised.items() if c in _NEURO and f.level == "critical"]
        if neuro:
            return neuro[0].evidence[:2]
        limb = _unexplained_deficit_limb(ctx)
        if limb is None:
            return None
        motor = [f for f in ctx.loc_for(limb).findings if f.kind == "motor" and f.certainty == Certainty.AFFIRMED]
        return tuple(dict.fromkeys(e for f in motor for e in f.evidence))[:2]
    else:
        raise KeyError(name)
    return tuple(e for x in found for e in x.evidence[:1])[:2] if found else None


def _unexplained_deficit_limb(ctx: _Context) -> str | None:
    """A limb with an affirmed weakness on exam that no peripheral lesion explains (the order's limb first)."""
    limbs = [ctx.loc.limb] + sorted({f.limb for f in ctx.picture.localising if f.kind == "motor" and f.limb
                                     and f.certainty == Certainty.AFFIRMED and f.modality in (SYMPTOM, EXAM)} - {ctx.loc.limb})
    for limb in limbs:
        if limb is None:
            continue
        loc = ctx.loc_for(limb)
        if loc.motor_deficit and not _explained(loc):
            return limb
    return None


def _flag(ctx: _Context, cat: Category, level: str, used: list[Sign], present: dict[str, Sign],
          context: tuple[Evidence, ...] = ()) -> Flag:
    support = [present[s] for s in sorted(cat.supporting) if s in present and present[s] not in used]
    signs = tuple(used + support)
    region = _region(ctx, cat, signs)
    priority = cat.priority
    if cat.rapid is not None:
        within, rapid_priority, words = cat.rapid
        if any(s.trajectory == "progressive" and _rapid(s, within, words, ctx.now) for s in signs):
            priority = rapid_priority
    return Flag(cat.name, level, signs, region, cat.contrast, priority, cat.links_for(region), context)


def _rapid(s: Sign, within: int, words, now: datetime) -> bool:
    """A progressive sign the record calls rapid ("over days", "rapidly"), or from a Condition begun ``within`` days ago."""
    if any(words.search(e.text) for e in s.evidence):
        return True
    return s.onset is not None and s.onset.days_before(now)[1] <= within and \
        any(e.resource_type == "Condition" for e in s.evidence)


def _region(ctx: _Context, cat: Category, signs: tuple[Sign, ...]) -> str | None:
    if cat.region_fixed:
        return cat.region_fixed
    for source in cat.region_from:
        region = _region_from(ctx, source, signs)
        if region:
            return region
    return None


def _region_from(ctx: _Context, source: str, signs: tuple[Sign, ...]) -> str | None:
    p = ctx.picture
    if source == "cord":
        cords = {c.site.name for c in ctx.loc.candidates if c.site.kind == "cord"}
        return "cervical" if "cervical" in cords else next(iter(cords), None)
    if source == "finding":
        regions = {s.region for s in signs if s.region}
        return next(iter(regions)) if len(regions) == 1 else None
    if source == "limb":
        limbs = {s.limb for s in signs if s.limb}
        if len(limbs) == 1:
            return LIMB_REGION[next(iter(limbs))]
        limb = _unexplained_deficit_limb(ctx)
        return LIMB_REGION.get(limb or "")
    if source == "spine-pain":
        regions = {a.region for a in p.axial_pain if a.region and a.certainty == Certainty.AFFIRMED}
        regions |= {r.region for r in p.root_problems if r.region and r.certainty == Certainty.AFFIRMED}
        return next(iter(regions)) if len(regions) == 1 else None
    if source == "order":
        return order_region(ctx.o, p)
    if source == "order-cord":
        return ctx.o.info.region if ctx.o.info.region in ("cervical", "thoracic") else None
    raise KeyError(source)


# --- the card ----------------------------------------------------------------------------------


def red_flag_card(o: OrderInput, picture: ClinicalPicture, cfg: "RuleConfig", loc: Localisation = NO_LOCALISATION,
                  now: datetime | None = None, found: Assessment | None = None) -> CardSpec | None:
    """The urgent card for the critical flags of ``found`` (assessed here when not given)."""
    found = found if found is not None else assess(o, picture, cfg, now or datetime.now(timezone.utc), loc)
    if not found.critical:
        return None  # hedged flags and flags not critical by themselves make no urgent card
    flags = list(found.critical)
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    primary = max(flags, key=lambda f: (PRIORITIES.index(f.priority), -rank[f.category]))
    region = primary.region or next((f.region for f in flags if f.region), None)
    contrast = any(f.contrast for f in flags if f.region in (region, None))
    priority = max((f.priority for f in flags), key=PRIORITIES.index)
    fact = order_fact(o)
    reason = "Red flag: " + ", ".join(f.category for f in flags)
    # The prior MRI already shows what raises every flag (the cord finding beside the clinical signs):
    # no second study is suggested, unless a sign has progressed since and a new MRI may be needed.
    imaged = all(f.from_prior_mri_only or (f.shown_on_prior_mri and not f.progressive) for f in flags)
    mri = cfg.urgent_mri[f"{region}-contrast" if contrast else region] if region else None
    action, suggestion = _suggestion(o, fact, mri, region, contrast, priority, reason, imaged)
    return CardSpec(
        kind=KIND,
        context={
            "order": fact,
            "flags": [_flag_fact(f) for f in flags],
            "hedged": [_flag_fact(f) for f in found.hedged],
            "study": {"label": mri.text if mri else None, "region": region, "contrast": contrast,
                      "priority": priority, "action": action},
            "evidence": evidence_lines(e for f in flags for e in f.evidence),
        },
        suggestions=(suggestion,) if suggestion else (),
        reasons=tuple(f.category for f in flags),
        links=tuple(dict.fromkeys(k for f in flags for k in f.links)),
    )


HEDGED_KIND = "red-flag-to-consider"


def hedged_flag_card(o: OrderInput, cfg: "RuleConfig", found: Assessment) -> CardSpec | None:
    """A warning for flags the record gives only as possible, in categories whose table entry says warn.

    Never with an urgent card (that one lists them); the order is left alone: the suggestion adds the
    urgent study beside it, or raises the priority of a drafted MRI of that region.
    """
    if found.critical:
        return None
    flags = [f for f in found.hedged if cfg.red_flags.get(f.category).when_hedged == "warn"
             and not all(s.sign in cfg.red_flags.get(f.category).hedged_alone_ignored for s in f.signs)]
    if not flags:
        return None
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    primary = max(flags, key=lambda f: (PRIORITIES.index(f.priority), -rank[f.category]))
    region = primary.region or next((f.region for f in flags if f.region), None)
    contrast = any(f.contrast for f in flags if f.region in (region, None))
    priority = primary.priority
    mri = cfg.urgent_mri[f"{region}-contrast" if contrast else region] if region else None
    fact = order_fact(o)
    reason = "Possible " + ", ".join(f.category for f in flags)
    suggestion = None
    article = "a STAT" if priority == "stat" else "an urgent"
    if mri is not None and o.info.kind == "spine-mri" and o.info.region == region:
        suggestion = Suggestion(label=f"If still suspected: make this MRI {priority}",
                                actions=(actions.update_order(o.order, f"Set the order's priority to {priority}",
                                                              priority=priority),))
    elif mri is not None:
        suggestion = Suggestion(label=f"If still suspected: add {article} {mri.text}",
                                actions=(actions.create_order(o.patient_id, mri, priority, reason),))
    return CardSpec(
        kind=HEDGED_KIND,
        context={"order": fact, "flags": [_flag_fact(f) for f in flags],
                 "study": {"label": mri.text if mri else None, "region": region, "contrast": contrast,
                           "priority": priority},
                 "evidence": evidence_lines(e for f in flags for e in f.evidence)},
        suggestions=(suggestion,) if suggestion else (),
        reasons=tuple(f"possible-{f.category}" for f in flags),
        links=tuple(dict.fromkeys(k for f in flags for k in f.links)),
    )


def _suggestion(o: OrderInput, fact: dict, mri, region: str | None, contrast: bool, priority: str, reason: str,
                imaged: bool) -> tuple[str, Suggestion | None]:
    article = "a STAT" if priority == "stat" else "an urgent"
    if imaged:
        # The prior MRI already shows the cord finding: the card asks for timely specialist evaluation,
        # and neither cancels this order nor asks for another study.
        return "already-imaged", None
    if o.info.kind == "electrodiagnostic":
        if mri is None:
            return "region-unknown", None
        return "replace", Suggestion(
            label=f"Replace with {article} {mri.text}",
            actions=(*actions.delete_study(o.order, o.info.parts, fact["label"]),
                     actions.create_order(o.patient_id, mri, priority, reason)),
            is_recommended=True)
    own = o.info.region
    if mri is not None and own is not None and own != region:
        # The drafted MRI looks elsewhere: the urgent study is added beside it, the draft is the clinician's call.
        return "add", Suggestion(label=f"Add {article} {mri.text}",
                                 actions=(actions.create_order(o.patient_id, mri, priority, reason),), is_recommended=True)
    if mri is not None and contrast and o.info.contrast == "without":
        return "replace-contrast", Suggestion(
            label=f"Replace with {article} {mri.text}",
            actions=(actions.delete_order(o.order, fact["label"]), actions.create_order(o.patient_id, mri, priority, reason)),
            is_recommended=True)
    return "update", Suggestion(
        label=f"Make this MRI {priority}",
        actions=(actions.update_order(o.order, f"Set the order's priority to {priority}", priority=priority),),
        is_recommended=True)


def _flag_fact(f: Flag) -> dict:
    mri = next((s.mri for s in f.signs if s.mri), None)
    return {"category": f.category, "region": f.region, "priority": f.priority, "contrast": f.contrast,
            "signs": [s.sign for s in f.signs], "mri": dict(mri) if mri else None,
            "side": next((s.side for s in f.signs if s.side in ("left", "right", "bilateral")), None)}
