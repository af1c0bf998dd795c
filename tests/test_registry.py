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
    (lambda t: t.replace("hook: order-select", "hook: patient-view"), "hook"),
    (lambda t: t.replace("id: spine-order-select", "id: spine-order-sign"), "already defined"),
    (lambda t: t.replace("triggers:", "triggerz:"), "triggers"),
    (lambda t: t + "\n  bad: [\n", "spine-order-select.yaml"),
])
def test_a_bad_definition_fails_start_up_naming_the_file(tmp_path, mutation, message):
    hooks = _copy_hooks(tmp_path)
    path = hooks / "spine-order-select.yaml"
    path.write_text(mutation(path.read_text()))
    with pytest.raises(DefinitionError, match=message):
        load_definitions(hooks)


def test_no_definitions_fails(tmp_path):
    with pytest.raises(DefinitionError):
        load_definitions(tmp_path)
