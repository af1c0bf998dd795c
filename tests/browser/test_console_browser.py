"""The card console end to end: headless Chromium, the page, a live gunicorn service and its store.

Each test opens the page in a fresh browser context, works it as a user would
(buttons and fields found by their accessible names), and checks what is
rendered against the service's own answer (shown in the page's raw JSON
block) and what the service stored (its feedback summary).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "examples" / "order-select-emg-cervical.json").read_text())

#: --critical in console.css: the critical card's edge must be red, not only say "critical".
CRITICAL_RGB = "rgb(179, 38, 30)"


def _expect():
    from playwright.sync_api import expect

    return expect


def _raw(section) -> tuple[dict, dict]:
    """The request sent and the response received, from the page's raw JSON block."""
    blocks = section.locator("details.raw pre")
    return json.loads(blocks.nth(0).text_content()), json.loads(blocks.nth(1).text_content())


def _summary(base: str, service_id: str, kind: str) -> dict:
    body = requests.get(f"{base}/cds-services/{service_id}/feedback/summary", timeout=5).json()
    return next(k for k in body["kinds"] if k["kind"] == kind)


def _paste(page, request) -> None:
    page.get_by_label("Or paste a hook request").fill(request if isinstance(request, str) else json.dumps(request))
    page.get_by_role("button", name="Use the pasted request").click()


def _fire(page, hook: str):
    name = "Select order (order-select)" if hook == "order-select" else "Sign (order-sign)"
    page.get_by_role("button", name=name).click()
    section = page.locator(f"#result-{hook} section.call")
    section.wait_for()
    return section


def _patient(catalog: dict, patient_id: str) -> dict:
    return next(p for p in catalog["patients"] if p["id"] == patient_id)


def test_demo_patient_select_sign_and_accept_a_suggestion(open_console, console_service, demo_catalog):
    expect = _expect()
    page = open_console(console_service)
    options = page.locator("#demo-patient option:not([value=''])")
    assert options.all_text_contents() == [p["title"] for p in demo_catalog["patients"]]

    patient = _patient(demo_catalog, "demo-cervical-1")
    assert "emg-adds-value" in patient["expected"]["order-select"]
    page.get_by_label("Demo patient").select_option(patient["id"])
    expect(page.locator("#paste-status")).to_contain_text("Loaded")
    expect(page.locator("#demo-story")).to_contain_text(patient["story"][:40])
    expect(page.locator("#order-list input:checked")).to_have_count(1)

    select = _fire(page, "order-select")
    request, response = _raw(select)
    assert request["hook"] == "order-select" and request["context"]["patientId"] == patient["id"]
    cards = select.locator("article.card")
    assert [c.get_attribute("data-kind") for c in cards.all()] == patient["expected"]["order-select"]
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == patient["expected"]["order-select"]
    expect(select.locator(".expected.match")).to_be_visible()
    expect(select.locator(".meta")).to_contain_text("HTTP 200")
    assert re.search(r"\d+ ms", select.locator(".meta").text_content())
    assert re.fullmatch(r"[0-9a-f]{32}", select.locator(".meta .request-id").text_content())

    # The card as an EHR shows it: indicator in words, summary, Markdown as elements, source, links.
    index = patient["expected"]["order-select"].index("emg-adds-value")
    card, data = cards.nth(index), response["cards"][index]
    expect(card.locator(".badge")).to_have_text(re.compile(r"\bInfo$"))
    expect(card.locator(".summary")).to_have_text(data["summary"])
    detail = card.locator(".detail")
    assert detail.locator("strong").count() >= 2 and detail.locator("ul > li").count() >= 2
    assert "**" not in detail.text_content()
    assert not any(line.startswith("- ") for line in detail.inner_text().splitlines())
    source = card.locator(".source a")
    expect(source).to_have_text(data["source"]["label"])
    assert source.get_attribute("href") == data["source"]["url"]
    links = card.locator("ul.links a")
    assert [a.get_attribute("href") for a in links.all()] == [link["url"] for link in data["links"]]
    for anchor in [source, *links.all()]:
        assert anchor.get_attribute("target") == "_blank" and "noopener" in anchor.get_attribute("rel")

    # Accept the suggestion: its FHIR actions appear and the feedback is stored.
    suggestion = data["suggestions"][0]
    before = _summary(console_service, "spine-order-select", "emg-adds-value")
    card.get_by_role("button", name=f"Accept: {suggestion['label']}").click()
    actions = card.locator(".actions-box")
    expect(actions).to_be_visible()
    expect(actions.locator(".action-type").first).to_have_text(suggestion["actions"][0]["type"])
    assert json.loads(actions.locator("pre").first.text_content()) == suggestion["actions"][0]["resource"]
    answer = card.locator(".feedback-answer")
    answer.wait_for()
    sent = json.loads(card.locator(".feedback-body").text_content())
    assert sent["feedback"][0]["card"] == data["uuid"]
    assert sent["feedback"][0]["outcome"] == "accepted"
    assert sent["feedback"][0]["acceptedSuggestions"] == [{"id": suggestion["uuid"]}]
    assert json.loads(answer.text_content()) == {"received": 1, "recorded": 1, "duplicates": 0, "unknownCards": 0}
    assert _summary(console_service, "spine-order-select", "emg-adds-value")["accepted"] == before["accepted"] + 1
    expect(card.locator(".card-status")).to_contain_text("Accepted")

    sign = _fire(page, "order-sign")
    request, _ = _raw(sign)
    assert request["hook"] == "order-sign" and "selections" not in request["context"]
    assert [c.get_attribute("data-kind") for c in sign.locator("article.card").all()] == \
        patient["expected"]["order-sign"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky controls then sit at the top of the picture
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)


def test_override_a_critical_card_with_a_reason_by_keyboard(open_console, console_service, demo_catalog):
    expect = _expect()
    page = open_console(console_service)
    patient = _patient(demo_catalog, "demo-cauda-1")
    page.get_by_label("Demo patient").select_option(patient["id"])
    expect(page.locator("#paste-status")).to_contain_text("Loaded")
    select = _fire(page, "order-select")
    _, response = _raw(select)
    card = select.locator("article.card-critical").first
    data = next(c for c in response["cards"] if c["indicator"] == "critical")
    expect(card.locator(".badge")).to_have_text(re.compile(r"\bCritical$"))
    assert card.evaluate("node => getComputedStyle(node).borderLeftColor") == CRITICAL_RGB

    reason = data["overrideReasons"][1]
    before = _summary(console_service, "spine-order-select", data["source"]["topic"]["code"])
    card.get_by_role("button", name="Dismiss with a reason").focus()
    page.keyboard.press("Enter")  # opens the form, focus on the first reason
    expect(card.locator("form.override-form")).to_be_visible()
    expect(card.get_by_role("button", name="Send override")).to_be_disabled()  # no reason chosen yet
    page.keyboard.press("ArrowDown")  # the second reason
    expect(card.get_by_label(reason["display"])).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Seen in the emergency department this morning")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Send override

    answer = card.locator(".feedback-answer")
    answer.wait_for()
    sent = json.loads(card.locator(".feedback-body").text_content())["feedback"][0]
    assert sent["outcome"] == "overridden" and sent["card"] == data["uuid"]
    assert sent["overrideReason"]["reason"]["code"] == reason["code"]
    assert sent["overrideReason"]["userComment"] == "Seen in the emergency department this morning"
    assert json.loads(answer.text_content())["recorded"] == 1
    after = _summary(console_service, "spine-order-select", data["source"]["topic"]["code"])
    assert after["overridden"] == before["overridden"] + 1
    assert reason["code"] in [r["code"] for r in after["topOverrideReasons"]]
    expect(card.locator(".card-status")).to_contain_text(f"Overridden: {reason['display']}")
    expect(card.get_by_role("button", name=re.compile("^Accept"))).to_be_disabled()


def test_pasted_request_and_the_derived_order_sign(open_console, console_service):
    expect = _expect()
    page = open_console(console_service)
    _paste(page, EXAMPLE)
    expect(page.locator("#paste-status")).to_contain_text("order-sign is derived")
    expect(page.get_by_label(re.compile("ServiceRequest/draft-1"))).to_be_checked()

    select = _fire(page, "order-select")
    sent, _ = _raw(select)
    assert sent["context"]["selections"] == ["ServiceRequest/draft-1"]
    assert sent["hookInstance"] != EXAMPLE["hookInstance"]  # a new instance per call
    expect(select.locator("article.card[data-kind=emg-adds-value]")).to_have_count(1)

    sign = _fire(page, "order-sign")
    sent, response = _raw(sign)
    assert sent["hook"] == "order-sign" and "selections" not in sent["context"]
    assert sent["context"]["draftOrders"] == EXAMPLE["context"]["draftOrders"]
    assert sent["prefetch"] == EXAMPLE["prefetch"]
    assert sign.locator("article.card").count() == len(response["cards"]) >= 1

    # A prefetch key not sent: the response's data-gaps extension is shown with the cards.
    partial = copy.deepcopy(EXAMPLE)
    del partial["prefetch"]["devices"]
    _paste(page, partial)
    gaps = _fire(page, "order-select").locator(".data-gaps")
    expect(gaps).to_contain_text("could not be read")
    expect(gaps.locator("li")).to_have_text(["devices: not-sent"])


def test_card_text_is_shown_never_run(open_console, console_service):
    page = open_console(console_service)
    # Record text quoted by a card (a condition's name) carrying HTML and a script link.
    hostile = copy.deepcopy(EXAMPLE)
    condition = hostile["prefetch"]["conditions"]["entry"][1]["resource"]
    text = 'Carpal tunnel <img src=x onerror="document.body.dataset.pwned=1"> [x](javascript:alert(1)) **b**'
    condition["code"]["text"] = condition["code"]["coding"][0]["display"] = text
    _paste(page, hostile)
    select = _fire(page, "order-select")
    detail = select.locator("article.card[data-kind=emg-adds-value] .detail")
    assert '<img src=x onerror="document.body.dataset.pwned=1">' in detail.text_content()
    assert detail.locator("img").count() == 0
    assert detail.locator("a").count() == 0  # javascript: is not a link
    assert page.locator("body").get_attribute("data-pwned") is None

    # The renderer's subset, in the page itself.
    html = page.evaluate("""() => {
        const md = "# Head\\n\\nSome **bold** and *it* and `code`, [ok](https://example.org) [no](javascript:x)\\n" +
                   "- one\\n- two\\nlazy\\n\\n1. first\\n2. second\\n\\n<script>window.bad = 1</script>";
        return CdsMarkdown.render(md).innerHTML;
    }""")
    assert "<h4>Head</h4>" in html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html and "<code>code</code>" in html
    assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer">ok</a>' in html
    assert "[no](javascript:x)" in html
    assert "<ul><li>one</li><li>two\nlazy</li></ul>" in html
    assert "<ol><li>first</li><li>second</li></ol>" in html
    assert "&lt;script&gt;window.bad = 1&lt;/script&gt;" in html
    assert page.evaluate("() => window.bad") is None


def test_errors_are_explained(open_console, console_service):
    expect = _expect()
    page = open_console(console_service)
    _paste(page, "{not json")
    expect(page.locator("#paste-status")).to_contain_text("Not JSON")
    expect(page.get_by_role("button", name="Select order (order-select)")).to_be_disabled()

    no_orders = copy.deepcopy(EXAMPLE)
    del no_orders["context"]["draftOrders"]
    _paste(page, no_orders)
    select = _fire(page, "order-select")
    error = select.get_by_role("alert")
    expect(error).to_contain_text("refused the request (400)")
    expect(error.locator(".field-errors li")).to_contain_text("context.draftOrders")

    no_prefetch = copy.deepcopy(EXAMPLE)
    no_prefetch["prefetch"] = {}
    _paste(page, no_prefetch)
    error = _fire(page, "order-select").get_by_role("alert")
    expect(error).to_contain_text("412 Precondition failed")
    expect(error.locator(".field-errors")).to_contain_text("conditions")


def test_a_service_checking_jwts_gets_a_401_sentence(open_console, locked_service):
    expect = _expect()
    page = open_console(locked_service)
    expect(page.locator("#demo-off")).to_contain_text("Demo patients are switched off")
    expect(page.locator("#demo-picker")).to_be_hidden()
    _paste(page, EXAMPLE)
    error = _fire(page, "order-select").get_by_role("alert")
    expect(error).to_contain_text("401 Unauthorized")
    expect(error).to_contain_text("CDS_AUTH_DISABLED=true")
    expect(error).to_contain_text("WWW-Authenticate: Bearer")
