"""The fast path accepts only what fhir.resources accepts, with the same values; the reader reads both alike.

Differential: every resource of the scenarios, the demo patients and a list of odd but
legal ones, and thousands of broken variants of them (wrong kinds, nulls, bad dates,
unknown or misspelt elements, extensions, two values of one choice, missing required
elements), go through both paths. Wherever the fast path gives a node, fhir.resources
must accept the resource and give the same value, type included, for every element.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from cds_service.fhir import fastpath
from cds_service.fhir.parse import InvalidResource, entries, model_class, parse_for_record, parse_resource
from cds_service.reading import read_record
from cds_service.record import PatientRecord
from cds_service.settings import PROJECT_ROOT
from cds_service.valuesets import load_valuesets
from tests.scenarios.build import build

from .test_parse import ODD_BUT_LEGAL

SCENARIOS = yaml.safe_load((PROJECT_ROOT / "tests" / "scenarios" / "scenarios.yaml").read_text())

#: Legal R4 the scenarios do not show: extensions everywhere, choice types, narrative, contained.
MORE_ODD_BUT_LEGAL = [
    {"resourceType": "Condition", "id": "c-ext", "subject": {"reference": "Patient/p-1", "display": "A"},
     "extension": [{"url": "http://example.org/a", "valueCodeableConcept": {"text": "x"}},
                   {"url": "http://example.org/b", "extension": [{"url": "n", "valueInteger": 3}]}],
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "23056005", "userSelected": True,
                          "extension": [{"url": "http://example.org/c", "valueBoolean": True}]}]},
     "onsetRange": {"low": {"value": 40, "unit": "a"}, "high": {"value": 45.5, "unit": "a"}},
     "abatementString": "after surgery", "recordedDate": "2024-03-05T10:11:12.5+01:00",
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Sciatica</div>"},
     "meta": {"lastUpdated": "2026-01-02T03:04:05Z", "profile": ["http://example.org/p"]},
     "note": [{"text": "**markdown**", "time": "2026-01", "authorString": "Dr X"}]},
    {"resourceType": "Observation", "id": "o-ext", "status": "amended", "code": {"text": "temp"},
     "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-02T08:00:00Z"}, "issued": "2026-11-02T08:00:00.123Z",
     "valueQuantity": {"value": 38.25, "comparator": ">=", "unit": "Cel", "system": "http://unitsofmeasure.org",
                       "code": "Cel"},
     "interpretation": [{"coding": [{"code": "H"}]}], "referenceRange": [{"low": {"value": 36}, "text": "normal"}],
     "_status": {"extension": [{"url": "http://example.org/s", "valueString": "x"}]}},
    {"resourceType": "Observation", "id": "o-period", "status": "final", "code": {"text": "x"},
     "effectiveTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}, "valueBoolean": False},
    {"resourceType": "Observation", "id": "o-int", "status": "final", "code": {"text": "x"}, "valueInteger": 7,
     "effectiveInstant": "2026-11-02T08:00:00Z", "component": [{"code": {"text": "y"}, "valueRatio": {
         "numerator": {"value": 1}, "denominator": {"value": 2}}}]},
    {"resourceType": "DiagnosticReport", "id": "r-html", "status": "final", "code": {"text": "MRI"},
     "presentedForm": [{"contentType": "text/html", "data": "PHA+Tm8gc3Rlbm9zaXMuPC9wPg==", "size": 22,
                        "creation": "2026-01-01"}],
     "conclusionCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}], "issued": "2026-01-01T00:00:00Z"},
    {"resourceType": "MedicationRequest", "id": "m-ref", "status": "active", "intent": "order",
     "subject": {"reference": "Patient/p-1"}, "medicationReference": {"reference": "#med", "display": "Apixaban"},
     "contained": [{"resourceType": "Medication", "id": "med", "code": {"text": "Apixaban"}}],
     "dosageInstruction": [{"text": "1 daily", "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}]},
    {"resourceType": "Device", "id": "d-1", "status": "active", "type": {"text": "Pacemaker"},
     "deviceName": [{"name": "Accolade", "type": "model-name"}], "manufactureDate": "2019-05-01T00:00:00Z"},
    {"resourceType": "Patient", "id": "p-given", "name": [{"given": ["A", "B"], "_given": [None, {"extension": [
        {"url": "http://example.org/x", "valueString": "y"}]}]}], "birthDate": "1970", "deceasedBoolean": False,
     "gender": "other", "multipleBirthInteger": 2},
]


def _resources() -> list[dict]:
    out = [copy.deepcopy(r) for r in ODD_BUT_LEGAL + MORE_ODD_BUT_LEGAL]
    for scenario in SCENARIOS:
        request = build(scenario, patient_id="p-1")
        for value in request["prefetch"].values():
            out += [e.resource for e in entries(value)]
        out += [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    for path in sorted((PROJECT_ROOT / "demo" / "patients").glob("*.json")):
        out += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return out


CORPUS = _resources()


def plain(value):
    """A node or model as nested dicts of its set attributes; leaves keep their type."""
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields
                if getattr(value, name) is not None}
    if isinstance(value, fastpath.FhirNode):
        return {name: plain(v) for name, v in vars(value).items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return (float, "nan")
    return (type(value), value)


def both(raw: dict):
    """(fast result or "undecided", slow result or "invalid")."""
    try:
        fast = fastpath.validate(model_class(raw["resourceType"]), raw)
    except fastpath.Undecided:
        fast = "undecided"
    try:
        slow = model_class(raw["resourceType"]).model_validate(raw)
    except Exception:  # noqa: BLE001 -- fhir.resources raises more than ValidationError (a KeyError for one)
        slow = "invalid"
    return fast, slow


def check_agrees(raw: dict) -> bool:
    """True when the fast path decided; it must then agree with fhir.resources."""
    fast, slow = both(raw)
    if fast == "undecided":
        return False
    assert slow != "invalid", f"fast path accepted what fhir.resources rejects: {json.dumps(raw, default=str)[:400]}"
    assert plain(fast) == plain(slow), json.dumps(raw, default=str)[:400]
    return True


def test_the_fast_path_takes_the_common_case_and_agrees():
    decided = [check_agrees(r) for r in CORPUS]
    assert len(CORPUS) > 150
    # Not vacuous: most real-shaped resources are decided by the fast path.
    assert sum(decided) / len(decided) > 0.9, f"{sum(decided)} of {len(decided)}"


def test_odd_but_legal_resources_give_the_same_values_either_way():
    for raw in ODD_BUT_LEGAL + MORE_ODD_BUT_LEGAL:
        check_agrees(raw)
        node = parse_for_record(raw)  # fast or not, never refused
        assert node.get_resource_type() == raw["resourceType"] and node.id == raw["id"]


BAD_VALUES = [
    None, "", " ", " padded ", "two  spaces", "x", "a\x00b", 0, -1, 2**70, 1.5, float("nan"), float("inf"), True, False,
    [], {}, [None], [{}], ["x"], [1], "not-a-date", "2026-13-45", "2026-02-30", "2026-02-28T25:00:00Z", "2024",
    "2024-03", "2026-09-08T10:00:00+05:00", "2026-09-08T10:00:00", "2026-09-08T10:00:60Z", "SGVsbG8=", "%%%",
    {"bogus": 1}, [{"bogus": 1}], {"text": "x"}, [{"text": "x"}], '{"text": "x"}', {"reference": "Patient/p-1"},
    {"value": "1.5"}, {"value": 1}, {"coding": [{"code": "a b"}]}, {"coding": {"code": "a"}},
]
EXTENSION = [{"url": "http://example.org/x", "valueCode": "unknown"}]


def _sites(resource: dict):
    """(container, key) of every element down to two levels below the resource (lists: their first item)."""
    for key, value in resource.items():
        if key == "resourceType":
            continue
        yield resource, key
        children = [value] if isinstance(value, dict) else value[:1] if isinstance(value, list) else []
        for child in children:
            if isinstance(child, dict):
                for sub_key, sub_value in child.items():
                    yield child, sub_key
                    grand = [sub_value] if isinstance(sub_value, dict) else sub_value[:1] if isinstance(sub_value, list) else []
                    for g in grand:
                        if isinstance(g, dict):
                            for g_key in g:
                                yield g, g_key


def _variants(resource: dict):
    sites = list(_sites(resource))
    for index in range(len(sites)):
        for bad in BAD_VALUES + ["<delete>", "<ext>", "<python-name>"]:
            variant = copy.deepcopy(resource)
            container, key = list(_sites(variant))[index]
            if bad == "<delete>":
                del container[key]
            elif bad == "<ext>":
                container["_" + key] = {"extension": EXTENSION}
            elif bad == "<python-name>":
                container[key + "__ext"] = {"extension": EXTENSION}
            else:
                container[key] = copy.deepcopy(bad)
            yield variant
    for container, _ in [(resource, None)] + sites[:6]:
        for extra in ({"bogusField": "x"}, {"extension": EXTENSION}, {"modifierExtension": EXTENSION},
                      {"onsetString": "2020"}, {"valueString": "y"}, {"effectiveInstant": "2026-01-01T00:00:00Z"},
                      {"resourceType": "Coding"}, {"fhir_comments": ["c"]}, {"id": "x y"}):
            variant = copy.deepcopy(resource)
            target = variant if container is resource else _find_same(variant, resource, container)
            if isinstance(target, dict):
                target.update(copy.deepcopy(extra))
                yield variant


def _find_same(variant: dict, original: dict, container):
    for (c1, _), (c2, _) in zip(_sites(original), _sites(variant)):
        if c1 is container:
            return c2
    return None


def _sample() -> list[dict]:
    """The two resources with the most elements per type and source: every shape, in a few seconds."""
    by_type: dict[str, list[dict]] = {}
    for r in CORPUS:
        by_type.setdefault(r["resourceType"], []).append(r)
    out = []
    for resources in by_type.values():
        out += sorted(resources, key=lambda r: -len(json.dumps(r)))[:2]
    return out + MORE_ODD_BUT_LEGAL[:3]


@pytest.mark.parametrize("resource", _sample(), ids=lambda r: f"{r['resourceType']}-{r.get('id')}")
def test_broken_variants_are_never_accepted_by_the_fast_path_alone(resource):
    decided = undecided = 0
    for variant in _variants(resource):
        if check_agrees(variant):
            decided += 1
        else:
            undecided += 1
    assert decided and undecided  # both ways were exercised


@pytest.mark.parametrize("raw", [
    {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"}, "bogusField": "Jane Secretname"},
    {"resourceType": "Observation", "id": "o", "code": {"text": "x"}},  # status is required
    {"resourceType": "Patient", "birthDate": "Jane Secretname"},
    {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"}, "onsetDateTime": "2020",
     "onsetString": "Jane Secretname"},
    {"resourceType": "NotAType", "id": "x"},
    {"id": "no-type"},
    "Jane Secretname",
    # fhir_core raises a KeyError (not a ValidationError) for a contained resource of an unknown type.
    {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"},
     "contained": [{"resourceType": "Secretname", "id": "x"}]},
])
def test_invalid_resources_are_refused_as_before_without_content(raw):
    for parse in (parse_for_record, parse_resource):
        with pytest.raises(InvalidResource) as info:
            parse(raw)
        assert "Secretname" not in str(info.value)
        assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)


def test_nodes_read_like_models():
    raw = MORE_ODD_BUT_LEGAL[0]
    node = parse_for_record(raw)
    model = parse_resource(raw)
    assert isinstance(node, fastpath.FhirNode)
    assert node.clinicalStatus is None and node.code.coding[0].userSelected is True  # absent vs set
    assert node.onsetRange.high.value == model.onsetRange.high.value == Decimal("45.5")
    with pytest.raises(AttributeError):
        node.notAnElement  # noqa: B018 (as on the model: a typo is an error, not None)
    with pytest.raises(AttributeError):
        node.id = "changed"
    assert node.model_dump(mode="json", exclude_none=True) == model.model_dump(mode="json", exclude_none=True)


def _record(request: dict, parse) -> PatientRecord:
    record = PatientRecord()
    for value in request["prefetch"].values():
        for entry in entries(value):
            record.add(parse(entry.resource))
    return record


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"][:60])
def test_the_reader_reads_nodes_as_it_reads_models(scenario):
    valuesets = _valuesets()
    request = build(scenario, patient_id="p-1")
    now = datetime.fromisoformat(str(scenario.get("now", "2026-11-26"))).replace(tzinfo=timezone.utc)
    from_nodes = read_record(_record(request, parse_for_record), valuesets, now)
    from_models = read_record(_record(request, parse_resource), valuesets, now)
    assert from_nodes == from_models


_VS = []


def _valuesets():
    if not _VS:
        _VS.append(load_valuesets(Path(PROJECT_ROOT) / "config" / "valuesets"))
    return _VS[0]
