"""The patient explainer in headless Chromium, reached as a clinician reaches it: from an EMG/NCS card.

A demo patient's hook request goes to a live gunicorn service; the link on its EMG/NCS card (built
from the request's URL root: the service has no public_base_url here) is opened in a fresh browser
context. The page must show every section without a script error or CSP violation, its Print button
must call the browser's print, and print media must hide the navigation. A screenshot and an A4 and a
Letter print preview are kept in test-artifacts/.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser.conftest import ARTIFACTS, page_opener

pytestmark = pytest.mark.e2e

SECTIONS = {
    "what": "What the test is",
    "not": "What the test is not",
    "why": "Why your doctor asked for it",
    "expect": "What to expect",
    "tell": "What to tell the lab",
    "results": "How the results are read",
    "urgent": "When to get urgent care",
}


def _card_link(base: str, patient: str, hook: str, kind: str) -> str:
    body = requests.get(f"{base}/demo/requests/{patient}/{hook}", timeout=10).json()
    service = "spine-order-select" if hook == "order-select" else "spine-order-sign"
    cards = requests.post(f"{base}/cds-services/{service}", json=body, timeout=10).json()["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"] == kind)
    return next(link["url"] for link in card["links"] if "/patient/emg-ncs" in link["url"])


@pytest.fixture
def open_page(browser):
    with page_opener(browser, {"width": 1000, "height": 900}) as open_url:
        yield open_url


def test_the_card_link_opens_the_explainer_with_every_section_and_it_prints_without_the_nav(
        open_page, console_service):
    from playwright.sync_api import expect

    url = _card_link(console_service, "demo-cervical-1", "order-select", "emg-adds-value")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == console_service  # the request's URL root
    assert parts.query == "limb=arm&question=root-or-nerve"
    page = open_page(url)

    expect(page.locator("h1")).to_have_text("Your nerve test (EMG and nerve conduction study)")
    assert page.locator("main section h2").all_text_contents() == list(SECTIONS.values())
    for section_id, heading in SECTIONS.items():
        section = page.locator(f"section#{section_id}")
        expect(section).to_be_visible()
        expect(section.locator("p.source")).to_contain_text("Based on:")
    expect(page.locator("#why")).to_contain_text("arm and hand")
    expect(page.locator("#why")).to_contain_text("at the wrist or at the elbow")
    expect(page.locator("#expect")).to_contain_text("30 to 90 minutes")
    expect(page.locator("#urgent")).to_contain_text("saddle area")

    nav = page.get_by_role("navigation", name="On this page")
    expect(nav).to_be_visible()
    assert nav.get_by_role("link").count() == len(SECTIONS)
    button = page.get_by_role("button", name="Print this page")
    expect(button).to_be_visible()
    # The button calls the browser's print (replaced here: headless Chromium has no print dialog).
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    button.click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explainer-emg-ncs.png"), full_page=True)

    page.emulate_media(media="print")
    expect(nav).to_be_hidden()
    expect(button).to_be_hidden()
    expect(page.locator("#urgent")).to_be_visible()
    expect(page.locator("h1")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "explainer-emg-ncs-print.png"), full_page=True)
    for paper in ("A4", "Letter"):
        pdf = page.pdf(format=paper, print_background=True)
        assert pdf.startswith(b"%PDF")
        pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
        assert 1 <= pages <= 4, f"{paper}: {pages} pages"
        (ARTIFACTS / f"explainer-emg-ncs-{paper.lower()}.pdf").write_bytes(pdf)


@pytest.mark.parametrize("patient,hook,kind,query", [
    ("demo-lumbar-1", "order-sign", "emg-adds-little", "limb=leg"),
    ("demo-anticoag-1", "order-select", "edx-pretest-notes", "limb=leg"),
])
def test_the_other_emg_cards_link_a_variant_that_loads(open_page, console_service, patient, hook, kind, query):
    from playwright.sync_api import expect

    url = _card_link(console_service, patient, hook, kind)
    assert urlsplit(url).query.startswith(query), url
    page = open_page(url)
    expect(page.locator("#why")).to_contain_text("leg and foot")
    assert page.locator("main section").count() == len(SECTIONS)


def test_an_unknown_variant_shows_the_general_page_without_echoing_it(open_page, console_service):
    from playwright.sync_api import expect

    page = open_page(console_service + "/patient/emg-ncs?limb=%3Cb%3Ex%3C%2Fb%3E&question=Patient%2Fexample-1")
    expect(page.locator("body")).to_have_attribute("data-limb", "any")
    expect(page.locator("body")).to_have_attribute("data-question", "general")
    assert "example-1" not in page.content() and "<b>x</b>" not in page.content()
    expect(page.locator("#why")).to_contain_text("the arm or the leg where you have symptoms")
