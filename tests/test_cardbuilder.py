import re
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


def test_a_summary_too_long_says_the_short_summary_instead(tmp_path):
    _make_kind(tmp_path, "greeting")
    (tmp_path / "greeting" / "summary_short.txt").write_text("Hello, {{ who | length }} letters")
    lib = CardLibrary(tmp_path)
    assert lib.render(CardSpec("greeting", {"who": "world"}))["summary"] == "Hello world"
    assert lib.render(CardSpec("greeting", {"who": "x" * 140}))["summary"] == "Hello, 140 letters"


@pytest.mark.parametrize("text,width,expected", [
    ("short enough", 60, "short enough"),
    # At the end of a phrase in the last half when there is one, never mid-word.
    ("C6-C7 right foraminal disc osteophyte complex with severe right foraminal stenosis", 60,
     "C6-C7 right foraminal disc osteophyte complex…"),
    ("EMG/NCS left lower extremity including paraspinal muscles and H reflexes", 40,
     "EMG/NCS left lower extremity including…"),
])
def test_shortened_record_text_ends_at_a_phrase_or_a_word(text, width, expected):
    from cds_service.cardbuilder import _shorten

    assert _shorten(text, width) == expected and len(expected) <= width


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


# --- record text is text -----------------------------------------------------------------

HOSTILE = "**Bold** [click](javascript:alert(1)) <img src=x onerror=alert(2)> https://evil.example _x_"


def _render_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"linkify": True, "html": True}).enable("linkify").enable("table").render(markdown)


def test_markdown_text_escapes_everything_that_could_become_markup():
    from cds_service.cardbuilder import markdown_text

    for text in (HOSTILE, "- item\n# heading", "1. first", "> quote", "`code`", "a | b", "www.evil.example"):
        html = _render_html("- " + markdown_text(text))
        inner = html.replace("<ul>\n<li>", "", 1).replace("</li>\n</ul>\n", "", 1)
        assert "<" not in inner.replace("&lt;", ""), (text, html)  # no element but the one list item


#: Record text a GitHub-flavoured renderer would turn into links (issue 17: mailto: under cmark-gfm).
LINKY = ("Contact j.doe@example.org or mailto:ward7@hospital.example.org, xmpp:desk@im.example.org/r, "
         "see example.com, evil.co/path, www.evil.example, https://evil.example/x and HTTP://X.Y")


def _render_gfm(markdown: str) -> str:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    # GitHub's renderer: tables, strikethrough, autolinks (www., URLs, e-mail), raw HTML kept.
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


RENDERERS = {"commonmark+linkify": _render_html, "gfm (cmark-gfm)": _render_gfm}


@pytest.mark.parametrize("render", list(RENDERERS.values()), ids=list(RENDERERS))
@pytest.mark.parametrize("text", [HOSTILE, LINKY, "j.doe@example.org", "<a@b.co>", "user+tag@sub.example.com."])
def test_markdown_text_makes_no_link_under_commonmark_or_gfm(render, text):
    from cds_service.cardbuilder import markdown_text

    html = render("- " + markdown_text(text))
    inner = html.replace("<ul>\n<li>", "", 1).replace("</li>\n</ul>\n", "", 1)
    assert "<" not in inner.replace("&lt;", ""), (text, html)
    assert "href" not in html, html


def test_markdown_text_keeps_the_words_and_decimals():
    from cds_service.cardbuilder import markdown_text

    assert _render_gfm(markdown_text("L4-L5 disc 3.5 mm. Call j.doe@example.org")) == \
        "<p>L4-L5 disc 3.5 mm. Call j.doe\uff20example.org</p>\n"


def test_hostile_record_text_stays_text_in_every_card_kind(app):
    """Condition names, report text and order names from the record render as literal text."""
    import copy

    from tests.scenarios.test_scenarios import SCENARIOS, run_scenario

    kinds = set()
    for scenario in SCENARIOS:
        scenario = copy.deepcopy(scenario)
        for c in scenario.get("conditions", []):
            c["display"] = f"{c.get('display', '')} {HOSTILE} {LINKY}"
        for r in scenario.get("reports", []):
            for field in ("conclusion", "text"):
                if r.get(field):
                    r[field] = f"{r[field]} {HOSTILE}"
        for o in scenario.get("orders", []):
            o["display"] = f"{o.get('display', '')} {HOSTILE}"
        for card in run_scenario(app, scenario)["cards"]:
            kinds.add(card["source"]["topic"]["code"])
            for html in (_render_html(card["detail"]), _render_gfm(card["detail"])):
                hrefs = re.findall(r'href="([^"]*)"', html)
                assert not [h for h in hrefs if re.search(r"(?i)mailto|xmpp|example\.|evil|x\.y", h)], hrefs
            html = _render_html(card["detail"])
            assert "<img" not in html, card["detail"]
            assert 'href="javascript' not in html and "evil.example\"" not in html, card["detail"]
            assert "<strong>Bold</strong>" not in html and "<em>x</em>" not in html, card["detail"]
    assert len(kinds) >= 6, kinds  # the hostile text reached most card kinds


def test_invisible_and_direction_changing_characters_never_reach_a_card(tmp_path):
    # Record text with a right-to-left override would read on screen differently from what it says.
    _make_kind(tmp_path, "greeting")
    lib = CardLibrary(tmp_path)
    spoof = "L5\u202e TFEL\u202c radiculopathy\u200b\x07\u2066x\u2069"
    action = {"type": "delete", "description": f"Remove the draft order: {spoof}", "resourceId": "ServiceRequest/1"}
    card = lib.render(CardSpec("greeting", {"who": spoof}, (Suggestion(f"Remove {spoof}", (action,)),)))
    for text in (card["summary"], card["detail"], card["suggestions"][0]["label"],
                 card["suggestions"][0]["actions"][0]["description"]):
        assert not any(ch in text for ch in "\u202e\u202c\u200b\x07\u2066\u2069"), repr(text)
        assert "TFEL" in text  # the visible text stays
    assert "\n" not in card["summary"]


HL7_REASONS = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


def _library_with_reasons(tmp_path: Path, reasons: str) -> CardLibrary:
    """A one-kind library beside a copy of config/override-reason-codes.yaml, with these reasons."""
    cards, config = tmp_path / "cards", tmp_path / "config"
    config.mkdir()
    (config / "override-reason-codes.yaml").write_text(
        (CARDS.parent / "config" / "override-reason-codes.yaml").read_text())
    _make_kind(cards, "greeting")
    yaml_path = cards / "greeting" / "card.yaml"
    yaml_path.write_text(yaml_path.read_text().split("override_reasons:")[0] + "override_reasons:\n" + reasons)
    return CardLibrary(cards)


def test_a_reason_with_an_hl7_code_is_sent_in_the_hl7_system(tmp_path):
    """CDS Hooks 3.0: the HL7 non-adherence reason code where one fits, the card's own words as display."""
    lib = _library_with_reasons(tmp_path, "  - code: lab-told\n    display: Lab already told\n    hl7: action-completed\n"
                                          "  - code: local-only\n    display: Something local\n")
    card = lib.render(CardSpec("greeting", {"who": "x"}))
    assert card["overrideReasons"] == [
        {"system": HL7_REASONS, "code": "action-completed", "display": "Lab already told"},
        {"system": "https://spine-order-cds.example.org/fhir/CodeSystem/override-reason", "code": "local-only",
         "display": "Something local"}]
    assert CardSchema().validate(card) == {}
    tpl = lib.template("greeting")
    assert tpl.reason_display(HL7_REASONS, "action-completed") == "Lab already told"
    # Feedback stored with the service's own code before the HL7 code was added still reads.
    assert tpl.reason_display("https://spine-order-cds.example.org/fhir/CodeSystem/override-reason",
                              "lab-told") == "Lab already told"


@pytest.mark.parametrize("reasons,message", [
    ("  - code: a\n    display: A\n    hl7: action-done-already\n", "not an HL7 non-adherence reason code"),
    ("  - code: a\n    display: A\n    hl7: action-completed\n  - code: b\n    display: B\n    hl7: action-completed\n",
     "two override reasons send"),
    ("  - code: a\n    display: A\n  - code: a\n    display: A again\n", "listed twice"),
])
def test_an_hl7_code_that_is_unknown_or_ambiguous_fails_loading(tmp_path, reasons, message):
    with pytest.raises(CardContentError, match=message):
        _library_with_reasons(tmp_path, reasons)


def test_repo_cards_send_hl7_codes_only_from_the_hl7_list():
    import yaml
    codes = yaml.safe_load((CARDS.parent / "config" / "override-reason-codes.yaml").read_text())["codes"]
    lib = CardLibrary(CARDS)
    sent = [r for k in lib.kinds for r in lib.template(k).override_reasons if r.system == HL7_REASONS]
    assert sent and all(r.code in codes for r in sent)


@pytest.mark.parametrize("root,region,expected", [
    ("L2", "lumbar", "Is there an L2 radiculopathy?"),
    ("S1", "lumbar", "Is there an S1 radiculopathy?"),
    ("C6", "cervical", "Is there a C6 radiculopathy?"),
    ("left L5", "lumbar", "Is there a left L5 radiculopathy?"),
    (None, "lumbar", "Is there a lumbar radiculopathy?"),
    (None, None, "Is there a root problem?"),
])
def test_the_study_question_takes_the_article_its_root_is_read_with(root, region, expected):
    """Root names are read as letters: "an L2", "an S1", but "a C6"; a target with its own article keeps it."""
    lib = CardLibrary(CARDS)
    template = lib._env.from_string('{% import "_macros/question.md" as q %}{{ q.study_question(x) }}')
    text = template.render(x={"root": root, "region": region, "levels": [], "mimics": [], "either": None})
    assert text.startswith(expected), text
