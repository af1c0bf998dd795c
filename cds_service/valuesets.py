"""Code value sets: loaded once from ``config/valuesets/``, then asked "is this code in X?".

Each file is one FHIR R4 ValueSet resource naming one clinical concept (its
``id`` is the file name and the name code asks for). Codes sit in
``compose.include`` either as listed ``concept`` entries or, for ICD-10-CM code
families, as an ``is-a`` ``filter``. No terminology server is reachable, so
``is-a`` is evaluated locally, and only where the code itself carries the
hierarchy: an ICD-10-CM code is-a every code it extends (``G56.01`` is-a
``G56.0`` is-a ``G56``) and every block of categories it falls in
(``C50.911`` is-a ``C00-C96``). SNOMED CT hierarchies are not in the code, so a
SNOMED ``is-a`` filter fails start-up instead of silently matching nothing.

Every listed concept and filter carries a verification mark (V = checked against
a named source, M = believed right but unchecked, ? = unsure), copied from
``clinical-codes.md``. Concepts and filters may carry attributes the reader
needs (laterality, spine region, spine level, contrast, subtype) as extensions;
``designation`` values are words the reader may look for in free text when no
coding matches (brand names of a drug, say).

Anything wrong in a file (unknown system, malformed code, failed check digit,
duplicate entry, missing mark) fails start-up with the file and the entry named.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

#: Code systems a value set may use. Other systems fail start-up.
KNOWN_SYSTEMS = (SNOMED, LOINC, CPT, ICD10CM, RXNORM)

#: The HL7 OIDs of the same code systems: EHRs that build FHIR from C-CDA often
#: send ``urn:oid:`` systems. Mapped so that a coded fact is not lost to spelling.
SYSTEM_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "urn:oid:2.16.840.1.113883.6.96": SNOMED,
        "urn:oid:2.16.840.1.113883.6.1": LOINC,
        "urn:oid:2.16.840.1.113883.6.12": CPT,
        "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
        "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    }
)

#: Our extensions on ValueSet concepts and filters.
EXT_BASE = "https://spine-order-cds.example.org/fhir/StructureDefinition/"
EXT_VERIFICATION = EXT_BASE + "verification"
EXT_VERIFICATION_NOTE = EXT_BASE + "verification-note"
#: Attribute extensions: url suffix -> allowed values (None: any non-empty string).
ATTRIBUTES: Mapping[str, frozenset[str] | None] = MappingProxyType(
    {
        "laterality": frozenset({"left", "right", "bilateral"}),
        "spine-region": frozenset({"cervical", "thoracic", "lumbar"}),
        "spine-level": None,  # checked against _LEVEL_RE below
        "contrast": frozenset({"without", "with", "without-and-with"}),
        "limb": frozenset({"upper", "lower"}),
        "subtype": None,
    }
)
VERIFICATION_MARKS = frozenset({"V", "M", "?"})

_CODE_FORMAT = {
    SNOMED: re.compile(r"\d{6,18}"),
    LOINC: re.compile(r"\d{1,7}-\d"),
    CPT: re.compile(r"\d{4}[0-9FTU]"),
    ICD10CM: re.compile(r"[A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?"),
    RXNORM: re.compile(r"\d{1,8}"),
}
#: An ICD-10-CM block of categories, e.g. ``C00-C96``: an is-a filter value only.
_ICD_BLOCK_RE = re.compile(r"([A-TV-Z])(\d{2})-([A-TV-Z])(\d{2})")
_ICD_CATEGORY_RE = re.compile(r"[A-TV-Z]\d[0-9A-Z]")
_ICD_UNDOTTED_RE = re.compile(r"[A-TV-Z]\d[0-9A-Z][0-9A-Z]{1,4}")
_LEVEL_RE = re.compile(r"(C[1-7]|T(?:[1-9]|1[0-2])|L[1-5])-(C[2-7]|T(?:[1-9]|1[0-2])|L[1-5]|S1)")


class ValueSetError(ValueError):
    """A value set file is unreadable or wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class Concept:
    """One code (or one is-a code family) of a value set, with what the file says about it."""

    value_set: str
    system: str
    code: str
    display: str
    verification: str
    verification_note: str | None = None
    #: Attribute extensions by short name, e.g. {"laterality": "left"}.
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: True for an is-a filter entry: the code is the family's root.
    family: bool = False
    #: Free-text synonyms (designations) of this code, e.g. brand names of a drug.
    designations: tuple[str, ...] = ()

    def attr(self, name: str) -> str | None:
        return self.attributes.get(name)

    @property
    def token(self) -> str:
        """``system|code`` as FHIR search writes a coding."""
        return f"{self.system}|{self.code}"


@dataclass(frozen=True)
class ValueSetInfo:
    name: str
    title: str
    version: str | None
    url: str
    purpose: str
    path: str
    #: Free-text synonyms (designations) the reader may match when no coding does.
    terms: tuple[str, ...]


def canonical_system(system: str | None) -> str | None:
    """The code system URI we index under: OIDs mapped, a trailing slash dropped."""
    if not system:
        return None
    system = system.strip().rstrip("/")
    return SYSTEM_ALIASES.get(system, system)


def canonical_code(system: str | None, code: str | None) -> str | None:
    """The code as indexed: trimmed; ICD-10-CM upper-cased with its dot put back (``G5601`` -> ``G56.01``)."""
    if not code:
        return None
    code = code.strip()
    if system == ICD10CM:
        code = code.upper()
        if _ICD_UNDOTTED_RE.fullmatch(code):
            code = code[:3] + "." + code[3:]
    return code or None


#: A lookup not cached yet (None is a cached "not in the value set").
_UNSEEN = object()
#: Entries each of the lookup caches keeps at most: their keys come from requests (codes, not patient data).
_CACHE_ENTRIES = 50_000


class ValueSets:
    """The loaded value sets, indexed for constant-time lookup by (system, code)."""

    def __init__(self, infos: Mapping[str, ValueSetInfo], concepts: Iterable[Concept]):
        self._infos = MappingProxyType(dict(infos))
        exact: dict[str, dict[tuple[str, str], Concept]] = {name: {} for name in self._infos}
        families: dict[str, dict[str, list[Concept]]] = {name: {} for name in self._infos}
        by_code: dict[tuple[str, str], list[Concept]] = {}
        self._all: dict[str, list[Concept]] = {name: [] for name in self._infos}
        for c in concepts:
            self._all[c.value_set].append(c)
            if c.family:
                families[c.value_set].setdefault(c.system, []).append(c)
            else:
                exact[c.value_set][(c.system, c.code)] = c
                by_code.setdefault((c.system, c.code), []).append(c)
        self._exact = exact
        self._families = families
        self._by_code = by_code
        self._families_by_system: dict[str, list[Concept]] = {}
        for c in self._iter_families():
            self._families_by_system.setdefault(c.system, []).append(c)
        self._membership_cache: dict[tuple[str, str], tuple[Concept, ...]] = {}
        self._lookup_cache: dict[tuple[str, Any, Any], Concept | None] = {}

    def _iter_families(self):
        for by_system in self._families.values():
            for fams in by_system.values():
                yield from fams

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._infos))

    def info(self, name: str) -> ValueSetInfo:
        """:raise KeyError: for a value set that was not loaded (a programming error)."""
        return self._infos[name]

    def require(self, names: Iterable[str]) -> None:
        """:raise ValueSetError: naming every value set in ``names`` that was not loaded."""
        missing = sorted(set(names) - set(self._infos))
        if missing:
            raise ValueSetError(f"value set(s) needed but not found in config/valuesets: {', '.join(missing)}")

    def lookup(self, name: str, system: str | None, code: str | None) -> Concept | None:
        """The entry of value set ``name`` that ``system``/``code`` falls under, or None.

        An exact entry wins over a family; among families the longest (most
        specific) root wins, so its attributes apply.

        :raise KeyError: for a value set that was not loaded (a programming error).
        """
        key = (name, system, code)
        found = self._lookup_cache.get(key, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        exact = self._exact[name]
        system = canonical_system(system)
        code = canonical_code(system, code)
        best: Concept | None = None
        if system and code:
            best = exact.get((system, code))
            if best is None:
                for fam in self._families[name].get(system, ()):
                    if _is_a(system, code, fam.code) and (best is None or len(fam.code) > len(best.code)):
                        best = fam
        if len(self._lookup_cache) < _CACHE_ENTRIES:
            self._lookup_cache[key] = best
        return best

    def memberships(self, system: str | None, code: str | None) -> tuple[Concept, ...]:
        """Every value set's entry that ``system``/``code`` falls under (one per value set, as :meth:`lookup`)."""
        system = canonical_system(system)
        code = canonical_code(system, code)
        if not system or not code:
            return ()
        key = (system, code)
        cached = self._membership_cache.get(key)
        if cached is not None:
            return cached
        found: dict[str, Concept] = {c.value_set: c for c in self._by_code.get(key, ())}
        for fam in self._families_by_system.get(system, ()):
            old = found.get(fam.value_set)
            if old is not None and (not old.family or len(old.code) >= len(fam.code)):
                continue
            if _is_a(system, code, fam.code):
                found[fam.value_set] = fam
        result = tuple(found.values())
        if len(self._membership_cache) < _CACHE_ENTRIES:
            self._membership_cache[key] = result
        return result

    def match(self, name: str, system: str | None, code: str | None) -> bool:
        """True when the coding is in value set ``name``.

        :raise KeyError: for a value set that was not loaded (a programming error).
        """
        return self.lookup(name, system, code) is not None

    def concepts(self, name: str) -> tuple[Concept, ...]:
        """Every entry of value set ``name`` (codes and is-a families), in file order.

        :raise KeyError: for a value set that was not loaded (a programming error).
        """
        return tuple(self._all[name])

    def terms(self, name: str) -> tuple[str, ...]:
        """Free-text synonyms of value set ``name`` (its concepts' designations)."""
        return self._infos[name].terms

    def __len__(self) -> int:
        return len(self._infos)


def _is_a(system: str, code: str, root: str) -> bool:
    """ICD-10-CM subsumption read from the code: same prefix, or inside a block of categories."""
    if system != ICD10CM:
        return False
    block = _ICD_BLOCK_RE.fullmatch(root)
    if block:
        letter_lo, lo, letter_hi, hi = block.groups()
        category = code[:3]
        if not _ICD_CATEGORY_RE.fullmatch(category):
            return False
        # Categories such as C7A sit among the C7x categories: compare on the digits only.
        category_num = int(category[1:3]) if category[2].isdigit() else int(category[1]) * 10 + 9
        letter = category[0]
        return (letter_lo <= letter <= letter_hi
                and (letter > letter_lo or category_num >= int(lo))
                and (letter < letter_hi or category_num <= int(hi)))
    if code == root:
        return True
    # "G56" covers "G56.0" and "G56.01"; "G56.0" covers "G56.01" but not "G56.1".
    stem = root if "." in root else root + "."
    return code.startswith(stem)


# --- loading -----------------------------------------------------------------


_ValueSet = get_fhir_model_class("ValueSet")


def load_valuesets(path: Path | str) -> ValueSets:
    """Read every ``*.json`` ValueSet in ``path``.

    :raise ValueSetError: when the folder has no value sets, or a file is not
        valid JSON / not a valid FHIR ValueSet, or an entry is wrong: unknown
        system, malformed code or failed check digit, a duplicate code or filter,
        a missing or unknown verification mark or attribute, an unsupported
        filter. The message names the file and the entry.
    """
    folder = Path(path)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueSetError(f"no value sets (*.json) in {folder}")
    infos: dict[str, ValueSetInfo] = {}
    concepts: list[Concept] = []
    for file in files:
        info, entries = _load_file(file)
        if info.name in infos:
            raise ValueSetError(f"{file.name}: value set id {info.name!r} already loaded from {infos[info.name].path}")
        infos[info.name] = info
        concepts.extend(entries)
    return ValueSets(infos, concepts)


def _load_file(file: Path) -> tuple[ValueSetInfo, list[Concept]]:
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueSetError(f"{file.name}: not readable JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict) or raw.get("resourceType") != "ValueSet":
        raise ValueSetError(f"{file.name}: expected a FHIR ValueSet resource")
    try:
        vs = _ValueSet.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValueSetError(f"{file.name}: not a valid FHIR ValueSet at {where}: {first.get('msg')}") from None
    name = vs.id or ""
    if name != file.stem:
        raise ValueSetError(f"{file.name}: ValueSet.id {name!r} must equal the file name {file.stem!r}")
    if not vs.url or not vs.purpose or not str(vs.purpose).strip():
        raise ValueSetError(f"{file.name}: url and purpose (the source note) are required")
    if vs.compose is None or not vs.compose.include:
        raise ValueSetError(f"{file.name}: compose.include is empty")
    if vs.compose.exclude:
        raise ValueSetError(f"{file.name}: compose.exclude is not supported")
    seen: dict[tuple[str, str, bool], str] = {}
    entries: list[Concept] = []
    terms: list[str] = []
    for i, include in enumerate(vs.compose.include):
        where = f"{file.name}: compose.include[{i}]"
        if include.valueSet:
            raise ValueSetError(f"{where}: including other value sets is not supported")
        system = include.system
        if system not in KNOWN_SYSTEMS:
            raise ValueSetError(f"{where}: unknown code system {system!r} (known: {', '.join(KNOWN_SYSTEMS)})")
        if bool(include.concept) == bool(include.filter):
            raise ValueSetError(f"{where}: needs either concept or filter, not both or neither")
        for j, concept in enumerate(include.concept or ()):
            at = f"{where}.concept[{j}] {concept.code!r}"
            _check_code(system, concept.code, at)
            if not concept.display or not concept.display.strip():
                raise ValueSetError(f"{at}: display is required")
            mark, note, attrs = _read_extensions(concept.extension, at)
            designations = []
            for d in concept.designation or ():
                if not d.value or not d.value.strip():
                    raise ValueSetError(f"{at}: empty designation")
                designations.append(d.value.strip())
            entry = Concept(
                name, system, canonical_code(system, concept.code), concept.display.strip(), mark, note,
                MappingProxyType(attrs), designations=tuple(designations),
            )
            _no_duplicate(seen, entry, at)
            entries.append(entry)
            terms.extend(designations)
        if include.filter:
            if len(include.filter) != 1:
                # FHIR ANDs the filters of one include; one family per include keeps it simple.
                raise ValueSetError(f"{where}: exactly one filter per include (FHIR ANDs several)")
            flt = include.filter[0]
            at = f"{where}.filter[0] {flt.value!r}"
            if system != ICD10CM or flt.property != "concept" or flt.op != "is-a":
                raise ValueSetError(f"{at}: only 'concept is-a' filters on ICD-10-CM are evaluated locally")
            if not _ICD_BLOCK_RE.fullmatch(flt.value or ""):
                _check_code(system, flt.value, at)
            mark, note, attrs = _read_extensions(flt.extension, at)
            display = _display_of(flt.extension, at)
            entry = Concept(name, system, canonical_code(system, flt.value), display, mark, note, MappingProxyType(attrs), family=True)
            _no_duplicate(seen, entry, at)
            entries.append(entry)
    _no_redundant_members(entries, file.name)
    info = ValueSetInfo(
        name=name,
        title=vs.title or name,
        version=vs.version,
        url=vs.url,
        purpose=" ".join(str(vs.purpose).split()),
        path=str(file),
        terms=tuple(dict.fromkeys(terms)),
    )
    return info, entries


def _check_code(system: str, code: str | None, at: str) -> None:
    if not code or not _CODE_FORMAT[system].fullmatch(code):
        raise ValueSetError(f"{at}: not a well-formed {system} code")
    if system == SNOMED:
        if not _verhoeff_ok(code):
            raise ValueSetError(f"{at}: SNOMED CT check digit (Verhoeff) fails: a mistyped code")
        if code[-3:-1] not in ("00", "10"):
            raise ValueSetError(f"{at}: SNOMED CT partition {code[-3:-1]} is not a concept identifier")
    if system == LOINC and not _loinc_check_ok(code):
        raise ValueSetError(f"{at}: LOINC check digit (mod 10) fails: a mistyped code")


def _read_extensions(extensions, at: str) -> tuple[str, str | None, dict[str, str]]:
    mark = None
    note = None
    attrs: dict[str, str] = {}
    for ext in extensions or ():
        if ext.url == EXT_VERIFICATION:
            mark = ext.valueCode
        elif ext.url == EXT_VERIFICATION_NOTE:
            note = ext.valueString
        elif ext.url == EXT_BASE + "display":
            continue
        elif ext.url.startswith(EXT_BASE) and ext.url[len(EXT_BASE):] in ATTRIBUTES:
            key = ext.url[len(EXT_BASE):]
            value = ext.valueCode or ext.valueString
            allowed = ATTRIBUTES[key]
            if not value or (allowed is not None and value not in allowed):
                raise ValueSetError(f"{at}: attribute {key} has value {value!r}; allowed: {sorted(allowed or [])}")
            if key == "spine-level" and not _LEVEL_RE.fullmatch(value):
                raise ValueSetError(f"{at}: spine-level {value!r} is not a disc level such as C5-C6 or L5-S1")
            if key in attrs:
                raise ValueSetError(f"{at}: attribute {key} given twice")
            attrs[key] = value
        else:
            raise ValueSetError(f"{at}: unknown extension {ext.url!r}")
    if mark not in VERIFICATION_MARKS:
        raise ValueSetError(f"{at}: verification mark (extension {EXT_VERIFICATION}) must be one of V, M, ?")
    return mark, note, attrs


def _display_of(extensions, at: str) -> str:
    # A filter has no display element; the family's name is an extension so that
    # evidence can say what matched.
    for ext in extensions or ():
        if ext.url == EXT_BASE + "display" and ext.valueString and ext.valueString.strip():
            return ext.valueString.strip()
    raise ValueSetError(f"{at}: a filter needs a display (extension {EXT_BASE}display)")


def _no_duplicate(seen: dict, entry: Concept, at: str) -> None:
    key = (entry.system, entry.code, entry.family)
    if key in seen:
        raise ValueSetError(f"{at}: duplicate of {seen[key]}")
    seen[key] = at


def _no_redundant_members(entries: list[Concept], file_name: str) -> None:
    # A listed code already covered by a family is only allowed when it adds
    # attributes (a laterality, a level); otherwise it is a duplicate in disguise.
    families = [e for e in entries if e.family]
    for e in entries:
        if e.family:
            continue
        for fam in families:
            if _is_a(e.system, e.code, fam.code) and dict(e.attributes) == dict(fam.attributes):
                raise ValueSetError(
                    f"{file_name}: concept {e.code!r} is already covered by is-a {fam.code!r} with the same attributes"
                )


# --- check digits --------------------------------------------------------------

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def _verhoeff_ok(digits: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit."""
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(ch)]]
    return check == 0


def _loinc_check_ok(code: str) -> bool:
    """LOINC codes end in a mod-10 check digit (the LOINC manual's algorithm)."""
    body, check = code.split("-")
    rev = body[::-1]
    doubled = str(int(rev[0::2][::-1]) * 2)
    kept = rev[1::2][::-1]
    total = sum(int(ch) for ch in kept + doubled)
    return (10 - total % 10) % 10 == int(check)
