import re
import shutil
from pathlib import Path

import pytest

from cds_service.errors import ServiceNotFound
from cds_service.registry import DefinitionError, ServiceRegistry, load_definitions

HOOKS = Path(__file__).resolve().parents[1] / "hooks"


def test_repo_definitions_cover_both_hooks_with_prefetch():
    defs = load_definitions(HOOKS)
    by_hook = {d.hook: d for d in defs}
    assert set(by_hook) == {"order-select", "order-sign"}
    for d in defs:
        assert set(d.order_kinds) == {"spine-mri", "electrodiagnostic"}
        queries = {p.key: p.query for p in d.prefetch}
        # Everything the reasoning needs, as prefetch templates with the patient token.
        for key, rtype in [("patient", "Patient/"), ("conditions", "Condition?"), ("observations", "Observation?"),
                           ("medications", "MedicationRequest?"), ("devices", "Device?"), ("reports", "DiagnosticReport?")]:
            assert queries[key].startswith(rtype) and "{{context.patientId}}" in queries[key]
        assert [p.key for p in d.prefetch if p.essential] == ["conditions"]


def test_discovery_entries_are_the_spec_shape():
    entry = ServiceRegistry(load_definitions(HOOKS)).discovery()["services"][0]
    assert set(entry) == {"hook", "id", "title", "description", "prefetch", "usageRequirements",
                          "version", "hookVersion"}
    assert all(isinstance(v, str) for v in entry["prefetch"].values())


def test_discovery_says_the_spec_and_hook_versions():
    """CDS Hooks 3.0 recommends `version` (semver of the spec implemented) and allows `hookVersion`."""
    for entry in ServiceRegistry(load_definitions(HOOKS)).discovery()["services"]:
        assert entry["version"] == "2.0.1"
        assert entry["hookVersion"] == "1.0", entry["hook"]


def test_unknown_id_raises_not_found():
    with pytest.raises(ServiceNotFound):
        ServiceRegistry(load_definitions(HOOKS)).get("nope")


def _copy_hooks(tmp_path: Path) -> Path:
    target = tmp_path / "hooks"
    shutil.copytree(HOOKS, target)
    return target


@pytest.mark.parametrize("mutation,message", [
    # patient-view is a hook the engine knows, but the spine handler does not answer it.
    (lambda t: t.replace("hook: order-select", "hook: patient-view"), "not hook 'patient-view'"),
    (lambda t: t.replace("hook: order-select", "hook: order-dispatch"), "hook"),
    (lambda t: t.replace("id: spine-order-select", "id: spine-order-sign"), "already defined"),
    (lambda t: t.replace("triggers:", "triggerz:"), "triggerz"),
    (lambda t: t.replace("triggers:\n  order_kinds: [spine-mri, electrodiagnostic]\n", ""), "triggers.order_kinds"),
    (lambda t: t + "\n  bad: [\n", "spine-order-select.yaml"),
    (lambda t: t.replace("cds_service.advice:spine_orders", "cds_service.advice:no_such_handler"),
     "handler 'cds_service.advice:no_such_handler'"),
    (lambda t: t.replace("cds_service.advice:spine_orders", "cds_service.no_such_module:handler"), "cannot be imported"),
    (lambda t: t.replace("cds_service.advice:spine_orders", "cds_service.advice"), "package.module:name"),
    (lambda t: t.replace("handler: cds_service.advice:spine_orders\n", ""), "handler"),
    (lambda t: t.replace("prefetch: spine-record", "prefetch: spine-recrod"), "no prefetch set 'spine-recrod'"),
    (lambda t: t.replace("prefetch: spine-record", "prefetch:\n  conditions: {essential: true}"), "query"),
])
def test_a_bad_definition_fails_start_up_naming_the_file(tmp_path, mutation, message):
    hooks = _copy_hooks(tmp_path)
    path = hooks / "spine-order-select.yaml"
    path.write_text(mutation(path.read_text()))
    with pytest.raises(DefinitionError, match=re.escape(message)) as raised:
        load_definitions(hooks)
    assert str(raised.value).startswith(("spine-order-select.yaml: ", "spine-order-sign.yaml: "))


def test_a_bad_shared_prefetch_file_fails_start_up_naming_it(tmp_path):
    hooks = _copy_hooks(tmp_path)
    (hooks / "_prefetch.yaml").write_text("spine-record:\n  conditions: {essential: true}\n")
    with pytest.raises(DefinitionError, match=r"^_prefetch\.yaml: .*query"):
        load_definitions(hooks)


def test_both_services_share_one_prefetch_definition_and_name_their_handler():
    """The prefetch templates are written once (hooks/_prefetch.yaml), the handler per service."""
    from cds_service.advice import spine_orders

    select, sign = sorted(load_definitions(HOOKS), key=lambda d: d.hook)
    assert select.prefetch == sign.prefetch and select.prefetch
    assert select.handler is sign.handler is spine_orders
    assert "_prefetch" not in {d.id for d in load_definitions(HOOKS)}  # "_" files are not services
    for name in ("spine-order-select.yaml", "spine-order-sign.yaml"):
        assert "prefetch: spine-record" in (HOOKS / name).read_text()


def test_an_inline_prefetch_still_works(tmp_path):
    hooks = _copy_hooks(tmp_path)
    path = hooks / "spine-order-sign.yaml"
    path.write_text(path.read_text().replace(
        "prefetch: spine-record", 'prefetch:\n  conditions:\n    query: "Condition?patient={{context.patientId}}"\n'
                                  "    essential: true\n"))
    sign = next(d for d in load_definitions(hooks) if d.id == "spine-order-sign")
    assert [(p.key, p.essential) for p in sign.prefetch] == [("conditions", True)]


def test_no_definitions_fails(tmp_path):
    with pytest.raises(DefinitionError):
        load_definitions(tmp_path)


def test_usage_requirements_name_the_record_types_from_the_one_table(monkeypatch):
    """A resource type added to RECORD_TYPES is named to the EHR without editing each service file."""
    from cds_service import record

    monkeypatch.setitem(record.RECORD_TYPES, "AllergyIntolerance",
                        record.RecordType("allergies", "patient", ("allergies",)))
    for d in load_definitions(HOOKS):
        assert "{record_types}" not in d.usage_requirements
        assert "DiagnosticReport and AllergyIntolerance resources" in d.usage_requirements, d.usage_requirements
