"""Moving demo records through time: which strings move, and how each FHIR date form moves."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone

import pytest

from cds_service.demo.dates import days_since, is_date_element, shift_dates, shift_value


@pytest.mark.parametrize("value,days,expected", [
    ("2026-11-16", 10, "2026-11-26"),
    ("2026-11-16", -16, "2026-10-31"),
    ("2024-02-28", 1, "2024-02-29"),              # leap day exists in 2024
    ("2023-02-28", 1, "2023-03-01"),
    ("2026-11-16", 0, "2026-11-16"),
    ("1974-03-18", 3650, "1984-03-15"),           # birthDate: the person keeps (almost exactly) their age
])
def test_full_dates_move_by_whole_days(value, days, expected):
    assert shift_value(value, days) == expected


@pytest.mark.parametrize("value,days,expected", [
    ("2026-11-25T19:20:00Z", 400, "2027-12-30T19:20:00Z"),
    ("2026-11-25T19:20:00-05:00", 400, "2027-12-30T19:20:00-05:00"),   # offset kept as written
    ("2026-10-28T08:00:00.123+14:00", 3, "2026-10-31T08:00:00.123+14:00"),
    ("2026-12-31T23:59:59Z", 1, "2027-01-01T23:59:59Z"),
])
def test_date_times_keep_their_clock_time_and_zone(value, days, expected):
    assert shift_value(value, days) == expected


@pytest.mark.parametrize("value,days,expected", [
    ("2024", 0, "2024"),
    ("2024", 10, "2024"),           # the middle of the year moves a little: still 2024
    ("2024", 365, "2025"),
    ("2024", -200, "2023"),
    ("2024-03", 10, "2024-03"),     # 15 March + 10 days: still March
    ("2024-03", 20, "2024-04"),     # 15 March + 20 days: April
    ("2024-03", -20, "2024-02"),
    ("2024-12", 30, "2025-01"),
])
def test_partial_dates_keep_their_precision(value, days, expected):
    assert shift_value(value, days) == expected


@pytest.mark.parametrize("value", [
    "2026-02-30", "2026-13-01", "26-11-16", "2026-11-16T25:00:00Z", "2026-11-16T10:00:00",  # no zone: not FHIR
    "unknown", "", "2026-11-16 10:00",
])
def test_strings_that_are_not_fhir_dates_are_left_alone(value):
    assert shift_value(value, 30) == value


def test_only_date_elements_move_never_codes_ids_or_text():
    resource = {
        "resourceType": "MedicationRequest", "id": "2024",
        "medicationCodeableConcept": {"coding": [{"code": "5224", "display": "heparin"}], "text": "2024-01-01"},
        "authoredOn": "2026-11-01",
        "note": [{"text": "Started 2026-11-01"}],
        "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"start": "2026-11-01", "end": "2026-12-01"}}}}],
        "identifier": [{"value": "2026-11-01"}],
    }
    before = copy.deepcopy(resource)
    moved = shift_dates(resource, 5)
    assert resource == before  # a copy: the input is not changed
    assert moved["authoredOn"] == "2026-11-06"
    assert moved["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-11-06",
                                                                                  "end": "2026-12-06"}
    for path in (("id",), ("medicationCodeableConcept",), ("note",), ("identifier",)):
        assert moved[path[0]] == before[path[0]]


@pytest.mark.parametrize("name", ["birthDate", "onsetDateTime", "recordedDate", "effectiveDateTime", "issued",
                                  "authoredOn", "abatementDateTime", "valueDateTime", "effectiveInstant", "start",
                                  "end", "date", "lastUpdated"])
def test_fhir_date_element_names(name):
    assert is_date_element(name)


@pytest.mark.parametrize("name", ["id", "code", "value", "text", "conclusion", "reference", "status", "display"])
def test_other_element_names(name):
    assert not is_date_element(name)


def test_days_since_counts_utc_calendar_days():
    reference = date(2026, 11, 26)
    assert days_since(reference, datetime(2026, 11, 26, 23, 59, tzinfo=timezone.utc)) == 0
    assert days_since(reference, datetime(2027, 11, 26, 0, 1, tzinfo=timezone.utc)) == 365
    # 21:00 in New York on the 26th is already the 27th in UTC, the clock the hook calls use.
    assert days_since(reference, datetime(2026, 11, 26, 21, 0, tzinfo=timezone(timedelta(hours=-5)))) == 1
    assert days_since(reference, datetime(2026, 11, 20, 12, 0)) == -6  # naive: taken as UTC
