"""A temperature written in a note is a fever from the same threshold as a coded one.

The lexicon spells the written threshold out in its pattern (38.0 C / 100.4 F); the coded reading takes
it from ``ReadingThresholds.fever_celsius``. This holds them together: moving one without the other fails.
"""

from __future__ import annotations

import pytest

from cds_service.reading.thresholds import ReadingThresholds
from cds_service.reading.text import CLINICAL

THRESHOLD_C = ReadingThresholds().fever_celsius


def _fahrenheit(c: float) -> float:
    return round(c * 9 / 5 + 32, 1)


@pytest.mark.parametrize("celsius", [THRESHOLD_C, THRESHOLD_C + 0.5, THRESHOLD_C + 2.0])
def test_written_temperatures_at_or_over_the_threshold_are_fever(celsius):
    for sentence in (f"Temperature {celsius:.1f} C this morning.", f"Temp {_fahrenheit(celsius):.1f} F overnight."):
        assert "fever" in {m.concept for m in CLINICAL.mentions(sentence)}, sentence


@pytest.mark.parametrize("celsius", [THRESHOLD_C - 0.1, THRESHOLD_C - 1.0])
def test_written_temperatures_under_the_threshold_are_not(celsius):
    for sentence in (f"Temperature {celsius:.1f} C this morning.", f"Temp {_fahrenheit(celsius):.1f} F overnight."):
        assert "fever" not in {m.concept for m in CLINICAL.mentions(sentence)}, sentence
