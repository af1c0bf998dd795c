"""The card console: a static page at ``GET /`` that fires the hooks and shows cards as an EHR would.

Plain HTML, CSS and JavaScript served from ``static/`` (no framework, no build
step, nothing fetched from elsewhere). The page calls only the service's own
public endpoints (discovery, hook calls, feedback, ``/demo``) from the browser,
so it needs no server-side code beyond serving the files. It is public: no JWT
is needed to load it; its hook calls carry one only if the user pastes one.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response

bp = Blueprint("console", __name__, static_folder="static", static_url_path="/console/static")

#: The page's policy: its own scripts, styles and API calls only; nothing inline,
#: no framing, no plugins, no forms posted anywhere.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@bp.get("/")
def index() -> Response:
    response = bp.send_static_file("index.html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask, enabled: bool) -> None:
    """Register the console when ``console_enabled`` (otherwise ``/`` is a plain 404)."""
    if enabled:
        app.register_blueprint(bp)
