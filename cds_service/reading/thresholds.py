"""Time windows and thresholds the reader applies, in one reviewable place.

The app may build a ReadingThresholds from settings; the defaults below are the
reader's own and each says where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadingThresholds:
    #: "Recent significant trauma" (ACP/APS 2007 red-flag table gives no number; 90 days is
    #: the window the cards treat as recent -- a clinical choice to review).
    recent_trauma_days: int = 90
    #: Fever counts as current for this long (an acute sign).
    recent_fever_days: int = 30
    #: Cauda equina and motor signs: "new" means within this window when dated.
    recent_neuro_days: int = 90
    #: Observations older than this are not read as current signs or symptoms.
    observation_lookback_days: int = 365
    #: Body temperature at or above this (Celsius) is fever.
    fever_celsius: float = 38.0
    # Labs (INR, platelets, eGFR): the reader gives the latest dated value whatever its age; how recent
    # a value must be for a note is the pre-test table's (config/guidelines/pretest.yaml).


DEFAULT_THRESHOLDS = ReadingThresholds()
