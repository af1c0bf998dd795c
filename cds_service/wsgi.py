"""``gunicorn cds_service.wsgi:app``: the app with settings from the environment."""

from .app import create_app

app = create_app()
