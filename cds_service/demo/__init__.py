"""Synthetic demo patients for integrators: catalog, date shifting, ready requests, endpoints."""

from __future__ import annotations

from flask import Flask

from ..pipeline import Engine
from ..settings import Settings
from .catalog import HOOKS, DemoCatalog, DemoError, DemoPatient, load_catalog
from .dates import days_since, shift_dates, shift_value
from .views import EXTENSION, bp

__all__ = [
    "HOOKS", "DemoCatalog", "DemoError", "DemoPatient", "days_since", "init_app", "load_catalog",
    "shift_dates", "shift_value",
]


def init_app(app: Flask, settings: Settings, engine: Engine) -> None:
    """Register the demo routes; with ``demo_enabled`` load the catalog now, so a broken one stops start-up.

    :raise DemoError: a bad catalog or bundle, or a card kind the service does not have.
    """
    app.register_blueprint(bp)
    if not settings.demo_enabled:
        return
    catalog = load_catalog(settings.demo_dir, engine.registry)
    known = set(engine.cards.kinds)
    for patient in catalog.patients:
        unknown = {k for kinds in patient.expected.values() for k in kinds} - known
        if unknown:
            raise DemoError(f"demo patient {patient.id}: unknown card kinds {sorted(unknown)}")
    app.extensions[EXTENSION] = catalog
