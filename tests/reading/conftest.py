"""Fixtures for the clinical reader: the real value sets, a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from cds_service.valuesets import load_valuesets

VALUESETS_DIR = Path(__file__).resolve().parents[2] / "config" / "valuesets"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def vs():
    return load_valuesets(VALUESETS_DIR)


@pytest.fixture
def now():
    return NOW
