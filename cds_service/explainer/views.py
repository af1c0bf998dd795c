"""``GET /patient/<name>``: a patient explainer as a printable HTML page (no patient data, no JWT).

The query may name a variant (``limb``, ``question``) from the page's fixed lists; anything else is
ignored and the general wording is served, so nothing from the request is ever echoed in the page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.exceptions import NotFound

from . import Explainers

bp = Blueprint("explainer", __name__, template_folder="templates", static_folder="static",
               static_url_path="/patient/static")

#: Its own stylesheet and print script only: nothing inline, nothing from elsewhere, no framing, no forms.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

EXTENSION = "cds_explainers"


@bp.get("/patient/<name>")
def page(name: str) -> Response:
    explainers: Explainers = current_app.extensions[EXTENSION]
    found = explainers.get(name)
    if found is None:
        raise NotFound()
    rendered = found.render(request.args.get("limb"), request.args.get("question"))
    response = Response(render_template("explainer.html", page=rendered), content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask, enabled: bool, explainers: Explainers) -> None:
    """Register the pages when ``explainer_enabled`` (otherwise ``/patient/...`` is a plain 404)."""
    if enabled:
        app.extensions[EXTENSION] = explainers
        app.register_blueprint(bp)
