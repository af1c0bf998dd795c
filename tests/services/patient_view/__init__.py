"""A ``patient-view`` service of tests only (not a product feature): a YAML file and a handler.

It shows what a new service on a new hook takes: ``hooks/test-patient-view.yaml`` (id, hook,
``handler:``, prefetch), the hook's context schema (``protocol.HOOKS``: patient-view is there),
the handler below, and the card kind it names (``cards/test-patient-view/``). ``content_dir``
builds a content folder the app can start on: this service's hooks, the repository's cards with
this one beside them, and the repository's config.
"""

from __future__ import annotations

from pathlib import Path

from cds_service.cardbuilder import CardSpec
from cds_service.handlers import Advice, Handler, HookCall
from cds_service.record import PatientRecord
from cds_service.settings import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
KIND = "test-patient-view"


class PatientViewGreeting(Handler):
    """One info card whatever the record: how many conditions it holds."""

    hooks = ("patient-view",)

    def advise(self, call: HookCall, scope: object, record: PatientRecord) -> Advice:
        return Advice([CardSpec(KIND, {"conditions": len(record.conditions)})])


#: Named by hooks/test-patient-view.yaml.
greeting = PatientViewGreeting()


def content_dir(target: Path) -> Path:
    """A content folder at ``target``: this service's hooks, the product's cards plus this one, the product's config."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "hooks").symlink_to(HERE / "hooks", target_is_directory=True)
    (target / "config").symlink_to(PROJECT_ROOT / "config", target_is_directory=True)
    cards = target / "cards"
    cards.mkdir()
    for folder in (PROJECT_ROOT / "cards").iterdir():
        if folder.is_dir():
            (cards / folder.name).symlink_to(folder, target_is_directory=True)
    (cards / KIND).symlink_to(HERE / "cards" / KIND, target_is_directory=True)
    return target
