"""The patient explainer (cards/_patient/emg-ncs): its text, its page, and the EMG/NCS cards' link to it.

Readability is the Flesch-Kincaid grade level of textstat (0.7.8: syllables from the CMU dictionary,
bundled, else Pyphen): every variant of the page must read at or below the grade of the spine
surgeon's article it is written from (the article's text before its reference list; the page's text
as the patient reads it: title, headings, paragraphs and list items, without the small-print source
notes meant for the reviewing clinician).
"""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from cds_service.app import create_app
from cds_service.explainer import GENERAL
from cds_service.explainer.views import PAGE_CSP
from tests.conftest import make_settings
from tests.scenarios.test_scenarios import SCENARIOS, run_scenario

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT.parent / "shared" / "reference" / "000_3c653d99c32f3b7d.txt"
PAGE = ROOT / "cards" / "_patient" / "emg-ncs"
PATH = "/patient/emg-ncs"
#: The cards that link the explainer (card.yaml `links: [{page: emg-ncs}]`).
EMG_CARDS = ("emg-adds-value", "emg-adds-little", "edx-pretest-notes")
SECTIONS = ("what", "not", "why", "expect", "tell", "results", "urgent")


@pytest.fixture(scope="module")
def explainer_app():
    return create_app(make_settings())


@pytest.fixture(scope="module")
def page(explainer_app):
    return explainer_app.extensions["cds_engine"].cards.explainers.get("emg-ncs")


def _variants(page):
    return [(limb, question) for limb in page.limb_choices for question in page.questions]


def _article_text() -> str:
    text = ARTICLE.read_text()
    return text.split("\nReferences\n")[0]


# --- the text ---------------------------------------------------------------------


def test_every_variant_reads_at_or_below_the_article_grade(page):
    textstat = pytest.importorskip("textstat")
    article = textstat.flesch_kincaid_grade(_article_text())
    grades = {f"limb={limb or 'any'} question={q}": textstat.flesch_kincaid_grade(page.render(limb, q).text)
              for limb, q in _variants(page)}
    assert len(grades) == 3 * len(page.questions)
    report = "\n".join(f"  {name}: grade {g:.1f}" for name, g in grades.items())
    harder = {name: g for name, g in grades.items() if g > article}
    assert not harder, (f"Flesch-Kincaid grade of the article: {article:.1f}; these variants read harder:\n"
                        + "\n".join(f"  {n}: {g:.1f}" for n, g in harder.items()) + f"\nall variants:\n{report}")
    # The page's own text is measured, not an empty string: it has some length and several sentences.
    assert all(len(page.render(limb, q).text.split()) > 500 for limb, q in _variants(page))


def test_the_formula_is_the_one_the_article_is_measured_with():
    # The numbers the README quotes: a change of textstat's dictionary or formula shows here first.
    textstat = pytest.importorskip("textstat")
    assert 7.0 <= textstat.flesch_kincaid_grade(_article_text()) <= 9.0


def test_every_section_is_there_with_a_source_note(page):
    rendered = page.render("leg", "root")
    assert tuple(s.id for s in rendered.sections) == SECTIONS
    for s in rendered.sections:
        assert s.sources, s.id
        assert s.text.strip(), s.id


def test_what_the_issue_asks_the_page_to_say(page):
    text = page.render(None, GENERAL).text
    for words in ("30 to 90 minutes", "brief shocks", "thin needle", "blood thinner", "pacemaker", "defibrillator",
                  "lotion", "A normal result does not mean that nothing is wrong",
                  "An abnormal result does not mean that you need surgery", "It is not a scan"):
        assert words in text, words


def test_the_urgent_care_list_names_every_red_flag_category_of_the_service(page):
    categories = set(yaml.safe_load((ROOT / "config" / "guidelines" / "red-flags.yaml").read_text())["categories"])
    assert set(page.urgent_care) == categories, "page.yaml urgent_care must list the categories of red-flags.yaml"
    for limb, question in _variants(page):
        urgent = next(s for s in page.render(limb, question).sections if s.id == "urgent").text.lower()
        missing = {c: w for c, words in page.urgent_care.items() for w in words if w.lower() not in urgent}
        assert not missing, f"the urgent-care section does not say: {missing}"


def test_limb_and_question_words_appear_in_the_why_section(page):
    def why(limb, question):
        return next(s for s in page.render(limb, question).sections if s.id == "why").text

    assert "arm and hand" in why("arm", "root") and "in your neck" in why("arm", "root")
    assert "leg and foot" in why("leg", "root") and "in your lower back" in why("leg", "root")
    assert "near the knee" in why("leg", "root-or-nerve") and "at the elbow" in why("arm", "root-or-nerve")
    assert "neuropathy" in why("leg", "neuropathy")
    assert len({why(limb, q) for limb, q in _variants(page)}) == len(_variants(page))


def test_no_sentence_is_copied_from_the_article(page):
    article = {" ".join(s.split()).lower() for s in re.split(r"(?<=[.?!])\s+|\n", ARTICLE.read_text())}
    article = {s for s in article if len(s.split()) >= 6}
    for limb, question in _variants(page):
        ours = {" ".join(s.split()).lower() for s in re.split(r"(?<=[.?!])\s+|\n", page.render(limb, question).text)}
        assert not (ours & article), f"copied from the article: {sorted(ours & article)}"


# --- the page ---------------------------------------------------------------------


def test_the_page_is_html_with_the_service_headers(explainer_app):
    reply = explainer_app.test_client().get(PATH + "?limb=arm&question=root-or-nerve")
    assert reply.status_code == 200
    assert reply.content_type == "text/html; charset=utf-8"
    assert reply.headers["Content-Security-Policy"] == PAGE_CSP
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    html = reply.get_data(as_text=True)
    for section in SECTIONS:
        assert f'<section id="{section}"' in html
    assert 'data-limb="arm"' in html and 'data-question="root-or-nerve"' in html
    assert "<script>" not in html and " style=" not in html and "onclick" not in html  # nothing inline (CSP)
    assert 'id="print"' in html


def test_no_jwt_is_needed_even_with_checks_on():
    app = create_app(make_settings(auth_disabled=False, trusted_issuers={}))
    assert app.test_client().get(PATH).status_code == 200


@pytest.mark.parametrize("query", [
    "limb=<script>alert(1)</script>&question=Patient/example-1",
    "limb=left&question=1961-04-02",
    "question=Jane%20Doe&name=Jane%20Doe&patient=example-1",
    "limb=ARM&question=ROOT",
])
def test_an_unknown_variant_gives_the_general_page_and_is_never_echoed(explainer_app, query):
    client = explainer_app.test_client()
    reply = client.get(f"{PATH}?{query}")
    general = client.get(PATH).get_data(as_text=True)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert html == general  # byte for byte: nothing from the request reached the page
    for _, value in parse_qsl(query):
        assert value not in html or value in general


def test_an_unknown_page_is_404_and_the_setting_turns_the_pages_and_the_links_off():
    client = create_app(make_settings()).test_client()
    assert client.get("/patient/no-such-page").status_code == 404
    off = create_app(make_settings(explainer_enabled=False))
    assert off.test_client().get(PATH).status_code == 404
    body = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())
    cards = off.test_client().post("/cds-services/spine-order-select", json=body).get_json()["cards"]
    assert cards and not any(PATH in link["url"] for c in cards for link in c.get("links", []))


def test_the_package_ships_the_template_and_static_files():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["cds_service.explainer"]
    folder = ROOT / "cds_service" / "explainer"
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert files
    missing = [f for f in files if not any(fnmatch(f, pat) and pat.count("/") == f.count("/") for pat in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


@pytest.mark.parametrize("path", [PATH, PATH + "?limb=leg&question=neuropathy", "/patient/no-such-page",
                                  "/patient/static/explainer.css", "/patient/static/explainer.js",
                                  "/patient/static/no-such-file.css"])
def test_the_page_responses_match_openapi(explainer_app, path):
    from tests.support import openapi

    with explainer_app.test_client().get(path) as reply:  # static files are streamed from an open file
        body = reply.get_json() if reply.is_json else reply.get_data(as_text=True)
    openapi.validate_response("GET", urlsplit(path).path, reply.status_code, body, reply.content_type)
    documented = openapi.operation(PATH, "get")
    enums = {p["name"]: p["schema"].get("enum") for p in openapi.spec()["paths"]["/patient/{page}"]["parameters"]}
    page = explainer_app.extensions["cds_engine"].cards.explainers.get("emg-ncs")
    assert enums["limb"] == ["arm", "leg"] and set(enums["question"]) == set(page.questions), documented["summary"]


# --- the cards' link ----------------------------------------------------------------


def _explainer_links(card: dict) -> list[dict]:
    return [link for link in card.get("links", []) if urlsplit(link["url"]).path == PATH]


def _check_link(link: dict, page, base: str) -> tuple[str | None, str]:
    assert link["type"] == "absolute" and link["label"] == page.link_label
    parts = urlsplit(link["url"])
    assert f"{parts.scheme}://{parts.netloc}" == base and not parts.fragment
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert set(query) <= {"limb", "question"}, query
    assert query.get("limb", "arm") in ("arm", "leg") and query.get("question", "root") in page.questions
    return query.get("limb"), query.get("question", GENERAL)


def test_every_emg_card_of_every_scenario_links_the_explainer(explainer_app, page):
    seen_kinds, variants = set(), set()
    for scenario in SCENARIOS:
        for card in run_scenario(explainer_app, scenario)["cards"]:
            kind = card["source"]["topic"]["code"]
            links = _explainer_links(card)
            if kind in EMG_CARDS:
                assert len(links) == 1, (scenario["name"], kind)
                variants.add(_check_link(links[0], page, "http://localhost"))
                seen_kinds.add(kind)
            else:
                assert not links, (scenario["name"], kind)
    assert seen_kinds == set(EMG_CARDS)
    # The scenarios reach every question and both limbs.
    assert {q for _, q in variants} == set(page.questions), variants
    assert {limb for limb, _ in variants} >= {"arm", "leg"}


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("path", sorted((ROOT / "demo" / "requests").glob("*.json")), ids=lambda p: p.stem)
def test_the_link_carries_no_patient_data(path, page):
    """Through the HTTP view, with no public_base_url: the link's base is the request's URL root."""
    app = create_app(make_settings(public_base_url=""))
    body = json.loads(path.read_text())
    service = "spine-order-select" if body["hook"] == "order-select" else "spine-order-sign"
    reply = app.test_client().post(f"/cds-services/{service}", json=body, base_url="https://cds.hospital.example:8443")
    cards = reply.get_json()["cards"]
    links = [link for c in cards for link in _explainer_links(c)]
    assert len(links) == sum(1 for c in cards if c["source"]["topic"]["code"] in EMG_CARDS)
    context = body["context"]
    patient = next((e["resource"] for e in (body["prefetch"].get("patient") or {}).get("entry", [])), None) \
        or body["prefetch"].get("patient") or {}
    names = [n for name in patient.get("name", []) for n in [*name.get("given", []), name.get("family", "")] if n]
    ids = {context["patientId"], context["userId"], *re.findall(r"[A-Za-z]+/[\w.-]+", json.dumps(context))}
    for link in links:
        _check_link(link, page, "https://cds.hospital.example:8443")
        url = link["url"]
        assert not re.search(r"\d{4}-\d{2}|\d{2}/\d{2}", url), url
        for value in [*ids, *names, context["patientId"].split("/")[-1]]:
            assert value.lower() not in url.lower(), (value, url)
        for side in ("left", "right", "bilateral"):
            assert side not in url


def test_the_configured_public_base_url_wins_over_the_request(page):
    app = create_app(make_settings(public_base_url="https://cds.example.org/spine, https://other.example.org"))
    body = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())
    reply = app.test_client().post("/cds-services/spine-order-select", json=body, base_url="http://evil.example")
    links = [link for c in reply.get_json()["cards"] for link in c.get("links", []) if "/patient/" in link["url"]]
    assert links and all(link["url"].startswith("https://cds.example.org/spine/patient/emg-ncs") for link in links)


# --- broken content stops start-up, naming the file -------------------------------------


def _copy_page(tmp_path: Path) -> Path:
    import shutil

    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    (tmp_path / "config").mkdir()  # the cards' HL7 override reason codes are checked against this list
    shutil.copy(ROOT / "config" / "override-reason-codes.yaml", tmp_path / "config")
    return cards


@pytest.mark.parametrize("edit,message", [
    (lambda md, y: (md.replace("Sources: spine-article\n", "", 1), y), "no Sources line"),
    (lambda md, y: (md.replace("Sources: spine-article\n", "Sources: no-such-key\n", 1), y), "no-such-key"),
    (lambda md, y: (md.replace("{{ question }}", "{{ patient_name }}"), y), "patient_name"),
    (lambda md, y: (md, y.replace("  general:\n", "  other:\n")), "'general'"),
    (lambda md, y: (md, y.replace("    squeeze: near the knee\n", "")), "same words"),
])
def test_a_broken_page_stops_start_up(tmp_path, edit, message):
    from cds_service.bibliography import Bibliography
    from cds_service.cardbuilder import CardContentError, CardLibrary

    cards = _copy_page(tmp_path)
    folder = cards / "_patient" / "emg-ncs"
    md, page_yaml = edit((folder / "page.md").read_text(), (folder / "page.yaml").read_text())
    (folder / "page.md").write_text(md)
    (folder / "page.yaml").write_text(page_yaml)
    with pytest.raises(CardContentError, match=re.escape(message)):
        CardLibrary(cards, Bibliography.load(ROOT / "config" / "bibliography.yaml"))


def test_a_card_linking_an_unknown_page_does_not_load(tmp_path):
    from cds_service.bibliography import Bibliography
    from cds_service.cardbuilder import CardContentError, CardLibrary

    cards = _copy_page(tmp_path)
    card = cards / "emg-adds-value" / "card.yaml"
    card.write_text(card.read_text().replace("page: emg-ncs", "page: no-such-page"))
    with pytest.raises(CardContentError, match="no-such-page"):
        CardLibrary(cards, Bibliography.load(ROOT / "config" / "bibliography.yaml"))
