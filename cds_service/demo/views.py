"""Demo endpoints: the patient list and ready hook requests, dated today (synthetic data, no JWT).

The routes always exist (so the route table and openapi.yaml do not depend on
settings) but answer 404 unless ``demo_enabled`` is set.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, url_for
from werkzeug.exceptions import NotFound

from ..errors import CdsError
from .catalog import HOOKS, DemoCatalog

bp = Blueprint("demo", __name__, url_prefix="/demo")

EXTENSION = "cds_demo"


class DemoNotFound(CdsError):
    status = 404
    code = "not-found"


def _catalog() -> DemoCatalog:
    return current_app.extensions[EXTENSION]


@bp.before_request
def _only_when_enabled():
    if current_app.extensions.get(EXTENSION) is None:
        raise NotFound()


@bp.get("/patients")
def patients():
    catalog = _catalog()
    return jsonify({
        "referenceDate": catalog.reference_date.isoformat(),
        "patients": [
            {
                "id": p.id,
                "title": p.title,
                "story": p.story,
                "expected": {hook: list(p.expected[hook]) for hook in HOOKS},
                "requests": {hook: url_for("demo.hook_request", patient_id=p.id, hook=hook) for hook in HOOKS},
            }
            for p in catalog.patients
        ],
    })


@bp.get("/requests/<patient_id>/<hook>")
def hook_request(patient_id: str, hook: str):
    catalog = _catalog()
    if catalog.get(patient_id) is None:
        raise DemoNotFound("No demo patient with this id; GET /demo/patients lists them.")
    if hook not in HOOKS:
        raise DemoNotFound(f"No demo request for this hook; the hooks are {', '.join(HOOKS)}.")
    response = jsonify(catalog.request(patient_id, hook))
    response.headers["Cache-Control"] = "no-store"  # a fresh hookInstance and today's dates on every GET
    return response
