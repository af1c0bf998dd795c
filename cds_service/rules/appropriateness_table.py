"""The imaging-appropriateness table (``config/guidelines/imaging-appropriateness.yaml``), loaded and checked once.

Applied by :mod:`cds_service.rules.appropriateness`; every field is described at the top of the YAML file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from ..reading.red_flags import CATEGORIES
from ..reading.text import Lexicon
from ..valuesets import ICD10CM, canonical_code

SYSTEMS = {"icd10": ICD10CM, "snomed": "http://snomed.info/sct", "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm"}
PAIN = ("current", "new", "acute", "subacute-or-chronic")
CONTRASTS = ("without", "with", "with-and-without", "unstated")
RATINGS = ("appropriate", "not-appropriate")
ACTIONS = ("premature", "replace", "silent")
STUDY_CONTRAST = ("none", "with-and-without", "none-or-with-and-without")
VARIANTS = frozenset(range(1, 8))

_TOP = {"applies_to", "thresholds", "background", "variants", "pama"}
_BACKGROUND = {"codes", "generic_codes", "words", "not_with_words", "spine_words", "medications", "current_only", "source"}
_VARIANT = {"variant", "title", "when", "placeable", "study", "rating", "action", "source"}
_CLAUSE = {"red_flags", "pain", "background", "age_at_least"}
_PAMA = {"rating_url", "rating_system", "consult_id_url", "auc_applied_url", "auc_applied", "other_spine_mri", "not_placed"}
_CITE = re.compile(r"\[([a-z0-9-]+)\]")


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    family: bool  # a trailing * : the code and every code under it

    def matches(self, system: str | None, code: str | None) -> bool:
        if system != self.system or not code:
            return False
        return code.startswith(self.code) if self.family else code == self.code


@dataclass(frozen=True)
class Background:
    name: str
    codes: tuple[Code, ...]
    generic_codes: tuple[Code, ...]
    #: Concept "match" (and "spine" when spine_words are given), read with the reader's cues.
    lexicon: Lexicon | None
    not_with: re.Pattern | None
    spine: re.Pattern | None
    medication_words: re.Pattern | None
    medication_days: int | None
    current_only: bool
    source: str


@dataclass(frozen=True)
class Clause:
    red_flags: str | tuple[str, ...] | None  # "none", categories, or no condition
    pain: str | None
    background: tuple[str, ...] = ()
    age_at_least: str | None = None


@dataclass(frozen=True)
class Variant:
    number: int
    title: str
    when: tuple[Clause, ...]
    placeable: bool
    study_kind: str  # none | mri | radiograph
    study_contrast: str | None
    rating: Mapping[str, str]
    action: str
    source: str

    @property
    def cites(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_CITE.findall(self.source)))


@dataclass(frozen=True)
class Pama:
    rating_url: str
    rating_system: str
    consult_id_url: str
    auc_applied_url: str
    auc_applied: str
    other_spine_mri: str  # no-criteria-apply | omit
    not_placed: str  # omit | no-criteria-apply
    #: The address of the auc_applied bibliography entry (its DOI), when the bibliography gives one.
    auc_applied_uri: str | None = None


@dataclass(frozen=True)
class AppropriatenessTable:
    applies_to: str
    thresholds: Mapping[str, int]
    background: Mapping[str, Background]
    variants: tuple[Variant, ...]
    pama: Pama

    def variant(self, number: int) -> Variant:
        return next(v for v in self.variants if v.number == number)


def load_appropriateness_table(path: Path, bibliography: Mapping[str, str | None] | None = None) -> AppropriatenessTable:
    """:raise ValueError: naming the entry and field at fault (the caller names the file).

    ``bibliography``: key -> address of config/bibliography.yaml (None: citations are not checked here).
    """
    data = yaml.safe_load(path.read_text()) or {}
    keys = set(bibliography) if bibliography is not None else None
    _known(data, _TOP, "the file")
    if data.get("applies_to") not in ("cervical", "thoracic", "lumbar"):
        raise ValueError("applies_to: cervical, thoracic or lumbar")
    thresholds = {}
    for name, e in (data.get("thresholds") or {}).items():
        if not isinstance(e, dict) or set(e) != {"value", "source"} or not isinstance(e["value"], int) \
                or isinstance(e["value"], bool) or e["value"] < 0:
            raise ValueError(f"thresholds.{name}: {{value: a whole number, source}}")
        thresholds[name] = e["value"]
    for name in ("acute_days", "new_pain_days"):
        if name not in thresholds:
            raise ValueError(f"thresholds.{name} is needed")
    background = {name: _background(name, e or {}, keys) for name, e in (data.get("background") or {}).items()}
    variants = tuple(_variant(i, e or {}, set(background), set(thresholds), keys)
                     for i, e in enumerate(data.get("variants") or []))
    numbers = [v.number for v in variants]
    if sorted(numbers) != sorted(VARIANTS):
        raise ValueError(f"variants: one entry for each of 1-7 (got {', '.join(map(str, numbers))})")
    if [v.number for v in variants if v.action == "premature"] not in ([], [1]):
        raise ValueError("variants: only variant 1 fires the premature card")
    pama = _pama(data.get("pama") or {}, keys)
    if bibliography is not None:
        pama = dataclasses.replace(pama, auc_applied_uri=bibliography.get(pama.auc_applied))
    return AppropriatenessTable(data["applies_to"], thresholds, background, variants, pama)


def _known(e: dict, fields: set[str], where: str) -> None:
    if not isinstance(e, dict):
        raise ValueError(f"{where}: a mapping is needed")
    unknown = set(e) - fields
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")


def _cites(text: str, where: str, keys: set[str] | None) -> str:
    if not text:
        raise ValueError(f"{where}.source: every entry names its source")
    missing = [k for k in _CITE.findall(text) if keys is not None and k not in keys]
    if missing:
        raise ValueError(f"{where}.source: not in config/bibliography.yaml: {', '.join(missing)}")
    return str(text)


def _code(spec: object, where: str) -> Code:
    alias, _, code = str(spec).partition(":")
    if alias not in SYSTEMS or not code:
        raise ValueError(f"{where}: {spec!r} is not {'|'.join(SYSTEMS)}:CODE")
    family = code.endswith("*")
    system = SYSTEMS[alias]
    return Code(system, canonical_code(system, code.rstrip("*")) or "", family)


def _words(items: object, where: str) -> re.Pattern | None:
    if items is None:
        return None
    if not isinstance(items, list) or not items or not all(isinstance(w, str) for w in items):
        raise ValueError(f"{where}: a list of words is needed")
    try:
        return re.compile(r"(?<![A-Za-z0-9])(?:%s)(?![A-Za-z0-9])" % "|".join(items), re.I)
    except re.error as exc:
        raise ValueError(f"{where}: {exc}") from None


def _background(name: str, e: dict, keys: set[str] | None) -> Background:
    where = f"background.{name}"
    _known(e, _BACKGROUND, where)
    codes = tuple(_code(c, f"{where}.codes") for c in e.get("codes") or ())
    generic = tuple(_code(c, f"{where}.generic_codes") for c in e.get("generic_codes") or ())
    if generic and not e.get("spine_words"):
        raise ValueError(f"{where}.generic_codes: count only with spine_words")
    words = e.get("words")
    _words(words, f"{where}.words")
    lexicon = Lexicon({"match": words}, exclusive=False, experiencer=True) if words else None
    meds = e.get("medications")
    med_words, med_days = None, None
    if meds is not None:
        _known(meds, {"words", "at_least_days"}, f"{where}.medications")
        med_words = _words(meds.get("words"), f"{where}.medications.words")
        med_days = meds.get("at_least_days")
        if med_days is not None and (not isinstance(med_days, int) or isinstance(med_days, bool) or med_days < 0):
            raise ValueError(f"{where}.medications.at_least_days: a number of days or null")
    if not isinstance(e.get("current_only"), bool):
        raise ValueError(f"{where}.current_only: true or false")
    if not (codes or generic or words or meds):
        raise ValueError(f"{where}: codes, words or medications are needed")
    return Background(name, codes, generic, lexicon, _words(e.get("not_with_words"), f"{where}.not_with_words"),
                      _words(e.get("spine_words"), f"{where}.spine_words"), med_words, med_days, e["current_only"],
                      _cites(e.get("source"), where, keys))


def _variant(i: int, e: dict, background: set[str], thresholds: set[str], keys: set[str] | None) -> Variant:
    if not isinstance(e, dict) or e.get("variant") not in VARIANTS:
        raise ValueError(f"variants[{i}].variant: 1-7")
    number = e["variant"]
    where = f"variants.{number}"
    _known(e, _VARIANT, where)
    clauses = []
    for j, c in enumerate(e.get("when") or []):
        cw = f"{where}.when[{j}]"
        _known(c, _CLAUSE, cw)
        flags = c.get("red_flags")
        if flags is not None and flags != "none" and (not isinstance(flags, list) or not set(flags) <= set(CATEGORIES)):
            raise ValueError(f"{cw}.red_flags: none or a list of {', '.join(CATEGORIES)}")
        if c.get("pain") is not None and c["pain"] not in PAIN:
            raise ValueError(f"{cw}.pain: one of {', '.join(PAIN)}")
        bad = [b for b in c.get("background") or () if b not in background]
        if bad:
            raise ValueError(f"{cw}.background: unknown fact {', '.join(bad)}")
        if c.get("age_at_least") is not None and c["age_at_least"] not in thresholds:
            raise ValueError(f"{cw}.age_at_least: the name of a threshold")
        if not c:
            raise ValueError(f"{cw}: an empty clause always holds")
        clauses.append(Clause(flags if flags in (None, "none") else tuple(flags), c.get("pain"),
                              tuple(c.get("background") or ()), c.get("age_at_least")))
    if not clauses:
        raise ValueError(f"{where}.when: at least one clause is needed")
    study = e.get("study") or {}
    kind = study.get("kind")
    if kind not in ("none", "mri", "radiograph") or set(study) - {"kind", "contrast"} \
            or (kind == "mri") != ("contrast" in study) or (kind == "mri" and study["contrast"] not in STUDY_CONTRAST):
        raise ValueError(f"{where}.study: {{kind: none | radiograph}} or {{kind: mri, contrast: {' | '.join(STUDY_CONTRAST)}}}")
    rating = e.get("rating") or {}
    if not isinstance(rating, dict) or set(rating) - set(CONTRASTS) or set(rating.values()) - set(RATINGS):
        raise ValueError(f"{where}.rating: contrast ({', '.join(CONTRASTS)}) -> {' | '.join(RATINGS)}")
    if e.get("action") not in ACTIONS:
        raise ValueError(f"{where}.action: one of {', '.join(ACTIONS)}")
    if e["action"] == "replace" and kind == "none":
        raise ValueError(f"{where}.action: replace needs a study")
    placeable = e.get("placeable", True)
    if not isinstance(placeable, bool):
        raise ValueError(f"{where}.placeable: true or false")
    if not e.get("title"):
        raise ValueError(f"{where}.title: needed")
    return Variant(number, str(e["title"]), tuple(clauses), placeable, kind, study.get("contrast"), dict(rating),
                   e["action"], _cites(e.get("source"), where, keys))


def _pama(e: dict, keys: set[str] | None) -> Pama:
    _known(e, _PAMA, "pama")
    missing = sorted(_PAMA - set(e))
    if missing:
        raise ValueError(f"pama: {', '.join(missing)} needed")
    if keys is not None and e["auc_applied"] not in keys:
        raise ValueError(f"pama.auc_applied: not in config/bibliography.yaml: {e['auc_applied']}")
    for name in ("other_spine_mri", "not_placed"):
        if e[name] not in ("no-criteria-apply", "omit"):
            raise ValueError(f"pama.{name}: no-criteria-apply or omit")
    return Pama(**{k: str(e[k]) for k in _PAMA})  # auc_applied_uri: set by the caller
