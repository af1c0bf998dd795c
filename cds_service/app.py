"""The WSGI application factory: ``gunicorn "cds_service.app:create_app()"``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_cors import CORS
from werkzeug.routing import Map

from . import console, demo, security, views
from .cardbuilder import CardLibrary
from .explainer import views as explainer_views
from .errors import register_error_handlers
from .fhir.access import plain_http_entries  # entries that are no base URLs: refused by Settings
from .ops.whole_body import WholeBody
from .ops.wiring import init_app as init_operations
from .pipeline import load_engine
from .settings import Settings, SettingsError


class _ExactPathMap(Map):
    """URL map that never redirects ``//x`` to ``/x``: Werkzeug's redirect takes the host from the
    request's ``Host`` header, so a doubled-slash path would be an open redirect."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["merge_slashes"] = False
        kwargs["strict_slashes"] = False
        super().__init__(*args, **kwargs)


class CdsFlask(Flask):
    url_map_class = _ExactPathMap


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app: settings, then content (services, cards), then routes.

    Content is loaded and checked here, once, so a broken file stops start-up
    instead of failing a clinician's order later.

    :raise SettingsError, DefinitionError, CardContentError: on bad settings or content.
    """
    if settings is None:
        settings = Settings.load(**overrides)
    elif overrides:
        raise TypeError("pass either a Settings object or keyword overrides, not both")
    logging.getLogger("cds_service").setLevel(settings.log_level)
    # urllib3's DEBUG lines print request URLs, which hold patient ids: never below INFO.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLogger("urllib3").getEffectiveLevel()))
    plain = plain_http_entries(settings.allowed_fhir_servers)
    if plain and not settings.allow_plain_http_fhir:
        raise SettingsError(
            f"setting allowed_fhir_servers (CDS_ALLOWED_FHIR_SERVERS): plain http:// outside loopback: {plain}; "
            "FHIR servers must use https (CDS_ALLOW_PLAIN_HTTP_FHIR=true accepts them, with a warning)"
        )
    if plain:
        logging.getLogger(__name__).warning(
            "plain http:// FHIR servers allowed (CDS_ALLOW_PLAIN_HTTP_FHIR): tokens and PHI travel unencrypted to %s",
            plain)

    app = CdsFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.wsgi_app = WholeBody(app.wsgi_app, settings.max_body_bytes)  # one read, not werkzeug's 64 kB pieces
    app.json.sort_keys = False  # keep cards' fields in the spec's reading order
    register_error_handlers(app)  # the one place errors become responses (errors.py)
    # Card templates first: the card policy counts by kind and never suppresses a critical one.
    cards = CardLibrary(settings.cards_dir)
    # --- feedback store and operations --------------------------------
    # The store (issued cards, feedback, suppression; on PostgreSQL also the JWT
    # replay cache shared by replicas), the card policy, JSON logs, metrics,
    # /readyz. Before security.init_app, so request ids and timing wrap
    # authentication too.
    operations = init_operations(app, settings, cards)
    # The engine, built once with its policy and metrics.
    engine = load_engine(settings, policy=operations.policy, metrics=operations.metrics, cards=cards)
    app.extensions["cds_engine"] = engine
    # Authentication runs before any other request hook but the request id/timing
    # above (CDS Hooks "Trusting CDS Clients").
    security.init_app(app, settings, replay_cache=operations.replay_cache)
    # Browser CDS clients (the CDS Hooks sandbox) need CORS with Authorization allowed.
    # No origin configured: no CORS headers at all. "*" is answered with a literal "*"
    # (send_wildcard), never by reflecting the caller's Origin.
    # All options on the resource: flask-cors 6 takes a resource's options instead of the keyword
    # ones, so options given only as keywords were dropped (no header was ever exposed).
    CORS(
        app,
        resources={r"/cds-services*": {
            "origins": list(settings.cors_origins) or [],
            "send_wildcard": "*" in settings.cors_origins,
            "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
            # X-Request-ID to quote in a support request; WWW-Authenticate says why a 401 refused the
            # token (a browser client such as the sandbox sees nothing of a refusal otherwise).
            "expose_headers": ["X-Request-ID", "WWW-Authenticate"],
            "methods": ["GET", "POST", "OPTIONS"],
            "max_age": 600,
            "allow_private_network": settings.cors_allow_private_network,
        }},
    )
    app.register_blueprint(views.bp)
    demo.init_app(app, settings, engine)  # /demo: synthetic patients, 404 unless demo_enabled
    console.init_app(app, settings.console_enabled)  # GET /: the card console (static page)
    # GET /patient/<name>: the patient explainers the EMG/NCS cards link to (cards/_patient/).
    explainer_views.init_app(app, settings.explainer_enabled, engine.cards.explainers)
    return app
