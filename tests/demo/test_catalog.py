"""The demo catalog and bundles: coverage of the card kinds, valid FHIR, fixed ids, generated files current."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.demo import HOOKS, DemoError, load_catalog
from cds_service.fhir.parse import parse_resource
from cds_service.registry import load_definitions
from cds_service.settings import PROJECT_ROOT

DEMO_DIR = PROJECT_ROOT / "demo"
DEFINITIONS = load_definitions(PROJECT_ROOT / "hooks")


def _script():
    spec = importlib.util.spec_from_file_location("demo_requests", PROJECT_ROOT / "scripts" / "demo_requests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalog_covers_every_card_kind_and_some_no_card_cases(demo_app, catalog):
    kinds = set(demo_app.extensions["cds_engine"].cards.kinds)
    assert len(kinds) == 9  # imaging-study-choice added (issue 16 item 2)
    shown = {k for p in catalog.patients for hook in HOOKS for k in p.expected[hook]}
    assert shown == kinds
    no_card = [p.id for p in catalog.patients if not any(p.expected[h] for h in HOOKS)]
    assert len(no_card) >= 2
    assert len(catalog.patients) >= 10
    # Every bundle in demo/patients is in the catalog (the FHIR e2e fixture loads them all).
    assert {p.stem for p in (DEMO_DIR / "patients").glob("*.json")} == {p.id for p in catalog.patients}


def test_every_patient_has_a_spine_draft_order_with_cpt_and_a_reason(catalog):
    for patient in catalog.patients:
        assert patient.title and len(patient.story.split(". ")) >= 2, patient.id
        for order in patient.draft_orders:
            assert any(c["system"] == "http://www.ama-assn.org/go/cpt" for c in order["code"]["coding"]), order["id"]
            assert order["reasonCode"] and order["subject"] == {"reference": f"Patient/{patient.id}"}
        assert set(patient.selections) <= {f"ServiceRequest/{o['id']}" for o in patient.draft_orders}
    assert sum(1 for p in catalog.patients if len(p.draft_orders) > 1) >= 3  # order-sign sees several


@pytest.mark.parametrize("path", sorted((DEMO_DIR / "patients").glob("*.json")), ids=lambda p: p.stem)
def test_bundles_are_valid_fhir_transactions_of_puts_with_fixed_ids(path):
    bundle = json.loads(path.read_text())
    parse_resource(bundle)  # the Bundle itself, as fhir.resources R4B reads it
    assert bundle["type"] == "transaction"
    ids = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        parse_resource(resource)  # each resource on its own, as the service parses a record
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        assert (resource["resourceType"], resource["id"]) not in ids
        ids.add((resource["resourceType"], resource["id"]))
        # Patient-scoped ids, so all demo patients share one FHIR server without clashes.
        assert resource["id"].startswith(path.stem)
        ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
        assert resource["resourceType"] == "Patient" or ref == f"Patient/{path.stem}"


def test_served_requests_years_later_are_still_valid_fhir(catalog):
    from datetime import datetime, timezone

    later = datetime(2031, 3, 1, 9, 0, tzinfo=timezone.utc)
    for patient in catalog.patients:
        body = catalog.request(patient.id, "order-sign", now=later)
        for value in body["prefetch"].values():
            if value is not None:
                parse_resource(value)
        for entry in body["context"]["draftOrders"]["entry"]:
            parse_resource(entry["resource"])


def test_the_committed_requests_and_readmes_are_what_the_script_writes():
    files = _script().render()
    assert len([p for p in files if p.suffix == ".json"]) == 2 * len(list((DEMO_DIR / "patients").glob("*.json")))
    assert PROJECT_ROOT / "README.md" in files  # its Quick start table of the demo patients
    for path, text in files.items():
        assert path.is_file() and path.read_text() == text, \
            f"{path.relative_to(PROJECT_ROOT)} is stale: run .venv/bin/python scripts/demo_requests.py"
    committed = set((DEMO_DIR / "requests").glob("*.json"))
    assert committed == {p for p in files if p.suffix == ".json"}


def test_static_requests_fill_every_prefetch_key_of_the_hook(catalog):
    for service in DEFINITIONS:
        for patient in catalog.patients:
            body = json.loads((DEMO_DIR / "requests" / f"{patient.id}.{service.hook}.json").read_text())
            assert body["hook"] == service.hook and body["context"]["patientId"] == patient.id
            assert set(body["prefetch"]) == {t.key for t in service.prefetch}
            assert body["prefetch"]["patient"]["id"] == patient.id
            drafts = [e["resource"]["id"] for e in body["context"]["draftOrders"]["entry"]]
            assert drafts == [o["id"] for o in patient.draft_orders]
            if service.hook == "order-select":
                assert body["context"]["selections"] == list(patient.selections)
            else:
                assert "selections" not in body["context"]
            # Drafts are orders being placed, not part of the record.
            everything = json.dumps(body["prefetch"])
            assert all(f'"{d}"' not in everything for d in drafts)


def test_prefetch_searches_apply_status_sort_and_count(catalog):
    from cds_service.demo.catalog import run_query

    patient = catalog.get("demo-lumbar-1")
    pain = run_query("Observation?patient=demo-lumbar-1&_sort=-date&_count=1", patient.record)
    assert pain["total"] == 2 and [e["resource"]["id"] for e in pain["entry"]] == ["demo-lumbar-1-obs-2"]
    assert run_query("MedicationRequest?patient=demo-lumbar-1&status=stopped", patient.record)["entry"] == []
    assert run_query("Condition?patient=someone-else", patient.record)["total"] == 0
    assert run_query("Patient/nobody", patient.record) is None
    with pytest.raises(DemoError, match="code"):
        run_query("Condition?patient=demo-lumbar-1&code=M54.16", patient.record)


# --- a broken catalog stops start-up with the file and field named ------------------


def _broken(tmp_path: Path, edit) -> Path:
    shutil.copytree(DEMO_DIR / "patients", tmp_path / "patients")
    raw = yaml.safe_load((DEMO_DIR / "catalog.yaml").read_text())
    edit(raw, tmp_path)
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path


def _post_entry(raw, tmp):
    path = tmp / "patients" / "demo-lumbar-1.json"
    bundle = json.loads(path.read_text())
    bundle["entry"][1]["request"] = {"method": "POST", "url": "Condition"}
    path.write_text(json.dumps(bundle))


@pytest.mark.parametrize("edit,message", [
    (lambda raw, tmp: raw["patients"][0]["expected"].pop("order-sign"), r"expected"),
    (lambda raw, tmp: raw["patients"][0].update(selections=["ServiceRequest/nope"]), r"selections"),
    (lambda raw, tmp: raw["patients"][0].update(title=""), r"title"),
    (lambda raw, tmp: raw.update(referenceDate="26/11/2026"), r"referenceDate"),
    (lambda raw, tmp: raw["patients"].append(copy.deepcopy(raw["patients"][0])), r"twice"),
    (lambda raw, tmp: raw["patients"][0].update(id="demo-nobody-1"), r"demo-nobody-1.json"),
    (_post_entry, r"entry\[1\] must be PUT"),
])
def test_a_broken_catalog_is_refused(tmp_path, edit, message):
    with pytest.raises(DemoError, match=message):
        load_catalog(_broken(tmp_path, edit), DEFINITIONS)


def test_an_unknown_card_kind_stops_start_up(tmp_path):
    from cds_service.app import create_app
    from tests.conftest import make_settings

    content = tmp_path / "content"
    for name in ("hooks", "cards", "config"):
        shutil.copytree(PROJECT_ROOT / name, content / name)
    _broken(content / "demo", lambda raw, tmp: raw["patients"][0]["expected"].update({"order-sign": ["no-such-card"]}))
    with pytest.raises(DemoError, match="no-such-card"):
        create_app(make_settings(demo_enabled=True, content_dir=content))
    create_app(make_settings(demo_enabled=False, content_dir=content))  # off: the catalog is not read

