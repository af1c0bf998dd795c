"""Reading an EMG/NCS report: radiculopathy (root, side, active/chronic), entrapments, polyneuropathy.

Roots are read as an electromyographer writes them: "L5/S1" and "C5-6" name
two roots, not a disc. A root, side or region is taken from the words just
before the diagnosis ("left L5 radiculopathy"), else from the words after it
("radiculopathy involving the left C6 root").
"""

from __future__ import annotations

import re

from . import attributes as at
from . import lexicon as lx
from .levels import find_level_tokens, group_tokens, region_of, roots
from .model import EmgNeuropathy, EmgRadiculopathy, EmgReading
from .text import AFFIRMED, EMG, HEDGED, NEGATED, Mention, normalise, split_sentences

_DIAGNOSES = frozenset({"radiculopathy", *lx.EMG_MIMICS})
_PRE_WORDS = 6
_POST_CHARS = 60
_CERTAINTY_RANK = {AFFIRMED: 0, HEDGED: 1, NEGATED: 2}
_ACTIVE_ADJ = ("acute", "active", "subacute", "ongoing")
_GENERALISED = frozenset({"polyneuropathy", "myopathy", "motor_neuron_disease", "nmj_disorder"})
#: Adjectives after the diagnosis: "Left S1 radiculopathy, chronic, mild."
#: Where a mononeuropathy sits, in the words of the mention or just after it.
_SITES = [
    (re.compile(r"(?<![a-z])(?:elbows?|cubital tunnel|retrocondylar|humeroulnar)(?![a-z])", re.I), "elbow"),
    (re.compile(r"(?<![a-z])(?:wrists?|carpal tunnel|guyon'?s? canal)(?![a-z])", re.I), "wrist"),
    (re.compile(r"(?<![a-z])(?:fibular head|fibular neck|knee)(?![a-z])", re.I), "fibular-head"),
    (re.compile(r"(?<![a-z])(?:ankle|tarsal tunnel)(?![a-z])", re.I), "ankle"),
    (re.compile(r"(?<![a-z])spiral groove(?![a-z])", re.I), "spiral-groove"),
]
_SITE_KINDS = frozenset({"ulnar_neuropathy", "peroneal_neuropathy", "radial_neuropathy", "carpal_tunnel", "tarsal_tunnel"})
_POST_ADJ = re.compile(r"^\s*,\s*((?:(?:acute|active|subacute|chronic|ongoing|old|mild|moderate|severe|and)\s*,?\s*){1,4})", re.IGNORECASE)


def read_emg_text(text: str) -> EmgReading:
    """Read one EMG/NCS report text. Never raises on odd text.

    A text that names no diagnosis and no normal/abnormal statement gives
    ``normal=None`` and no findings.
    """
    norm, truncated = normalise(text or "")
    radics: list[EmgRadiculopathy] = []
    neuros: list[EmgNeuropathy] = []
    negated: list[str] = []
    active: list[str] = []
    chronic: list[str] = []
    normal_sentences: list[str] = []
    scope_notes: list[str] = []
    normal_phrase = abnormal_phrase = False
    shown = False  # a diagnosis stated as present or possible (not merely "not excluded")
    for sentence in split_sentences(norm):
        if sentence.section in lx.SKIPPED_SECTIONS:
            continue
        mentions = EMG.mentions(sentence.text)
        if not mentions:
            continue
        s = sentence.text
        for m in mentions:
            if m.concept == "normal_study" and m.certainty == AFFIRMED:
                normal_phrase = True
                normal_sentences.append(at.clip(s))
            elif m.concept == "abnormal_study" and m.certainty == AFFIRMED:
                abnormal_phrase = True
            elif m.concept == "active_denervation":
                active.append(m.certainty)
            elif m.concept == "chronic_reinnervation":
                chronic.append(m.certainty)
        diagnoses = [m for m in mentions if m.concept in _DIAGNOSES]
        for i, m in enumerate(diagnoses):
            prev_end = diagnoses[i - 1].end if i else 0
            next_start = diagnoses[i + 1].start if i + 1 < len(diagnoses) else len(s)
            pre = at.last_words(s[prev_end : m.start], _PRE_WORDS)
            post = s[m.end : min(next_start, m.end + _POST_CHARS)]
            if m.certainty == NEGATED:
                negated.append(m.concept)
                normal_sentences.append(at.clip(s))
                continue
            if m.not_excluded:
                # "cannot exclude / is not assessed by this study": a limit of the study, not a finding.
                scope_notes.append(at.clip(s))
            else:
                shown = True
            if m.concept == "radiculopathy":
                radics.append(_radiculopathy(s, m, pre, post, mentions))
                continue
            side = at.merge_sides(at.side_in(pre), at.side_in(m.text)) or at.side_after(post)
            if m.concept in _GENERALISED:
                side = None  # a polyneuropathy is generalised by definition; "bilaterally" there is about responses
            severity = at.severity_in(pre) or at.severity_after(post)
            if m.concept == "plexopathy":
                site = _plexus(at.last_words(pre, 2) + " " + m.text)
            else:
                site = _site(m.text + " " + post[:30]) if m.concept in _SITE_KINDS else None
            neuros.append(EmgNeuropathy(m.concept, side, severity, m.certainty, at.clip(s), m.not_excluded, site))
    radics = _merge_radiculopathies(radics)
    neuros = _merge_neuropathies(neuros)
    active_state = _tri(active) if active else _from_radics(radics, "active")
    chronic_state = _tri(chronic) if chronic else _from_radics(radics, "chronic")
    affirmed_any = (
        abnormal_phrase
        or any(r.certainty == AFFIRMED for r in radics)
        or any(n.certainty == AFFIRMED for n in neuros)
        or active_state is True
        or chronic_state is True
    )
    if affirmed_any:
        normal = False
    elif normal_phrase:
        normal = True
    elif shown:
        normal = False
    elif negated or active_state is False:
        normal = True
    else:
        normal = None
    return EmgReading(
        normal=normal,
        radiculopathies=tuple(radics),
        neuropathies=tuple(neuros),
        active_denervation=active_state,
        chronic_reinnervation=chronic_state,
        negated=tuple(dict.fromkeys(negated)),
        truncated=truncated,
        normal_sentences=tuple(dict.fromkeys(normal_sentences)),
        scope_notes=tuple(dict.fromkeys(scope_notes)),
    )


_PLEXUS = re.compile(r"(?<![a-z])(brachial|lumbosacral|lumbar|sacral)(?![a-z])", re.I)


def _plexus(text: str) -> str | None:
    m = _PLEXUS.search(text)
    return None if m is None else ("brachial" if m.group(1).lower() == "brachial" else "lumbosacral")


def _site(text: str) -> str | None:
    for rx, site in _SITES:
        if rx.search(text):
            return site
    return None


def _radiculopathy(s: str, m: Mention, pre: str, post: str, mentions: list[Mention]) -> EmgRadiculopathy:
    root_list = _roots(pre) or _roots(post)
    region = at.region_in(pre) or at.region_in(m.text) or at.region_in(post)
    if region is None and root_list:
        region = region_of(root_list[0])
    side = at.merge_sides(at.side_in(pre), at.side_in(m.text)) or at.side_after(post) or _side_of_root_phrase(post)
    # Activity said in the same sentence, or as an adjective ("chronic L5 radiculopathy").
    pre_lower = pre.lower()
    act = [x.certainty for x in mentions if x.concept == "active_denervation"]
    chr_ = [x.certainty for x in mentions if x.concept == "chronic_reinnervation"]
    adj = _POST_ADJ.match(post)
    adjectives = pre_lower.split() + (adj.group(1).lower().replace(",", " ").split() if adj else [])
    active = _tri(act) if act else (True if any(w in adjectives for w in _ACTIVE_ADJ) else None)
    chronic = _tri(chr_) if chr_ else (True if "chronic" in adjectives or "old" in adjectives else None)
    severity = at.severity_in(pre) or (at.severity_in(adj.group(1)) if adj else None)
    return EmgRadiculopathy(region, root_list, side, m.certainty, active, chronic, severity, at.clip(s), m.not_excluded)


def _roots(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for g in group_tokens(text, find_level_tokens(text)):
        out.extend(roots(g))
    return tuple(dict.fromkeys(out))


def _side_of_root_phrase(post: str) -> str | None:
    # "radiculopathy involving the left L5 root": the side sits by the root.
    return at.side_in(post) if _roots(post) else None


def _tri(certainties: list[str]) -> bool | None:
    if AFFIRMED in certainties:
        return True
    if NEGATED in certainties:
        return False
    return None


def _from_radics(radics: list[EmgRadiculopathy], attr: str) -> bool | None:
    # Only "chronic L5 radiculopathy"-style adjectives: the report never named the EMG changes.
    values = [getattr(r, attr) for r in radics]
    if True in values:
        return True
    return None


def _merge_radiculopathies(items: list[EmgRadiculopathy]) -> list[EmgRadiculopathy]:
    merged: dict[tuple, EmgRadiculopathy] = {}
    for r in items:
        key = (r.region, r.roots, r.side)
        old = merged.get(key)
        merged[key] = r if old is None else _better(old, r)
    # A mention without roots (or without side) repeats a fuller one of the same region.
    for key in list(merged):
        region, root_list, side = key
        fuller = [k for k in merged if k != key and k[0] == region and (not root_list or k[1] == root_list) and (side is None or k[2] == side) and (k[1] or k[2])]
        if fuller and (not root_list or side is None):
            k = fuller[0]
            merged[k] = _better(merged[k], merged[key], keep=True)
            del merged[key]
    # A bare "root lesion" / "radiculopathy" beside a described one is the same diagnosis.
    bare = [k for k in merged if k == (None, (), None)]
    if bare and len(merged) > 1:
        target = next(k for k in merged if k != (None, (), None))
        merged[target] = _better(merged[target], merged.pop(bare[0]), keep=True)
    return list(merged.values())


def _better(a: EmgRadiculopathy, b: EmgRadiculopathy, keep: bool = False) -> EmgRadiculopathy:
    certainty = a.certainty if _CERTAINTY_RANK[a.certainty] <= _CERTAINTY_RANK[b.certainty] else b.certainty
    return EmgRadiculopathy(
        region=a.region or b.region,
        roots=a.roots if (keep or a.roots) else b.roots,
        side=a.side if (keep or a.side) else b.side,
        certainty=certainty,
        active=a.active if a.active is not None else b.active,
        chronic=a.chronic if a.chronic is not None else b.chronic,
        severity=at.max_severity(a.severity, b.severity),
        sentence=a.sentence,
        not_excluded=a.not_excluded and b.not_excluded,
    )


def _merge_neuropathies(items: list[EmgNeuropathy]) -> list[EmgNeuropathy]:
    merged: dict[tuple, EmgNeuropathy] = {}
    for n in items:
        key = (n.kind, n.side)
        old = merged.get(key)
        if old is None:
            merged[key] = n
        else:
            certainty = old.certainty if _CERTAINTY_RANK[old.certainty] <= _CERTAINTY_RANK[n.certainty] else n.certainty
            merged[key] = EmgNeuropathy(n.kind, n.side, at.max_severity(old.severity, n.severity), certainty, old.sentence,
                                        old.not_excluded and n.not_excluded, old.site or n.site)
    for key in list(merged):
        kind, side = key
        if side is None and any(k[0] == kind and k[1] for k in merged):
            del merged[key]
    return list(merged.values())
