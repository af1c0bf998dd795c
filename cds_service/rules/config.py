"""Rule thresholds, suggested orders and the asymptomatic-MRI table, loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from ..bibliography import Bibliography
from .appropriateness_table import AppropriatenessTable, load_appropriateness_table
from .precedence import Precedence, load_precedence
from .pretest_table import PretestTable, load_pretest_table
from .red_flag_table import RedFlagTable, load_red_flag_table


class RuleConfigError(ValueError):
    """A file in ``config/guidelines/`` is missing a value or malformed; the message names it."""


@dataclass(frozen=True)
class Orderable:
    system: str
    code: str
    display: str
    text: str

    def coding(self) -> dict:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class RuleConfig:
    emg_too_early_days: int
    lbp_imaging_min_days: int
    recent_emg_days: int
    long_standing_days: int
    multilevel_min_levels: int
    #: region (cervical/thoracic/lumbar, "-contrast" suffixed) -> urgent MRI order
    urgent_mri: Mapping[str, Orderable]
    #: limb (upper/lower) -> EMG/NCS order
    electrodiagnostic: Mapping[str, Orderable]
    prevalence_ages: tuple[int, ...]
    prevalence: Mapping[str, tuple[int, ...]]
    #: Which card silences which (config/guidelines/precedence.yaml).
    precedence: "Precedence" = None  # type: ignore[assignment]
    #: Red flags: what counts, when, where the urgent study looks (config/guidelines/red-flags.yaml).
    red_flags: "RedFlagTable" = None  # type: ignore[assignment]
    #: Pre-test notes: thresholds, windows, drug groups (config/guidelines/pretest.yaml).
    pretest: "PretestTable" = None  # type: ignore[assignment]
    #: region -> radiograph order (radiographs first: config/guidelines/imaging-appropriateness.yaml).
    radiograph: Mapping[str, Orderable] = None  # type: ignore[assignment]
    #: ACR Low Back Pain variants and PAMA ratings (config/guidelines/imaging-appropriateness.yaml).
    appropriateness: "AppropriatenessTable" = None  # type: ignore[assignment]

    def prevalence_at(self, age: int) -> tuple[int, list[dict]]:
        """The table's column nearest ``age`` (clamped to 20-80) and its rows."""
        column = min(range(len(self.prevalence_ages)), key=lambda i: abs(self.prevalence_ages[i] - age))
        rows = [{"finding": name, "percent": values[column]} for name, values in self.prevalence.items()]
        return self.prevalence_ages[column], rows


_THRESHOLDS = ("emg_too_early_days", "lbp_imaging_min_days", "recent_emg_days", "long_standing_days",
               "multilevel_min_levels")


def _orderables(data: dict, name: str, path: Path) -> dict[str, Orderable]:
    try:
        return {key: Orderable(**{f: str(v[f]) for f in ("system", "code", "display", "text")})
                for key, v in data[name].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise RuleConfigError(f"{path.name}: {name}: missing or malformed entry ({exc})") from None


def load_rule_config(guidelines_dir: Path) -> RuleConfig:
    """:raise RuleConfigError: on a missing file, threshold or malformed entry."""
    try:
        rules = yaml.safe_load((guidelines_dir / "rules.yaml").read_text()) or {}
        orderables_path = guidelines_dir / "orderables.yaml"
        orderables = yaml.safe_load(orderables_path.read_text()) or {}
        table_path = guidelines_dir / "asymptomatic-mri-prevalence.yaml"
        table = yaml.safe_load(table_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError(f"config/guidelines: {exc}") from None
    values = {}
    for name in _THRESHOLDS:
        entry = rules.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), int) or not entry.get("source"):
            raise RuleConfigError(f"rules.yaml: {name} needs an integer value and a source")
        values[name] = entry["value"]
    ages = tuple(table.get("ages") or ())
    findings = {k: tuple(v) for k, v in (table.get("findings") or {}).items()}
    if not ages or any(len(v) != len(ages) for v in findings.values()):
        raise RuleConfigError(f"{table_path.name}: every finding needs one value per age")
    urgent = _orderables(orderables, "urgent_mri", orderables_path)
    edx = _orderables(orderables, "electrodiagnostic", orderables_path)
    radiograph = _orderables(orderables, "radiograph", orderables_path)
    for region in ("cervical", "thoracic", "lumbar"):
        if region not in urgent or f"{region}-contrast" not in urgent:
            raise RuleConfigError(f"{orderables_path.name}: urgent_mri needs {region} and {region}-contrast")
    if set(radiograph) != {"cervical", "thoracic", "lumbar"}:
        raise RuleConfigError(f"{orderables_path.name}: radiograph needs cervical, thoracic and lumbar")
    if set(edx) != {"upper", "lower"}:
        raise RuleConfigError(f"{orderables_path.name}: electrodiagnostic needs upper and lower")
    try:
        precedence = load_precedence(guidelines_dir / "precedence.yaml")
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise RuleConfigError(f"precedence.yaml: {exc}") from None
    try:
        red_flags = load_red_flag_table(guidelines_dir / "red-flags.yaml", _bibliography_keys(guidelines_dir))
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuleConfigError(f"red-flags.yaml: {exc}") from None
    try:
        pretest = load_pretest_table(guidelines_dir / "pretest.yaml")
    except (OSError, yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        raise RuleConfigError(f"pretest.yaml: {exc}") from None
    try:
        appropriateness = load_appropriateness_table(guidelines_dir / "imaging-appropriateness.yaml",
                                                     _bibliography_links(guidelines_dir))
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuleConfigError(f"imaging-appropriateness.yaml: {exc}") from None
    return RuleConfig(**values, urgent_mri=urgent, electrodiagnostic=edx, prevalence_ages=ages, prevalence=findings,
                      precedence=precedence, red_flags=red_flags, pretest=pretest, radiograph=radiograph,
                      appropriateness=appropriateness)


def _bibliography_keys(guidelines_dir: Path) -> set[str] | None:
    """The keys of config/bibliography.yaml (None without one: the red-flag links are then not checked here)."""
    path = guidelines_dir.parent / "bibliography.yaml"
    if not path.exists():
        return None
    return set((yaml.safe_load(path.read_text()) or {}).keys())


def _bibliography_links(guidelines_dir: Path) -> dict[str, str | None] | None:
    """Key -> address (the DOI's) of config/bibliography.yaml (None without one)."""
    path = guidelines_dir.parent / "bibliography.yaml"
    if not path.exists():
        return None
    return {source.key: source.link for source in Bibliography.load(path)}
