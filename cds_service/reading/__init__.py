"""The clinical reader: orders recognised, the patient's record turned into typed, explainable findings.

Pure functions, no Flask, no HTTP, no card text:

- :func:`classify_order` -- is a draft order a spine MRI or an EMG/NCS, and which one;
- :func:`read_record` -- the :class:`ClinicalPicture` of a patient at ``now``;
- :func:`read_mri_text` / :func:`read_emg_text` -- one report text, read.

Call :func:`check_valuesets` at start-up so that a missing value set fails
there, not in a request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..record import RECORD_TYPES, DataGap, PatientRecord
from ..valuesets import ValueSets
from .dates import age_in_years, parse_date
from .fhir_access import ODD_DATA, codings
from .emg_text import read_emg_text
from .entries import LazyEntries, record_entries
from .facts import ReadingBudget, condition_facts, observation_facts, reading_budget, required_valuesets
from .findings import MIMIC_KINDS, condition_findings, red_flags, root_problems, symptoms
from .model import (
    CardiacDevice,
    ClinicalPicture,
    ConditionFinding,
    EmgNeuropathy,
    EmgRadiculopathy,
    EmgReading,
    EmgReport,
    Evidence,
    LabValue,
    Medication,
    MriFinding,
    MriReading,
    MriReport,
    OrderInfo,
    RedFlag,
    RootProblem,
    Symptom,
)
from .mri_text import read_mri_text
from .order_kinds import ELECTRODIAGNOSTIC, ORDER_VALUESETS, SPINE_MRI, classify_order
from .thresholds import DEFAULT_THRESHOLDS, ReadingThresholds
from .reports import REPORT_VALUESETS, read_reports
from .mri_safety import PREGNANCY_TEST_VALUESET, neurostimulators, pregnancy
from .safety import LAB_VALUESETS, TEMPERATURE_VALUESET, cardiac_devices, fever_readings, labs, medications

__all__ = [
    "ELECTRODIAGNOSTIC", "SPINE_MRI", "CardiacDevice", "ClinicalPicture", "ConditionFinding", "EmgNeuropathy",
    "EmgRadiculopathy", "EmgReading", "EmgReport", "Evidence", "LabValue", "Medication", "MriFinding",
    "MriReading", "MriReport", "OrderInfo", "ReadingThresholds", "RedFlag", "RootProblem", "Symptom",
    "check_valuesets", "classify_order", "read_emg_text", "read_mri_text", "read_record", "REQUIRED_VALUESETS",
]  # fmt: skip

log = logging.getLogger(__name__)

#: The value sets the coded-Observation readers (fever, labs, pregnancy tests) look for, from the readers.
_CODED_OBSERVATION_SETS = frozenset({TEMPERATURE_VALUESET, PREGNANCY_TEST_VALUESET} | LAB_VALUESETS)

#: Value sets the reader looks codes up in; all must be loaded.
REQUIRED_VALUESETS = frozenset(
    required_valuesets()
    | set(ORDER_VALUESETS)
    | set(REPORT_VALUESETS)
    | _CODED_OBSERVATION_SETS
    | {"anticoagulant", "antiplatelet", "cardiac-device"}
)


def _localising(record: PatientRecord, now: datetime, thresholds: ReadingThresholds, skipped) -> tuple:
    from ..localisation.reader import record_findings  # here: the localisation package imports this one

    try:
        return record_findings(record, now, thresholds.observation_lookback_days)
    except ODD_DATA as exc:
        skipped("Condition or Observation", exc)
        return ()


def _coded_observations(observations: list, vs: ValueSets) -> list:
    """The Observations coded in ``_CODED_OBSERVATION_SETS``: one membership lookup per coding
    instead of one per reader and value set (an odd one is kept: its reader skips it as before)."""
    out = []
    for obs in observations:
        try:
            if any(e.value_set in _CODED_OBSERVATION_SETS
                   for c in codings(getattr(obs, "code", None))
                   for e in vs.memberships(getattr(c, "system", None), getattr(c, "code", None))):
                out.append(obs)
        except ODD_DATA:
            out.append(obs)
    return out


def check_valuesets(vs: ValueSets) -> None:
    """:raise ValueSetError: naming every value set the reader needs that ``vs`` lacks."""
    vs.require(REQUIRED_VALUESETS)


def read_record(
    record: PatientRecord, vs: ValueSets, now: datetime, thresholds: ReadingThresholds = DEFAULT_THRESHOLDS
) -> ClinicalPicture:
    """Everything the card rules need from ``record``, as of ``now`` (timezone-aware).

    A resource that cannot be read (odd but parseable data the reader did not
    expect) is skipped and counted in ``unread_resources``; the log line names
    its type only.

    :raise ValueError: if ``now`` is naive (durations and "recent" need a clock).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(timezone.utc)
    unread = [0]

    def logged(resource_type: str, exc: Exception) -> None:
        # Type names only: the exception text may quote patient data.
        log.warning("clinical reader skipped a %s it could not read (%s)", resource_type, type(exc).__name__)

    def skipped(resource_type: str, exc: Exception) -> None:
        logged(resource_type, exc)
        unread[0] += 1

    birth = parse_date(getattr(record.patient, "birthDate", None)) if record.patient is not None else None
    sex = getattr(record.patient, "gender", None) if record.patient is not None else None

    facts = []
    with reading_budget(ReadingBudget()) as budget:  # the call's share of text and codings (facts.py)
        for condition in record.conditions:
            try:
                facts.extend(condition_facts(condition, vs, birth))
            except ODD_DATA as exc:
                skipped("Condition", exc)
        for obs in record.observations:
            try:
                facts.extend(observation_facts(obs, vs, now, thresholds.observation_lookback_days))
            except ODD_DATA as exc:
                skipped("Observation", exc)
        # The localising reader reads the same texts again, on the same budget; what it skips was counted
        # by the facts above already (logged, not counted twice).
        localising = _localising(record, now, thresholds, logged)
    for resource_type, reasons in sorted(budget.unread.items()):
        # Read past the budget: said as a gap of the key that brought them, as a truncated search is.
        for reason in sorted(reasons):
            gap = DataGap(RECORD_TYPES[resource_type].prefetch_keys[0], reason)
            if gap not in record.gaps:
                record.gaps.append(gap)
    # The same odd Observation must not count twice: fever, labs and pregnancy tests re-read only the coded ones.
    quiet = lambda *_: None  # noqa: E731
    coded = _coded_observations(record.observations, vs)
    facts.extend(fever_readings(coded, vs, now, thresholds, quiet))
    inr, platelets, egfr = labs(coded, vs, quiet)
    mri_reports, emg_reports = read_reports(record.diagnostic_reports, vs, skipped)
    anticoagulants, antiplatelets = medications(record.medication_requests, facts, vs, skipped)
    devices = cardiac_devices(record.devices, facts, vs, skipped)

    diabetes = condition_findings(facts, ("diabetes",))
    return ClinicalPicture(
        age_years=age_in_years(birth, now),
        sex=sex if isinstance(sex, str) else None,
        red_flags=red_flags(facts, now, thresholds),
        root_problems=root_problems(facts, now),
        axial_pain=condition_findings(facts, ("axial-pain",), by_region=True),
        mimics=condition_findings(facts, MIMIC_KINDS),
        symptoms=symptoms(facts),
        mri_reports=mri_reports,
        emg_reports=emg_reports,
        anticoagulants=anticoagulants,
        antiplatelets=antiplatelets,
        cardiac_devices=devices,
        bleeding_disorders=condition_findings(facts, ("bleeding-disorder",)),
        lymphedema=condition_findings(facts, ("lymphedema",)),
        diabetes=diabetes[0] if diabetes else None,
        inr=inr,
        platelets=platelets,
        egfr=egfr,
        dialysis=condition_findings(facts, ("dialysis",)),
        pregnancy=pregnancy(facts, coded, vs, quiet),
        neurostimulators=neurostimulators(record.devices, facts, quiet),  # an odd Device counts once (cardiac_devices)
        unread_resources=unread[0],
        localising=localising,
        data_gaps=tuple(g.key for g in record.gaps),
        entries=LazyEntries(lambda: record_entries(record.conditions, record.medication_requests, birth, quiet)),  # counted above
    )

