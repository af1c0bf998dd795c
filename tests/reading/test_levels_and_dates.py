"""Spine level spellings and FHIR date choice types."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace as NS

import pytest

from cds_service.reading.dates import age_in_years, choice_date, parse_date
from cds_service.reading.levels import (
    disc_levels,
    find_level_tokens,
    group_tokens,
    levels_for_root,
    region_of,
    roots,
    roots_at_level,
)


def _groups(text):
    return group_tokens(text, find_level_tokens(text))


@pytest.mark.parametrize(
    ("text", "discs"),
    [
        ("at L4-5", ("L4-L5",)),
        ("at L4-L5", ("L4-L5",)),
        ("at L4/5", ("L4-L5",)),
        ("at l4–5", ("L4-L5",)),
        ("L5-S1", ("L5-S1",)),
        ("C6-C7", ("C6-C7",)),
        ("C7-T1", ("C7-T1",)),
        ("T12-L1", ("T12-L1",)),
        ("L3-4, L4-5 and L5-S1", ("L3-L4", "L4-L5", "L5-S1")),
        ("from L2-3 through L4-5", ("L2-L3", "L3-L4", "L4-L5")),
        ("L3-L5", ("L3-L4", "L4-L5")),
        ("anterolisthesis of L4 on L5", ("L4-L5",)),
        ("L5-L4", ()),  # backwards: not a level
        ("T2 weighted images", ()),
        ("T1 and T2 hyperintense", ()),
        ("2024-03 follow-up", ()),
    ],
)
def test_disc_levels(text, discs):
    found = tuple(lv for g in _groups(text) for lv in disc_levels(g))
    assert found == discs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("left L5 radiculopathy", ("L5",)),
        ("L5/S1 radiculopathy", ("L5", "S1")),
        ("C5-6 radiculopathy", ("C5", "C6")),
        ("C5-C7", ("C5", "C6", "C7")),
        ("L4, L5 and S1", ("L4", "L5", "S1")),
        ("C8", ("C8",)),
    ],
)
def test_roots(text, expected):
    assert tuple(r for g in _groups(text) for r in roots(g)) == expected


def test_root_and_level_anatomy():
    assert roots_at_level("L4-L5") == {"traversing": "L5", "exiting": "L4"}
    assert roots_at_level("C5-C6") == {"traversing": "C6", "exiting": "C6"}
    assert roots_at_level("C7-T1")["exiting"] == "C8"
    assert roots_at_level("nonsense") == {}
    assert levels_for_root("L5") == ("L4-L5", "L5-S1")
    assert region_of("S1") == "lumbar" and region_of("T1") == "cervical" and region_of("T6") == "thoracic"
    assert region_of("X9") is None


@pytest.mark.parametrize(
    ("value", "text", "earliest", "latest"),
    [
        ("2024", "2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-02", "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2024-03-05", "2024-03-05", date(2024, 3, 5), date(2024, 3, 5)),
        ("2024-03-05T23:30:00-05:00", "2024-03-06", date(2024, 3, 6), date(2024, 3, 6)),  # UTC day
        (datetime(2024, 3, 5, 10, tzinfo=timezone.utc), "2024-03-05", date(2024, 3, 5), date(2024, 3, 5)),
        (date(2024, 3, 5), "2024-03-05", date(2024, 3, 5), date(2024, 3, 5)),
    ],
)
def test_parse_date(value, text, earliest, latest):
    d = parse_date(value)
    assert (d.text, d.earliest, d.latest) == (text, earliest, latest)


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-13", "2024-02-30", 42,
                                   "2024W1012", "20240305", "2024-3-05", "2024-03-5x"])  # 10 characters, not FHIR dates
def test_unreadable_dates_are_none(value):
    assert parse_date(value) is None


def test_choice_types():
    birth = parse_date("1970-05-20")
    assert choice_date(NS(onsetDateTime="2024-03"), "onset").text == "2024-03"
    assert choice_date(NS(onsetPeriod=NS(start=None, end="2024-04-01")), "onset").text == "2024-04-01"
    assert choice_date(NS(effectivePeriod=NS(start=date(2024, 1, 2), end=None)), "effective").text == "2024-01-02"
    age = choice_date(NS(onsetAge=NS(value=50, code="a", unit="years")), "onset", birth)
    assert (age.earliest, age.latest, age.precision) == (date(2020, 5, 20), date(2021, 5, 19), "range")
    assert choice_date(NS(onsetAge=NS(value=50, code="a")), "onset", None) is None  # no birth date: unknown
    assert choice_date(NS(onsetAge=NS(value=50, code="kg")), "onset", birth) is None
    rng = choice_date(NS(onsetRange=NS(low=NS(value=40, code="a"), high=NS(value=45, code="a"))), "onset", birth)
    assert (rng.earliest, rng.latest) == (date(2010, 5, 20), date(2016, 5, 19))
    assert choice_date(NS(onsetString="since March 2023-03 after a fall"), "onset").text == "2023-03"
    assert choice_date(NS(onsetString="a few weeks ago"), "onset") is None
    assert choice_date(NS(), "onset") is None


def test_durations_are_ranges_for_partial_dates():
    now = datetime(2024, 4, 15, tzinfo=timezone.utc)
    assert parse_date("2024-03").days_before(now) == (15, 45)
    assert parse_date("2024-04-01").days_before(now) == (14, 14)


def test_age_in_years():
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    assert age_in_years(parse_date("1970-11-26"), now) == 56
    assert age_in_years(parse_date("1970-11-27"), now) == 55
    assert age_in_years(parse_date("1970"), now) == 55  # conservative with a partial birth date
    assert age_in_years(None, now) is None


def test_a_date_read_again_in_one_call_is_the_same_reading_and_none_is_kept_after_it():
    from cds_service.reading import memo

    worker = memo.TextMemo(2_000_000)
    with memo.using(worker):
        first = parse_date(" 2024-03-05 ")
        assert parse_date(" 2024-03-05 ") is first and first.text == "2024-03-05"
        assert parse_date("2024-02-30") is None and parse_date("2024-02-30") is None
    assert len(worker) == 0 and memo._current.get() is None
    assert parse_date(" 2024-03-05 ") == first  # outside a call: read afresh, the same
