"""The red-flag table (``config/guidelines/red-flags.yaml``), loaded and checked once at start-up.

Applied by :mod:`cds_service.rules.red_flags`; every field is described at the top of the YAML file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from ..reading.red_flags import CATEGORIES, CONTEXTS, RED_FLAG_SIGNS, SIGNS, table_signs

#: Signs the rules add to the reader's: from a prior MRI and from the localisation.
MRI_CORD = "mri-cord-compression-with-signal"
SENSORY_LEVEL = "sensory-level"
DERIVED_SIGNS = frozenset({MRI_CORD, SENSORY_LEVEL})
REGION_SOURCES = frozenset({"cord", "finding", "limb", "spine-pain", "order", "order-cord"})
REGIONS = ("cervical", "thoracic", "lumbar")
PRIORITIES = ("urgent", "stat")  # ascending


@dataclass(frozen=True)
class Clause:
    any: frozenset[str]
    with_: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Category:
    name: str
    counts_when: tuple[Clause, ...]
    not_critical_when: tuple[Clause, ...]
    supporting: frozenset[str]
    not_counted: frozenset[str]
    new_within_days: int | None
    sign_days: Mapping[str, int]
    stable_does_not_count: bool
    explained_does_not_count: bool
    new_if_within_days: int | None
    region_fixed: str | None
    region_from: tuple[str, ...]
    contrast: bool
    priority: str
    #: (within_days, priority, words): a progressive sign is rapid when its words say so, or when the Condition
    #: it comes from began within_days ago (an Observation's date is when it was seen, not when it began).
    rapid: tuple[int, str, re.Pattern] | None
    links: Mapping[str, tuple[str, ...]]
    source: str
    #: A flag the record gives only as possible: "warn" (a warning card: consider it, add the study) or "ignore".
    when_hedged: str = "ignore"
    #: Signs that, only possible and alone, make no warning (an equivocal Hoffmann): see the YAML.
    hedged_alone_ignored: frozenset[str] = frozenset()

    def window(self, sign: str) -> int | None:
        return self.sign_days.get(sign, self.new_within_days)

    def links_for(self, region: str | None) -> tuple[str, ...]:
        return self.links.get(region or "", self.links.get("any", ()))

    @property
    def signs(self) -> frozenset[str]:
        return frozenset(s for c in self.counts_when + self.not_critical_when for s in c.any)


@dataclass(frozen=True)
class RedFlagTable:
    categories: tuple[Category, ...]
    cancer_history: re.Pattern
    non_melanoma_skin: re.Pattern
    fragility_fracture: re.Pattern

    def get(self, name: str) -> Category:
        return next(c for c in self.categories if c.name == name)


_CATEGORY_FIELDS = {"counts_when", "not_critical_when", "supporting", "not_counted", "new_within_days", "sign_days",
                    "stable_does_not_count", "explained_does_not_count", "new_if_within_days", "region", "contrast",
                    "priority", "rapid", "links", "source", "when_hedged",
                    "hedged_alone_ignored"}


def load_red_flag_table(path: Path, bibliography_keys: Iterable[str] | None = None) -> RedFlagTable:
    """:raise ValueError: naming the category and field at fault (the caller names the file)."""
    data = yaml.safe_load(path.read_text()) or {}
    known_keys = set(bibliography_keys) if bibliography_keys is not None else None
    cats = data.get("categories") or {}
    if set(cats) != set(CATEGORIES):
        raise ValueError(f"categories must be exactly {', '.join(CATEGORIES)} (got {', '.join(cats)})")
    # The reader files each sign under the category of the repository's table; a table loaded from
    # elsewhere (content_dir) that moves a sign to another category would split the two.
    moved = sorted({f"{sign} ({category}, the reader: {RED_FLAG_SIGNS[sign]})" for category, sign in table_signs(data)
                    if sign in RED_FLAG_SIGNS and sign != "cancer" and RED_FLAG_SIGNS[sign] != category})
    if moved:
        raise ValueError(f"signs in another category than the reader's: {', '.join(moved)}")
    out = []
    for name in CATEGORIES:
        out.append(_category(name, cats[name] or {}, known_keys))
    text = data.get("text") or {}

    def words(key: str) -> re.Pattern:
        items = text.get(key)
        if not items or not all(isinstance(w, str) for w in items):
            raise ValueError(f"text.{key}: a list of words is needed")
        return re.compile(r"(?<![a-z0-9])(?:%s)(?![a-z0-9])" % "|".join(items), re.I)

    return RedFlagTable(tuple(out), words("cancer_history"), words("non_melanoma_skin"), words("fragility_fracture"))


def _category(name: str, e: dict, known_keys: set[str] | None) -> Category:
    where = f"categories.{name}"
    unknown = set(e) - _CATEGORY_FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    signs = SIGNS | DERIVED_SIGNS

    def clauses(key: str, required: bool) -> tuple[Clause, ...]:
        items = e.get(key) or []
        if required and not items:
            raise ValueError(f"{where}.{key}: at least one clause is needed")
        out = []
        for i, c in enumerate(items):
            if not isinstance(c, dict) or set(c) - {"any", "with"} or not c.get("any"):
                raise ValueError(f"{where}.{key}[{i}]: a clause is {{any: [signs], with: [signs or contexts]}}")
            bad = [s for s in c["any"] if s not in signs] + [s for s in c.get("with") or () if s not in signs | CONTEXTS]
            if bad:
                raise ValueError(f"{where}.{key}[{i}]: unknown sign or context {', '.join(bad)}")
            out.append(Clause(frozenset(c["any"]), frozenset(c.get("with") or ())))
        return tuple(out)

    def sign_list(key: str) -> frozenset[str]:
        items = e.get(key) or []
        bad = [s for s in items if s not in signs]
        if bad:
            raise ValueError(f"{where}.{key}: unknown sign {', '.join(bad)}")
        return frozenset(items)

    def days(value, key: str) -> int | None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{where}.{key}: a number of days or null")
        return value

    region = e.get("region") or {}
    fixed, sources = region.get("fixed"), tuple(region.get("from") or ())
    if (fixed is None) == (not sources) or (fixed is not None and fixed not in REGIONS) \
            or any(s not in REGION_SOURCES for s in sources) or set(region) - {"fixed", "from"}:
        raise ValueError(f"{where}.region: either fixed: one of {', '.join(REGIONS)} or from: [{', '.join(sorted(REGION_SOURCES))}]")
    priority = e.get("priority")
    if priority not in PRIORITIES:
        raise ValueError(f"{where}.priority: one of {', '.join(PRIORITIES)}")
    rapid = e.get("rapid")
    if rapid is not None:
        if set(rapid) != {"within_days", "priority", "words"} or rapid["priority"] not in PRIORITIES \
                or not rapid["words"] or not all(isinstance(w, str) for w in rapid["words"]):
            raise ValueError(f"{where}.rapid: {{within_days, priority, words: [...]}}")
        rapid = (days(rapid["within_days"], "rapid.within_days"), rapid["priority"],
                 re.compile(r"(?<![a-z0-9])(?:%s)(?![a-z0-9])" % "|".join(rapid["words"]), re.I))
    links = e.get("links") or {}
    if set(links) - set(REGIONS) - {"any"}:
        raise ValueError(f"{where}.links: keys are regions or any")
    for keys in links.values():
        missing = [k for k in keys if known_keys is not None and k not in known_keys]
        if missing:
            raise ValueError(f"{where}.links: not in config/bibliography.yaml: {', '.join(missing)}")
    if not isinstance(e.get("contrast"), bool):
        raise ValueError(f"{where}.contrast: true or false")
    if not e.get("source"):
        raise ValueError(f"{where}.source: every entry names its source")
    when_hedged = e.get("when_hedged", "ignore")
    if when_hedged not in ("warn", "ignore"):
        raise ValueError(f"{where}.when_hedged: warn or ignore")
    sign_days = e.get("sign_days") or {}
    if any(s not in signs for s in sign_days):
        raise ValueError(f"{where}.sign_days: unknown sign")
    return Category(
        name=name,
        counts_when=clauses("counts_when", True),
        not_critical_when=clauses("not_critical_when", False),
        supporting=sign_list("supporting"),
        not_counted=sign_list("not_counted"),
        new_within_days=days(e.get("new_within_days"), "new_within_days"),
        sign_days={s: days(v, f"sign_days.{s}") for s, v in sign_days.items()},
        stable_does_not_count=bool(e.get("stable_does_not_count")),
        explained_does_not_count=bool(e.get("explained_does_not_count")),
        new_if_within_days=days(e.get("new_if_within_days"), "new_if_within_days"),
        region_fixed=fixed,
        region_from=sources,
        contrast=e["contrast"],
        priority=priority,
        rapid=rapid,
        links={k: tuple(v) for k, v in links.items()},
        source=str(e["source"]),
        when_hedged=when_hedged,
        hedged_alone_ignored=sign_list("hedged_alone_ignored"),
    )
