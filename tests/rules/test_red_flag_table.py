"""The red-flag table is where a sign's category is written, once; the reader and the rules agree on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cds_service.reading.red_flags import RED_FLAG_SIGNS, RED_FLAG_TABLE, table_categories
from cds_service.rules.red_flag_table import load_red_flag_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_reader_files_each_sign_under_the_category_the_table_gives():
    table = table_categories(yaml.safe_load(RED_FLAG_TABLE.read_text()))
    assert RED_FLAG_SIGNS["urinary-retention"] == table["urinary-retention"] == "cauda-equina"
    assert RED_FLAG_SIGNS["iv-drug-use"] == "infection"  # named in a with: clause only
    assert {s: c for s, c in RED_FLAG_SIGNS.items() if s != "cancer"} == {
        s: c for s, c in table.items() if s in RED_FLAG_SIGNS}


def _load(tmp_path, edit) -> None:
    path = tmp_path / "red-flags.yaml"
    path.write_text(edit((ROOT / "config" / "guidelines" / "red-flags.yaml").read_text()))
    load_red_flag_table(path)


def test_a_table_that_moves_a_sign_to_another_category_stops_start_up(tmp_path):
    moved = lambda text: text.replace("- any: [spinal-infection]", "- any: [spinal-infection, foot-drop]", 1)
    with pytest.raises(ValueError, match=r"foot-drop \(infection, the reader: motor-deficit\)"):
        _load(tmp_path, moved)


def test_a_sign_the_reader_never_gives_stops_start_up(tmp_path):
    typo = lambda text: text.replace("urinary-retention,", "urinary-retension,", 1)
    with pytest.raises(ValueError, match="unknown sign or context urinary-retension"):
        _load(tmp_path, typo)
