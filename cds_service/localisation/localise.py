"""Candidates and one verdict for an order: where the problem is, and whether the record agrees on it.

The article's rule: "A finding matters most when it matches the side of your symptoms, the nerve
distribution, the weakness pattern, and the imaging level." So:

1. the clinical findings (problem list, exam, notes, the order's reason) for the order's limb are
   turned into support for, or against, each root, nerve and plexus of the anatomy tables;
2. a nerve becomes a candidate only with something that points at that site rather than at the
   root beside it (a diagnosis, a test or context at the site, a spared root muscle, an EMG/NCS);
   a root needs support of its own (a shared muscle alone does not add a second root);
3. the newest spine MRI of the region says which roots it compresses, on which side (by zone:
   traversing or exiting root; mild or unsided bulges localise nothing);
4. the verdict compares the two, and a prior EMG/NCS showing a peripheral lesion comes first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from ..reading.facts import OrderShim
from ..reading.levels import LIMB_REGION, REGION_LIMB, level_sort_key, region_of, root_distance, roots_at_level
from ..reading.lexicon import MRI_COMPRESSIVE, SEVERITY_ORDER
from ..reading.model import ClinicalPicture, EmgReport, MriReport
from .anatomy import anatomy
from .model import (
    CONCORDANT, DISCORDANT, EDX, IMAGING, NOT_ENOUGH, PERIPHERAL_SHOWN, SEVERAL, SYMPTOM, Candidate,
    Localisation, LocFinding, Site,
)  # fmt: skip
from .reader import resource_findings
from ..reading.certainty import Certainty

#: Reader concept (mimic kind) -> nerve site, from the anatomy tables' ``diagnosis`` fields.
_EMG_KIND = {"carpal_tunnel": "carpal-tunnel-syndrome", "ulnar_neuropathy": "ulnar-neuropathy",
             "peroneal_neuropathy": "peroneal-neuropathy", "tarsal_tunnel": "tarsal-tunnel-syndrome",
             "radial_neuropathy": "radial-neuropathy", "meralgia_paresthetica": "meralgia-paresthetica",
             "polyneuropathy": "polyneuropathy", "plexopathy": "plexopathy"}
_FINAL = {None, "final", "amended", "corrected", "appended"}
_NEGATIVE = (Certainty.NEGATED, Certainty.OTHER)


@dataclass
class _Tally:
    support: list = field(default_factory=list)
    specific: list = field(default_factory=list)  # findings that point at this site rather than its neighbour
    against: list = field(default_factory=list)

    @property
    def score(self) -> float:
        return len(self.support) + 2 * len(self.specific) - len(self.against)


def _diagnosis_site(kind: str, limb: str | None) -> str | None:
    if kind == "polyneuropathy":
        return "polyneuropathy"
    a = anatomy()
    for key, entry in a.sites.items():
        if entry.diagnosis == kind and key.startswith(("nerve:", "plexus:")) and (limb is None or entry.limb == limb):
            return key
    return None


def _order_limb(o, picture: ClinicalPicture) -> str | None:
    if len(o.info.limbs) == 1:
        return o.info.limbs[0]
    if o.info.region in REGION_LIMB:
        return REGION_LIMB[o.info.region]
    regions = {p.region for p in picture.root_problems if p.region in REGION_LIMB}
    if len(regions) == 1:
        return REGION_LIMB[next(iter(regions))]
    limbs = {f.limb for f in picture.localising if f.limb and f.certainty not in _NEGATIVE}
    return next(iter(limbs)) if len(limbs) == 1 else None


def _diagnoses(o, picture: ClinicalPicture, limb: str | None) -> list[LocFinding]:
    """Problem-list and order-reason diagnoses as findings: root problems, mimics, diabetes."""
    out: list[LocFinding] = []
    for p in picture.root_problems:
        if p.certainty in _NEGATIVE or (limb and p.region and REGION_LIMB.get(p.region) != limb):
            continue
        roots = set(p.roots)
        for level in p.levels:
            at = roots_at_level(level)
            if at:  # a coded disc level names its usual root (cervical: the exiting; lumbar: the traversing)
                roots.add(at["exiting"] if level.startswith("C") else at["traversing"])
        out.append(LocFinding(sites=tuple(f"root:{r}" for r in sorted(roots, key=level_sort_key)), side=p.side,
                              limb=REGION_LIMB.get(p.region or ""), modality=SYMPTOM, kind="diagnosis",
                              element=p.evidence[0].text if p.evidence else "radiculopathy", certainty=p.certainty,
                              onset=p.onset, evidence=p.evidence[:2]))
    mimics = list(picture.mimics) + [i for i in o.info.indications if _diagnosis_site(i.kind, limb)]
    for m in mimics:
        if m.certainty in _NEGATIVE:
            continue
        site = _diagnosis_site(m.kind, limb)
        if site is None:
            continue
        entry = anatomy().sites.get(site)
        out.append(LocFinding(sites=(site,), side=m.side, limb=entry.limb if entry else None, modality=SYMPTOM,
                              kind="diagnosis", element=m.evidence[0].text if m.evidence else m.kind,
                              certainty=m.certainty, onset=m.onset, evidence=m.evidence[:2]))
    return out


def _edx_findings(emg: EmgReport | None) -> list[LocFinding]:
    if emg is None or not emg.text_available:
        return []
    r = emg.reading
    out: list[LocFinding] = []
    # A scope note ("cannot be excluded", "not assessed by this study") shows nothing: no finding.
    for x in r.radiculopathies:
        if x.certainty in _NEGATIVE or x.not_excluded or not x.roots:
            continue
        kind = "denervation-active" if x.active else "denervation-chronic" if x.chronic else "edx-lesion"
        out.append(LocFinding(sites=tuple(f"root:{root}" for root in x.roots), side=x.side, limb=None, modality=EDX,
                              kind=kind, element=x.sentence, certainty=x.certainty, onset=emg.date,
                              status=emg.status, evidence=emg.evidence[:1]))
    for x in r.neuropathies:
        site = _diagnosis_site(_EMG_KIND.get(x.kind, ""), None)
        if x.certainty in _NEGATIVE or x.not_excluded or site is None:
            continue
        entry = anatomy().sites.get(site)
        out.append(LocFinding(sites=(site,), side=x.side, limb=entry.limb if entry else None, modality=EDX,
                              kind="edx-lesion", element=x.sentence, certainty=x.certainty, onset=emg.date,
                              status=emg.status, evidence=emg.evidence[:1]))
    return out


def _specific_mri(f) -> bool:
    spec = anatomy().specific
    if f.roots or f.kind in spec["always"]:
        return True
    if f.severity and f.severity in SEVERITY_ORDER and \
            SEVERITY_ORDER.index(f.severity) >= SEVERITY_ORDER.index(spec["min_severity"]):
        return True
    return f.kind in spec["with_side_or_zone"] and (f.side in ("left", "right") or f.zone not in (None, "central")) \
        and f.severity != "mild"


def _mri_findings(mri: MriReport | None) -> list[LocFinding]:
    """Compressive MRI findings that localise: which root (by zone) or the cord, on which side."""
    if mri is None or not mri.text_available:
        return []
    a = anatomy()
    out: list[LocFinding] = []
    for f in mri.reading.findings:
        if f.certainty in _NEGATIVE:
            continue
        region = region_of(f.level) if f.level else None
        if f.kind in ("cord_compression", "cord_contact", "cord_signal"):
            cord = "cervical" if region == "cervical" else "thoracic" if region == "thoracic" else None
            if cord:
                out.append(LocFinding(sites=(f"cord:{cord}",), side=None, limb=None, modality=IMAGING,
                                      kind="cord-signal" if f.kind == "cord_signal" else "compression",
                                      element=_mri_element(f), certainty=f.certainty, onset=mri.date,
                                      status=mri.status, level=f.level, zone=f.zone, severity=f.severity,
                                      evidence=mri.evidence[:1]))
            continue
        if f.kind not in MRI_COMPRESSIVE or not _specific_mri(f):
            continue
        roots = tuple(f.roots)
        zone = f.zone or a.kind_zone.get(f.kind)
        if not roots and f.level and region in a.zones:
            which = a.zones[region].get(zone or "unstated", a.zones[region]["unstated"])
            root = roots_at_level(f.level).get(which)
            roots = (root,) if root else ()
        if not roots:
            continue
        side = f.side or ("bilateral" if zone == "central" or f.kind == "central_stenosis" else None)
        out.append(LocFinding(sites=tuple(f"root:{r}" for r in roots), side=side, limb=None, modality=IMAGING,
                              kind="compression", element=_mri_element(f), certainty=f.certainty, onset=mri.date,
                              status=mri.status, level=f.level, zone=zone, severity=f.severity,
                              evidence=mri.evidence[:1]))
    return out


def _merge_mri(findings: list[LocFinding]) -> list[LocFinding]:
    """One finding per level, side and root: "protrusion" and "root compression" of one sentence are one lesion."""
    out: dict[tuple, LocFinding] = {}
    for f in findings:
        key = (f.level, f.side, f.sites, f.kind == "cord-signal")
        first = out.get(key)
        if first is None:
            out[key] = f
        elif f.element not in first.element:
            extra = f.element.replace(f.level or "", "").replace(f.side or "", "").strip()
            out[key] = dataclasses.replace(first, element=f"{first.element} with {extra}")
    return list(out.values())


def _mri_element(f) -> str:
    words = [w for w in (f.level, f.side if f.side in ("left", "right") else None, f.severity, f.zone,
                         f.kind.replace("_", " ")) if w]
    return " ".join(dict.fromkeys(words))


def _compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or "bilateral" in (a, b) or a == b


def _merge_side(sides) -> str | None:
    known = {s for s in sides if s}
    if not known:
        return None
    if "bilateral" in known or {"left", "right"} <= known:
        return "bilateral"
    return next(iter(known))


def _tally(findings: list[LocFinding], limb: str | None, side: str | None) -> dict[str, _Tally]:
    a = anatomy()
    tallies: dict[str, _Tally] = {}
    for f in findings:
        if f.certainty in _NEGATIVE or not _compatible(f.side, side):
            continue
        if f.kind == "spared":
            continue
        for key in f.sites:
            entry = a.sites.get(key)
            if entry is not None and limb and entry.limb != limb:
                continue
            t = tallies.setdefault(key, _Tally())
            t.support.append(f)
            specific = f.kind == "diagnosis" or f.modality == EDX
            if entry is not None and key.startswith(("nerve:", "plexus:")):
                term = _term_of(f)
                specific = specific or (term is not None and (entry.supplies("tests", term) or entry.supplies("contexts", term)))
            elif key.startswith("root:"):
                specific = specific or f.kind in ("reflex", "provocation")
            if specific:
                t.specific.append(f)
    # Spared findings: against the sites that list them; for a nerve that spares what its root supplies,
    # the same finding is the pattern that points to the nerve.
    spared = [f for f in findings if f.kind == "spared" and _compatible(f.side, side)]
    deficits = [f for f in findings if f.kind in ("motor", "sensory") and f.certainty not in _NEGATIVE
                and _compatible(f.side, side)]
    for key, t in tallies.items():
        entry = a.sites.get(key)
        for f in spared:
            if key in f.sites:
                t.against.append(f)
            elif entry is not None and key.startswith("nerve:") and t.support:
                term = _term_of(f)
                if term and any(entry.spares_term(g, term) for g in ("muscles", "areas", "reflexes", "tests")):
                    t.specific.append(f)
        if entry is not None and key.startswith("nerve:"):
            for f in deficits:
                term = _term_of(f)
                if term and f.limb == entry.limb and (entry.spares_term("muscles", term) or entry.spares_term("areas", term)):
                    t.against.append(f)
    return tallies


def _term_of(f: LocFinding) -> str | None:
    return f.term


def localise(o, picture: ClinicalPicture, now: datetime) -> Localisation:
    limb = _order_limb(o, picture)
    region = o.info.region or LIMB_REGION.get(limb or "")
    clinical = [f for f in picture.localising if f.limb in (None, limb) or limb is None]
    reason_text = getattr(o.order, "reason_text", "") or ""
    if reason_text:
        clinical += [f for f in resource_findings(OrderShim(o.order), [reason_text], SYMPTOM, None)
                     if f.limb in (None, limb) or limb is None]
    clinical += _diagnoses(o, picture, limb)
    side = o.info.side if o.info.side in ("left", "right") else None
    clinical_side = side or _merge_side(f.side for f in clinical if f.certainty not in _NEGATIVE and f.kind != "spared"
                                        and f.limb in (limb, None) and f.kind not in ("upper-motor-neuron",))
    emg = picture.latest_emg
    edx = _edx_findings(emg)
    mri = picture.latest_mri(region) if region else None
    imaging = _merge_mri(_mri_findings(mri))
    findings = tuple(clinical + edx + imaging)

    cords = _cord_candidates(clinical, imaging, limb)
    tallies = _tally(clinical, limb, clinical_side)
    # 1. A final EMG/NCS already shows a peripheral lesion in this limb that fits the present findings,
    #    and no radiculopathy. An old peroneal neuropathy does not explain a new S1 picture.
    shown = [f for f in edx if f.status in _FINAL and f.certainty == Certainty.AFFIRMED and not f.sites[0].startswith("root:")
             and (f.limb in (None, limb) or limb is None) and _compatible(f.side, clinical_side)
             and _fits_present(f.sites[0], clinical, tallies)]
    if shown and not any(f.sites[0].startswith("root:") and f.certainty == Certainty.AFFIRMED for f in edx):
        cands = tuple(Candidate(Site(*_split(f.sites[0]), side=_side_for(f.sites[0], f.side or clinical_side)),
                                support=(f,)) for f in shown)
        cands = tuple({c.site.label_key: c for c in cands}.values())
        return Localisation(PERIPHERAL_SHOWN, limb, region, cands + cords,
                            (f"a prior EMG/NCS ({_date(emg)}) already shows {_labels(cands)}",), findings)

    roots, nerves = _candidates(tallies)
    nerves += _polyneuropathy(picture, clinical, limb, tallies, nerves)
    radicular_dx = any(p.certainty not in _NEGATIVE and (limb is None or REGION_LIMB.get(p.region or "") in (None, limb))
                       for p in picture.root_problems)
    if nerves and not roots and radicular_dx:
        # "Radiculopathy" without a level beside a named entrapment: the root it mimics is the question.
        roots = [m for n in nerves for m in (anatomy().sites[n].mimics if n in anatomy().sites else ())][:2]
    compressed = [f for f in imaging if f.sites[0].startswith("root:")]

    def cand(key: str, support=()) -> Candidate:
        t = tallies.get(key, _Tally())
        # A spared muscle of the root beside a nerve is support for the nerve (it is the nerve's pattern).
        spared_for = tuple(f for f in t.specific if f.kind == "spared" and f not in t.support)
        return Candidate(Site(*_split(key), side=_side_for(key, clinical_side)),
                         tuple(t.support) + spared_for + tuple(support), tuple(t.against))

    reasons: list[str] = []
    if not roots and not nerves:
        return Localisation(NOT_ENOUGH, limb, region, cords, (), findings)
    nerve_cands = tuple(cand(n) for n in sorted(nerves, key=lambda k: -tallies.get(k, _Tally()).score))
    if mri is None or not mri.text_available:
        root_cands = tuple(cand(r) for r in roots)
        cands = _ordered(root_cands, nerve_cands, tallies)
        if len(cands) == 1:
            return Localisation(NOT_ENOUGH, limb, region, cands + cords,
                                (f"the record points to the {_labels(cands)}; no prior MRI to compare",), findings)
        return Localisation(SEVERAL, limb, region, cands + cords, (_either(cands),), findings)

    matching = {r: [f for f in compressed if r in f.sites and _compatible(f.side, clinical_side)] for r in roots}
    matched = [r for r in roots if matching[r]]
    # Other roots the MRI compresses on the symptomatic side that the clinical findings also support.
    others = [k for f in compressed if _compatible(f.side, clinical_side) for k in f.sites
              if k not in roots and tallies.get(k) and tallies[k].support and k not in matched]
    root_cands = tuple(cand(r, matching.get(r, ())) for r in list(dict.fromkeys(list(roots) + others)))
    cands = _ordered(root_cands, nerve_cands, tallies)
    if len(matched) == 1 and len(roots) > 1 and not nerves and not others and _neighbours(matched[0], roots) \
            and not _own_objective_sign(matched[0], roots, tallies):
        # Adjacent roots share muscles, reflexes and skin (quadriceps and the patellar reflex are L3 and L4):
        # when the MRI compresses one of them on the symptomatic side and nothing else, and the other has
        # no weakness or reflex change of its own (only skin, where dermatomes overlap), the picture fits it.
        r = matched[0]
        kept = (cand(r, matching[r]),)
        reasons.append(f"symptoms and exam point to the {_labels(root_cands)}, which overlap, and the MRI "
                       f"({_date(mri)}) shows {'; '.join(f.element for f in matching[r])}, at the {_labels(kept)} only")
        return Localisation(CONCORDANT, limb, region, kept + cords, tuple(reasons), findings)
    if len(roots) == 1 and matched and not nerves and not others:
        r = roots[0]
        reasons.append(f"symptoms and exam point to the {_labels(cands)}, and the MRI ({_date(mri)}) shows "
                       f"{'; '.join(f.element for f in matching[r])}")
        return Localisation(CONCORDANT, limb, region, cands + cords, tuple(reasons), findings)
    if len(roots) == 1 and not matched and not nerves:
        mri_roots = tuple(Candidate(Site("root", f.sites[0][5:], side=f.side if f.side in ("left", "right") else None),
                                    (f,)) for f in compressed if f.sites[0] != roots[0] or not _compatible(f.side, clinical_side))
        mri_roots = tuple({c.site.label_key: c for c in mri_roots if c.site.label_key not in
                           {x.site.label_key for x in cands}}.values())
        reasons.append(_mismatch(cands[0], compressed, mri))
        return Localisation(DISCORDANT, limb, region, cands + mri_roots + cords, tuple(reasons), findings)
    if not matched and roots and compressed == [] and not nerves:
        reasons.append(_mismatch(cands[0], compressed, mri))
        return Localisation(DISCORDANT, limb, region, cands + cords, tuple(reasons), findings)
    return Localisation(SEVERAL, limb, region, cands + cords, (_either(cands),), findings)


#: Clinical finding kinds that place a problem (what a prior EMG's lesion must account for).
_PLACING = ("sensory", "motor", "reflex", "pain", "provocation", "diagnosis")
#: Area terms of a length-dependent pattern (both feet, both hands).
_DISTAL_BOTH = ("feet-both", "hands-both")


def _fits_present(site: str, clinical: list[LocFinding], tallies: dict[str, "_Tally"]) -> bool:
    """A lesion shown on a prior EMG/NCS fits the record now: the present findings support its site,
    or the record has no finding of its own that places the problem."""
    placing = [f for f in clinical if f.kind in _PLACING and f.certainty not in _NEGATIVE]
    if not placing:
        return True
    if site == "polyneuropathy":
        return any(f.kind == "sensory" and (f.term in _DISTAL_BOTH or f.side == "bilateral") for f in placing) or \
            bool(tallies.get(site) and tallies[site].support)
    t = tallies.get(site)
    return bool(t and t.support)


def _ordered(root_cands, nerve_cands, tallies) -> tuple[Candidate, ...]:
    both = list(root_cands) + list(nerve_cands)
    both.sort(key=lambda c: -tallies.get(c.site.key, _Tally()).score)
    return tuple(both)


def _own_objective_sign(root: str, roots: list[str], tallies: dict[str, "_Tally"]) -> bool:
    """A root of ``roots`` other than ``root`` with a weakness or reflex change that ``root`` does not share."""
    shared = {id(f) for f in tallies[root].support} if root in tallies else set()
    return any(f.kind in ("motor", "reflex") and id(f) not in shared
               for r in roots if r != root and r in tallies for f in tallies[r].support)


def _neighbours(root: str, roots: list[str]) -> bool:
    """Every root of ``roots`` is ``root`` or the next root up or down in the same region (L3, L4)."""
    name = root[5:]
    return all(r == root or (region_of(r[5:]) == region_of(name) and root_distance(r[5:], name) == 1)
               for r in roots)


def _weaker_outside(key: str, t: _Tally) -> bool:
    """A nerve with as many weak muscles outside its territory (muscles its table entry spares) as in it:
    one nerve lesion cannot make that pattern, whatever points to the site (deltoid, biceps and
    supraspinatus weak after a dislocation are the plexus or C5, not the axillary nerve alone)."""
    if not key.startswith("nerve:") or any(f.kind == "diagnosis" or f.modality == EDX for f in t.specific):
        return False  # a diagnosed or electrodiagnosed nerve lesion stays: it may sit beside a root problem
    return sum(f.kind == "motor" for f in t.against) >= max(1, sum(f.kind == "motor" for f in t.support))


def _candidates(tallies: dict[str, _Tally]) -> tuple[list[str], list[str]]:
    """(roots, nerves and plexus) worth naming, strongest first.

    A nerve or plexus needs findings that point at it (a diagnosis, a test or context at the site, a
    spared muscle of the root beside it). A root needs support and more for it than against; a second
    root is kept only with a finding of its own that no stronger candidate explains, or a reflex,
    provocation sign or diagnosis of its own, or because it is the root a kept nerve mimics.
    """
    a = anatomy()
    viable = {k: t for k, t in tallies.items() if not k.startswith(("cord:", "cauda"))
              and (len(t.support) + len(t.specific) > len(t.against) or _sensory_root(k, t))
              and (k.startswith("root:") or t.specific) and not _weaker_outside(k, t)}
    order = sorted(viable, key=lambda k: (-viable[k].score, k.startswith("root:"), level_sort_key(k[5:])))
    kept: list[str] = []
    explained: set[int] = set()
    mimicked: set[str] = set()
    for k in order:
        t = viable[k]
        if not k.startswith("root:"):
            kept.append(k)
            mimicked.update(a.sites[k].mimics if k in a.sites else ())
        else:
            own = [f for f in t.support if id(f) not in explained]
            # A sign shared with a stronger root (a straight-leg raise is L5 and S1) adds no second root.
            own_specific = [f for f in t.specific if id(f) not in explained]
            first_root = not any(x.startswith("root:") for x in kept)
            if not (own or own_specific or k in mimicked or first_root):
                continue
            if not first_root and not (own_specific or k in mimicked) and \
                    not any(f.kind in ("sensory", "motor", "reflex", "pain") for f in own):
                continue
            kept.append(k)
        explained.update(id(f) for f in t.support)
    # A root that only shares findings with a kept nerve and is not the root that nerve mimics goes.
    roots = [k for k in kept if k.startswith("root:")]
    nerves = [k for k in kept if not k.startswith("root:")]
    if nerves:
        roots = [r for r in roots if (r in mimicked and not _only_bilateral_shared(viable[r], nerves)) or
                 viable[r].specific or any(all(n not in f.sites for n in nerves) for f in viable[r].support)]
    return roots, nerves


def _only_bilateral_shared(t: "_Tally", nerves: list[str]) -> bool:
    """Every finding for the root is a both-sides symptom a kept nerve also explains (numbness of both hands
    at night beside bilateral carpal tunnel): the same root on both sides is not a question to raise."""
    return bool(t.support) and all(f.side == "bilateral" and f.modality == SYMPTOM and any(n in f.sites for n in nerves)
                                   for f in t.support)


def _sensory_root(key: str, t: "_Tally") -> bool:
    """A root its dermatome supports stays in question however many of its muscles are spared: a purely
    sensory radiculopathy spares the muscles (the spared ones still count against it)."""
    return key.startswith("root:") and any(f.kind in ("sensory", "pain") and f.modality == SYMPTOM for f in t.support)


def _polyneuropathy(picture, clinical, limb, tallies, nerves) -> list[str]:
    if "polyneuropathy" in nerves:
        return []
    if "polyneuropathy" in tallies and tallies["polyneuropathy"].specific:
        return ["polyneuropathy"]
    # Diabetes with symptoms in both feet (or hands), or distal symptoms on both sides: length-dependent.
    distal = [f for f in clinical if f.kind == "sensory" and f.certainty not in _NEGATIVE
              and (f.element and any(w in f.element.lower() for w in ("both feet", "bilateral feet", "stocking", "both hands", "glove")))]
    bilateral_feet = [f for f in clinical if f.kind == "sensory" and f.certainty not in _NEGATIVE and f.side == "bilateral"
                      and f.limb == "lower"]
    if picture.diabetes is not None and picture.diabetes.certainty not in _NEGATIVE and (distal or bilateral_feet):
        tallies.setdefault("polyneuropathy", _Tally()).support.extend(distal or bilateral_feet)
        return ["polyneuropathy"]
    # Without a known cause, the pattern itself: symptoms in both feet or legs with both ankle jerks
    # reduced or lost is length-dependent (alcohol, B12, chemotherapy... need not be coded to count).
    ankles_both = [f for f in clinical if f.kind == "reflex" and f.certainty not in _NEGATIVE and f.side == "bilateral"
                   and _term_of(f) == "achilles-reflex"]
    if (distal or bilateral_feet) and ankles_both:
        t = tallies.setdefault("polyneuropathy", _Tally())
        t.support.extend((distal or bilateral_feet) + ankles_both)
        t.specific.extend(ankles_both)  # the pattern, not one root's sign: named first
        return ["polyneuropathy"]
    return []


def _cord_candidates(clinical, imaging, limb) -> tuple[Candidate, ...]:
    cord_mri = [f for f in imaging if f.sites[0].startswith("cord:")]
    # An equivocal cord sign ("equivocal Hoffmann") makes the cord a candidate only beside a cord finding on
    # MRI; a hedged cauda equina sign always counts (missing it costs too much).
    signs = [f for f in clinical if f.sites and all(s.startswith(("cord:", "cauda")) for s in f.sites)
             and f.certainty not in _NEGATIVE and (f.certainty == Certainty.AFFIRMED or "cauda-equina" in f.sites or cord_mri)]
    out: dict[str, list] = {}
    arm_signs = set(anatomy().cord.get("cervical", {}).get("arm_signs") or ())
    has_arm = any(_term_of(f) in arm_signs for f in signs)
    level = any("sensory level" in f.element.lower() or "sensory-level" == _term_of(f) for f in signs)
    for f in signs:
        if "cauda-equina" in f.sites:
            out.setdefault("cauda-equina", []).append(f)
            continue
        if "cord:cervical" in f.sites and ("cord:thoracic" not in f.sites or has_arm or not level):
            out.setdefault("cord:cervical", []).append(f)
        elif "cord:thoracic" in f.sites:
            out.setdefault("cord:thoracic", []).append(f)
    for f in cord_mri:
        if f.kind == "cord-signal" or any(g.kind == "cord-signal" for g in cord_mri) or out:
            out.setdefault(f.sites[0], []).append(f)
    return tuple(Candidate(Site(*_split(k)), tuple(v)) for k, v in out.items())


def _split(key: str) -> tuple[str, str]:
    kind, _, name = key.partition(":")
    return kind, name


def _side_for(key: str, side: str | None) -> str | None:
    return side if key.startswith(("root:", "nerve:", "plexus:")) else None


def site_label(c: Candidate) -> str:
    """A candidate in clinical words: \"left L5 root\", \"right median nerve at the wrist (carpal tunnel)\"."""
    base = anatomy().label(c.site.key)
    if c.site.side in ("left", "right"):
        return f"{c.site.side} {base}"
    if c.site.side == "bilateral" and c.site.kind in ("root", "nerve", "plexus"):
        return f"{base} on both sides"
    return base


def _labels(cands) -> str:
    names = [site_label(c) for c in cands]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def study_question(loc: Localisation) -> str | None:
    """The EMG/NCS question in clinical words, when the localisation can put one."""
    peripheral = [c for c in loc.candidates if c.site.kind not in ("cord", "cauda-equina")]
    if loc.verdict == SEVERAL and len(peripheral) > 1:
        return _either(peripheral) + " Active or chronic?"
    if loc.verdict == DISCORDANT and peripheral:
        return f"Is there a {site_label(peripheral[0])} radiculopathy? The MRI's compression does not match it."
    return None


def _either(cands) -> str:
    names = [site_label(c) for c in cands][:3]
    names = [n.replace(" root", "") if i < len(names) - 1 and names[i + 1].endswith(" root") else n
             for i, n in enumerate(names)]  # "left L5 or left S1 root"
    return (" or ".join(names)) + "?"


def _date(report) -> str:
    return report.date.text if report is not None and report.date else "undated"


def _mismatch(clinical: Candidate, compressed: list[LocFinding], mri: MriReport) -> str:
    where = "; ".join(f"{f.element} ({_side_word(f.side)}{f.sites[0][5:]} root)" for f in compressed[:3])
    if not compressed:
        return (f"symptoms and exam point to the {site_label(clinical)}, but the MRI ({_date(mri)}) shows no compression "
                f"that would affect it")
    return (f"symptoms and exam point to the {site_label(clinical)}, but the MRI ({_date(mri)}) compression is elsewhere: "
            f"{where}")


def _side_word(side: str | None) -> str:
    return f"{side} " if side in ("left", "right") else ""

