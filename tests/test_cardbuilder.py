import uuid
from pathlib import Path

import pytest

from cds_service.cardbuilder import CardContentError, CardLibrary, CardRenderError, CardSpec, Suggestion, sort_cards
from cds_service.protocol import CardSchema, CardResponseSchema

CARDS = Path(__file__).resolve().parents[1] / "cards"


def _make_kind(root: Path, name: str, indicator: str = "info", summary: str = "Hello {{ who }}") -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text(
        f"indicator: {indicator}\nsource:\n  label: Test source\n  url: https://example.org/src\n  topic: Test topic\n"
        "override_reasons:\n  - code: already-done\n    display: Already addressed\n"
        "links:\n  - label: Reference\n    url: https://example.org/ref\n")
    (folder / "summary.txt").write_text(summary)
    (folder / "detail.md").write_text("Because **{{ who }}**.")


def test_render_gives_a_spec_valid_card_with_suggestions(tmp_path):
    _make_kind(tmp_path, "greeting")
    lib = CardLibrary(tmp_path)
    action = {"type": "delete", "description": "Remove the draft order", "resourceId": "ServiceRequest/1"}
    card = lib.render(CardSpec("greeting", {"who": "world"}, (Suggestion("Remove", (action,), True),)))
    assert CardSchema().validate(card) == {}
    assert card["summary"] == "Hello world"
    assert card["source"]["topic"]["code"] == "greeting"
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"][0]["display"] == "Already addressed"
    assert uuid.UUID(card["suggestions"][0]["uuid"])
    assert card["suggestions"][0]["isRecommended"] is True


def test_missing_fact_and_long_summary_are_render_errors(tmp_path):
    _make_kind(tmp_path, "greeting")
    lib = CardLibrary(tmp_path)
    with pytest.raises(CardRenderError, match="who"):
        lib.render(CardSpec("greeting", {}))
    with pytest.raises(CardRenderError, match="characters"):
        lib.render(CardSpec("greeting", {"who": "x" * 140}))


@pytest.mark.parametrize("breakage,message", [
    (lambda f: (f / "summary.txt").unlink(), "summary.txt"),
    (lambda f: (f / "card.yaml").write_text("indicator: loud\nsource: {label: x, topic: y}\n"), "indicator"),
    (lambda f: (f / "detail.md").write_text("{% if %}"), "greeting"),
])
def test_a_broken_template_fails_loading_naming_the_folder(tmp_path, breakage, message):
    _make_kind(tmp_path, "greeting")
    breakage(tmp_path / "greeting")
    with pytest.raises(CardContentError, match=message):
        CardLibrary(tmp_path)


def test_cards_sort_critical_warning_info_keeping_rule_order():
    cards = [{"indicator": "info", "n": 1}, {"indicator": "critical", "n": 2}, {"indicator": "warning", "n": 3},
             {"indicator": "info", "n": 4}, {"indicator": "critical", "n": 5}]
    assert [c["n"] for c in sort_cards(cards)] == [2, 5, 3, 1, 4]


def test_response_schema_rejects_unsorted_cards_and_suggestions_without_behavior(tmp_path):
    _make_kind(tmp_path, "a", "info")
    _make_kind(tmp_path, "b", "critical")
    lib = CardLibrary(tmp_path)
    info, critical = lib.render(CardSpec("a", {"who": "x"})), lib.render(CardSpec("b", {"who": "y"}))
    assert CardResponseSchema().validate({"cards": [critical, info]}) == {}
    assert "cards" in CardResponseSchema().validate({"cards": [info, critical]})
    info["suggestions"] = [{"label": "x", "uuid": str(uuid.uuid4()),
                            "actions": [{"type": "delete", "description": "d", "resourceId": "ServiceRequest/1"}]}]
    assert CardResponseSchema().validate({"cards": [info]}) != {}


def test_repo_card_templates_load():
    lib = CardLibrary(CARDS)
    assert lib.kinds
    for kind in lib.kinds:
        tpl = lib.template(kind)
        assert tpl.source["label"] and tpl.source["topic"]["code"] == kind
