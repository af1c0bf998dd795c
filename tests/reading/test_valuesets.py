"""Value sets: the shipped files load and say the right things; wrong files fail start-up by name."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from cds_service.reading import REQUIRED_VALUESETS, check_valuesets
from cds_service.valuesets import EXT_BASE, ValueSetError, load_valuesets

from .conftest import VALUESETS_DIR
from .fhir import CPT, ICD, LOINC, RXNORM, SCT

REFERENCE = Path("/work/shared/reference/clinical-codes.md")


def test_every_needed_value_set_is_shipped(vs):
    check_valuesets(vs)
    assert REQUIRED_VALUESETS <= set(vs.names)


def test_every_file_names_its_source_and_marks_every_entry(vs):
    for name in vs.names:
        info = vs.info(name)
        assert "clinical-codes.md" in info.purpose or "Not in clinical-codes.md" in info.purpose, name
        for entry in vs.concepts(name):
            assert entry.verification in {"V", "M", "?"}


@pytest.mark.parametrize(
    ("name", "system", "code", "expected"),
    [
        ("order-mri-spine-lumbar", CPT, "72148", True),
        ("order-mri-spine-lumbar", CPT, "72141", False),
        ("order-mri-spine-cervical", LOINC, "30854-4", True),  # C+T+L spine is in each region
        ("order-mri-spine-lumbar", LOINC, "24531-6", False),  # US retroperitoneum, mislabelled in repos
        ("carpal-tunnel-syndrome", ICD, "G56.02", True),
        ("carpal-tunnel-syndrome", ICD, "g5602", True),  # undotted, lower case
        ("carpal-tunnel-syndrome", "urn:oid:2.16.840.1.113883.6.90", "G56.01", True),  # ICD-10-CM by OID
        ("carpal-tunnel-syndrome", ICD, "G56.21", False),
        ("fecal-incontinence", ICD, "R15.9", True),  # is-a R15
        ("fecal-incontinence", ICD, "R150", True),
        ("fecal-incontinence", ICD, "R16.0", False),
        ("cancer", ICD, "C50.911", True),  # is-a C00-C96 block
        ("cancer", ICD, "C7A.00", True),
        ("cancer", ICD, "D05.10", False),  # in situ: not in the block
        ("cancer", ICD, "Z85.3", True),
        ("spine-fracture", ICD, "S32.010A", True),
        ("spine-fracture", ICD, "S82.001A", False),
        ("radiculopathy", SCT, "128196005", True),
        ("radiculopathy", "http://snomed.info/sct/", "54404000", True),  # trailing slash
        ("anticoagulant", RXNORM, "11289", True),
        ("anticoagulant", None, "11289", False),  # no system: no coded match
        ("anticoagulant", "http://example.org/local", "11289", False),
        ("cardiac-device", SCT, "72506001", True),
    ],
)
def test_match(vs, name, system, code, expected):
    assert vs.match(name, system, code) is expected


def test_lookup_gives_attributes_and_the_most_specific_family(vs):
    assert dict(vs.lookup("carpal-tunnel-syndrome", ICD, "G56.02").attributes) == {"laterality": "left", "limb": "upper"}
    assert vs.lookup("radiculopathy", ICD, "M50.122").attr("spine-level") == "C5-C6"
    assert vs.lookup("myelopathy", ICD, "M47.12").attr("spine-region") == "cervical"  # listed code beats the M47.1 family
    assert vs.lookup("myelopathy", ICD, "M47.16").code == "M47.1"
    assert vs.lookup("cancer", ICD, "C79.51").attr("subtype") == "bone-metastasis"
    assert vs.lookup("order-mri-spine-lumbar", CPT, "72158").attr("contrast") == "without-and-with"


def test_marks_follow_the_reference(vs):
    # Spot checks against clinical-codes.md: [V] only where the source says so.
    assert vs.lookup("order-mri-spine-lumbar", CPT, "72148").verification == "V"
    assert vs.lookup("order-edx-needle-emg", CPT, "95861").verification == "M"
    assert vs.lookup("order-edx-nerve-conduction", CPT, "95910").verification == "V"
    assert vs.lookup("radiculopathy", ICD, "M51.17").verification == "V"
    assert vs.lookup("carpal-tunnel-syndrome", ICD, "G56.01").verification == "M"
    assert vs.lookup("order-edx-needle-emg", SCT, "42803009").verification == "M"
    assert vs.lookup("anticoagulant", RXNORM, "1114195").verification == "M"


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference file not present")
def test_every_verified_snomed_and_loinc_code_is_in_the_reference(vs):
    reference = REFERENCE.read_text()
    for name in vs.names:
        for e in vs.concepts(name):
            if e.system in (SCT, LOINC) and e.verification == "V":
                assert re.search(rf"\b{re.escape(e.code)}\b", reference), (name, e.code)


def test_terms_come_from_designations(vs):
    assert "Eliquis" in vs.terms("anticoagulant")
    assert vs.terms("order-mri-spine-lumbar") == ()


def test_unknown_value_set_name_is_a_programming_error(vs):
    with pytest.raises(KeyError):
        vs.match("no-such-set", ICD, "G56.0")


# --- failing start-up -----------------------------------------------------------------

_BASE = {
    "resourceType": "ValueSet",
    "id": "demo",
    "url": "https://example.org/ValueSet/demo",
    "status": "draft",
    "purpose": "Source: a test.",
    "compose": {
        "include": [
            {
                "system": SCT,
                "concept": [
                    {"code": "57406009", "display": "Carpal tunnel syndrome",
                     "extension": [{"url": EXT_BASE + "verification", "valueCode": "V"}]},
                ],
            }
        ]
    },
}


def _write(tmp_path: Path, resource: dict, name: str = "demo.json") -> Path:
    (tmp_path / name).write_text(json.dumps(resource))
    return tmp_path


def _broken(mutate) -> dict:
    r = copy.deepcopy(_BASE)
    mutate(r)
    return r


def _concept(r):
    return r["compose"]["include"][0]["concept"][0]


def _add_concept(r, code, display="x", mark="V"):
    r["compose"]["include"][0]["concept"].append(
        {"code": code, "display": display, "extension": [{"url": EXT_BASE + "verification", "valueCode": mark}]}
    )


def _add_filter(r, value, system=ICD, extra_filter=False):
    flt = {"property": "concept", "op": "is-a", "value": value,
           "extension": [{"url": EXT_BASE + "verification", "valueCode": "M"}, {"url": EXT_BASE + "display", "valueString": "fam"}]}
    inc = {"system": system, "filter": [flt] + ([dict(flt)] if extra_filter else [])}
    r["compose"]["include"].append(inc)


def test_a_good_file_loads(tmp_path):
    vs = load_valuesets(_write(tmp_path, _BASE))
    assert vs.names == ("demo",) and vs.match("demo", SCT, "57406009")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: _concept(r).update(code="57406008"), "Verhoeff"),
        (lambda r: _concept(r).update(code="5740600X"), "well-formed"),
        (lambda r: r["compose"]["include"][0].update(system="http://example.org/cs"), "unknown code system"),
        (lambda r: _add_concept(r, "57406009"), "duplicate"),
        (lambda r: _concept(r).update(extension=[]), "verification mark"),
        (lambda r: _concept(r).update(extension=[{"url": EXT_BASE + "verification", "valueCode": "X"}]), "verification mark"),
        (lambda r: _concept(r)["extension"].append({"url": EXT_BASE + "laterality", "valueCode": "up"}), "laterality"),
        (lambda r: _concept(r)["extension"].append({"url": "https://other.example/ext", "valueCode": "x"}), "unknown extension"),
        (lambda r: _concept(r).update(display=""), "display"),
        (lambda r: r.update(id="other"), "must equal the file name"),
        (lambda r: r.pop("purpose"), "purpose"),
        (lambda r: _add_filter(r, "57406009", system=SCT), "only 'concept is-a' filters on ICD-10-CM"),
        (lambda r: _add_filter(r, "G56.0", extra_filter=True), "exactly one filter"),
        (lambda r: (_add_filter(r, "G56.0"), _add_filter(r, "G56.0")), "duplicate"),
        (lambda r: r.update(compose={"include": [{"system": LOINC, "concept": [
            {"code": "24968-1", "display": "x", "extension": [{"url": EXT_BASE + "verification", "valueCode": "V"}]}]}]}), "LOINC check digit"),
        (lambda r: r.update(compose={"include": [
            {"system": ICD, "concept": [{"code": "G56.01", "display": "x", "extension": [{"url": EXT_BASE + "verification", "valueCode": "M"}]}]},
            {"system": ICD, "filter": [{"property": "concept", "op": "is-a", "value": "G56.0", "extension": [
                {"url": EXT_BASE + "verification", "valueCode": "M"}, {"url": EXT_BASE + "display", "valueString": "f"}]}]}]}),
         "already covered"),
        (lambda r: r.update(unknownElement=1), "not a valid FHIR ValueSet"),
    ],
)
def test_a_wrong_entry_fails_with_file_and_entry_named(tmp_path, mutate, message):
    with pytest.raises(ValueSetError) as err:
        load_valuesets(_write(tmp_path, _broken(mutate)))
    assert message in str(err.value)
    assert "demo.json" in str(err.value)


def test_unreadable_json_and_empty_folder_fail(tmp_path):
    with pytest.raises(ValueSetError, match="no value sets"):
        load_valuesets(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueSetError, match="bad.json: not readable JSON"):
        load_valuesets(tmp_path)


def test_missing_required_value_set_fails_check(tmp_path):
    vs = load_valuesets(_write(tmp_path, _BASE))
    with pytest.raises(ValueSetError, match="order-mri-spine-lumbar"):
        check_valuesets(vs)


def test_shipped_folder_is_the_settings_folder():
    from cds_service.settings import Settings

    assert Settings().valuesets_dir.resolve() == VALUESETS_DIR


def test_memberships_agree_with_lookup(vs):
    codes = [(ICD, "G56.02"), (ICD, "C79.51"), (ICD, "M47.16"), (ICD, "E11.42"), (SCT, "57406009"), (CPT, "72148"),
             ("urn:oid:2.16.840.1.113883.6.90", "z853"), (ICD, "ZZZ"), (None, "G56.02")]
    for system, code in codes:
        expected = {n: vs.lookup(n, system, code) for n in vs.names}
        expected = {n: e for n, e in expected.items() if e is not None}
        assert {e.value_set: e for e in vs.memberships(system, code)} == expected


def test_lookups_seen_before_give_the_same_entries_and_the_memo_is_bounded(vs):
    codes = [(ICD, "G56.02"), (ICD, "g5602"), (ICD, "M47.16"), (ICD, "ZZZ"), (None, "G56.02"), (CPT, "72148")]
    first = [(n, s, c, vs.lookup(n, s, c)) for n in vs.names for s, c in codes]
    assert any(e is not None for *_, e in first) and any(e is None for *_, e in first)
    assert [(n, s, c, vs.lookup(n, s, c)) for n, s, c, _ in first] == first
    for i in range(60_000):  # codes come from requests: the memo stops growing
        vs.lookup("radiculopathy", ICD, f"Q{i}")
    assert len(vs._lookup_cache) <= 50_000
    assert vs.lookup("radiculopathy", ICD, "M50.122").attr("spine-level") == "C5-C6"
    with pytest.raises(KeyError):
        vs.lookup("no-such-value-set", ICD, "G56.02")
