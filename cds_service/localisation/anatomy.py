"""The anatomy tables of ``config/anatomy/``, loaded once and checked: every id resolves, every entry has a source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

ANATOMY_DIR = Path(__file__).resolve().parents[2] / "config" / "anatomy"
TERM_GROUPS = ("areas", "muscles", "reflexes", "tests", "contexts", "cord-signs")


class AnatomyError(ValueError):
    """A table in ``config/anatomy/`` is malformed or names an id no table defines; the message says where."""


@dataclass(frozen=True)
class Term:
    id: str
    group: str  # areas | muscles | reflexes | tests | contexts | cord-signs
    limb: str | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class SiteEntry:
    """One root, nerve or plexus: what it supplies (areas, muscles, reflexes, tests, contexts) and spares."""

    key: str  # root:L5, nerve:ulnar@elbow, plexus:brachial
    label: str
    limb: str
    region: str | None
    areas: frozenset[str]
    muscles: frozenset[str]
    reflexes: frozenset[str]
    tests: frozenset[str]
    contexts: frozenset[str]
    spares: Mapping[str, frozenset[str]]
    mimics: tuple[str, ...]
    diagnosis: str | None
    source: str

    def supplies(self, group: str, term: str) -> bool:
        return term in {"areas": self.areas, "muscles": self.muscles, "reflexes": self.reflexes,
                        "tests": self.tests, "contexts": self.contexts}.get(group, frozenset())

    def spares_term(self, group: str, term: str) -> bool:
        return term in self.spares.get(group, frozenset())


@dataclass(frozen=True)
class Anatomy:
    terms: Mapping[str, Term]
    sites: Mapping[str, SiteEntry]
    cues: Mapping[str, tuple[str, ...]]
    cord: Mapping[str, dict]
    zones: Mapping[str, Mapping[str, str]]
    kind_zone: Mapping[str, str]
    specific: Mapping[str, object]

    def sites_for(self, group: str, term: str, limb: str | None = None) -> tuple[str, ...]:
        """Root, nerve and plexus keys that list ``term`` (in ``limb`` when given)."""
        return tuple(k for k, s in self.sites.items() if s.supplies(group, term) and (limb is None or s.limb == limb))

    def label(self, key: str) -> str:
        entry = self.sites.get(key)
        if entry is not None:
            return entry.label
        if key.startswith("cord:"):
            return self.cord.get(key[5:], {}).get("label", key)
        return {"cauda-equina": "cauda equina", "polyneuropathy": "polyneuropathy"}.get(key, key)


def _load(name: str) -> dict:
    path = ANATOMY_DIR / name
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise AnatomyError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AnatomyError(f"{path}: expected a mapping")
    return data


@lru_cache(maxsize=1)
def anatomy() -> Anatomy:
    terms_doc = _load("terms.yaml")
    terms: dict[str, Term] = {}
    for group in TERM_GROUPS:
        for tid, entry in (terms_doc.get(group) or {}).items():
            if tid in terms:
                raise AnatomyError(f"terms.yaml: {tid!r} defined twice")
            terms[tid] = Term(tid, group, entry.get("limb"), tuple(entry["words"]))
    cues = {k: tuple(v) for k, v in (terms_doc.get("cues") or {}).items()}

    def ids(where: str, group: str, values) -> frozenset[str]:
        values = frozenset(values or ())
        for v in values:
            term = terms.get(v)
            if term is None or term.group != group:
                raise AnatomyError(f"{where}: {v!r} is not a {group} id of terms.yaml")
        return values

    sites: dict[str, SiteEntry] = {}
    for root, e in _load("roots.yaml").items():
        where = f"roots.yaml {root}"
        sites[f"root:{root}"] = SiteEntry(
            f"root:{root}", f"{root} root", e["limb"], e["region"], ids(where, "areas", e.get("areas")),
            ids(where, "muscles", e.get("muscles")), ids(where, "reflexes", e.get("reflexes")),
            ids(where, "tests", e.get("tests")), frozenset(), {}, (), "radiculopathy", _source(where, e))
    for kind, fname in (("nerve", "nerves.yaml"), ("plexus", "plexus.yaml")):
        for name, e in _load(fname).items():
            where = f"{fname} {name}"
            spares = {g: ids(where + " spares", g, v) for g, v in (e.get("spares") or {}).items()}
            for m in e.get("mimics") or ():
                if f"root:{m}" not in sites:
                    raise AnatomyError(f"{where}: mimics unknown root {m!r}")
            sites[f"{kind}:{name}"] = SiteEntry(
                f"{kind}:{name}", e["label"], e["limb"], None, ids(where, "areas", e.get("areas")),
                ids(where, "muscles", e.get("muscles")), ids(where, "reflexes", e.get("reflexes")),
                ids(where, "tests", e.get("tests")), ids(where, "contexts", e.get("contexts")), spares,
                tuple(f"root:{m}" for m in e.get("mimics") or ()), e.get("diagnosis"), _source(where, e))
    cord = _load("cord.yaml")
    for name, e in cord.items():
        ids(f"cord.yaml {name}", "cord-signs", e.get("signs"))
        _source(f"cord.yaml {name}", e)
    zones_doc = _load("mri-zones.yaml")
    zones = {r: zones_doc[r] for r in ("lumbar", "cervical")}
    return Anatomy(terms, sites, cues, cord, zones, zones_doc.get("kind_zone") or {}, zones_doc["specific"])


def _source(where: str, entry: dict) -> str:
    source = entry.get("source")
    if not source:
        raise AnatomyError(f"{where}: no source")
    return source
