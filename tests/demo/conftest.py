"""The app with the demo switched on, and the demo catalog."""

from __future__ import annotations

import pytest

from cds_service.app import create_app
from cds_service.demo import DemoCatalog
from cds_service.demo.views import EXTENSION
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def demo_app():
    app = create_app(make_settings(demo_enabled=True))
    app.testing = True
    return app


@pytest.fixture
def demo_client(demo_app):
    return demo_app.test_client()


@pytest.fixture(scope="module")
def catalog(demo_app) -> DemoCatalog:
    return demo_app.extensions[EXTENSION]
