"""The console applies an accepted suggestion to its draft orders, as an EHR would (issue 18).

Headless Chromium against a live service: accept a suggestion, see the draft order list change,
then Sign and check the request the page sent (its raw JSON block) carries the changed drafts and
the card the old drafts produced is gone. One test per action type: delete, create, update.
"""

from __future__ import annotations

import pytest

from tests.browser.test_console_browser import _expect, _fire, _patient, _raw

pytestmark = pytest.mark.e2e


def _drafts(request: dict) -> dict[str, dict]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
            for e in request["context"]["draftOrders"]["entry"]}


def _open(open_console, base, catalog, patient_id):
    expect = _expect()
    page = open_console(base)
    patient = _patient(catalog, patient_id)
    page.get_by_label("Demo patient").select_option(patient_id)
    expect(page.locator("#paste-status")).to_contain_text("Loaded")
    return page, patient


def _accept(select, kind: str):
    """Accept the first suggestion of the card ``kind``; its data from the service's own answer."""
    _, response = _raw(select)
    index = [c["source"]["topic"]["code"] for c in response["cards"]].index(kind)
    data = response["cards"][index]
    suggestion = data["suggestions"][0]
    card = select.locator("article.card").nth(index)
    card.get_by_role("button", name=f"Accept: {suggestion['label']}").click()
    return card, suggestion



def _accept_one(page, kind: str, action_type: str):
    """Fire order-select, accept the ``kind`` card's suggestion of one ``action_type`` action:
    (the drafts sent before, that action)."""
    select = _fire(page, "order-select")
    before, _ = _raw(select)
    _, suggestion = _accept(select, kind)
    [action] = suggestion["actions"]
    assert action["type"] == action_type
    return before, action

def test_accepting_a_replacement_deletes_the_emg_and_creates_the_mri(open_console, console_service, demo_catalog):
    """Myelopathy on an arm EMG: "Replace with an urgent cervical MRI" (delete + create)."""
    expect = _expect()
    page, patient = _open(open_console, console_service, demo_catalog, "demo-myelopathy-1")
    select = _fire(page, "order-select")
    before, _ = _raw(select)
    [emg] = _drafts(before)
    card, suggestion = _accept(select, "red-flag-urgent-evaluation")
    [delete] = [a for a in suggestion["actions"] if a["type"] == "delete"]
    [create] = [a for a in suggestion["actions"] if a["type"] == "create"]
    assert delete["resourceId"] == emg
    mri = f"ServiceRequest/{create['resource']['id']}"

    orders = page.get_by_role("list", name="Draft orders", exact=True)
    expect(orders.locator(f"li[data-ref='{emg}']")).to_have_class("changed order-removed")
    expect(orders.locator(f"li[data-ref='{emg}'] input")).to_have_count(0)  # no longer selectable
    expect(orders.locator(f"li[data-ref='{mri}']")).to_contain_text("added")
    expect(orders.locator(f"li[data-ref='{mri}'] input")).to_be_checked()
    expect(page.locator("#orders-status")).to_contain_text("Sign now sends 1 draft order.")
    expect(card.get_by_role("list", name="Applied to the draft orders").locator("li")).to_have_count(2)

    sign = _fire(page, "order-sign")
    sent, response = _raw(sign)
    drafts = _drafts(sent)
    assert emg not in drafts and drafts[mri] == create["resource"]
    # The card asked to remove the EMG: with the EMG gone, no card on Sign names it again.
    assert not any(a.get("resourceId") == emg for c in response["cards"] for s in c.get("suggestions", [])
                   for a in s["actions"])
    # order-select is sent with the new drafts too, the created MRI selected.
    again, _ = _raw(_fire(page, "order-select"))
    assert list(_drafts(again)) == [mri] and again["context"]["selections"] == [mri]


def test_accepting_an_added_order_creates_it_and_the_card_does_not_return(open_console, console_service,
                                                                           demo_catalog):
    """A lumbar MRI where an EMG may answer the question: "Add an order: EMG/NCS" (create)."""
    expect = _expect()
    page, patient = _open(open_console, console_service, demo_catalog, "demo-normal-mri-1")
    assert "edx-may-answer-mri-question" in patient["expected"]["order-sign"]
    before, create = _accept_one(page, "edx-may-answer-mri-question", "create")
    emg = f"ServiceRequest/{create['resource']['id']}"
    orders = page.get_by_role("list", name="Draft orders", exact=True)
    expect(orders.locator("li")).to_have_count(len(_drafts(before)) + 1)
    expect(orders.locator(f"li[data-ref='{emg}']")).to_contain_text("added")
    expect(page.locator("#orders-status")).to_contain_text("Sign now sends 2 draft orders.")

    sign = _fire(page, "order-sign")
    sent, response = _raw(sign)
    assert _drafts(sent)[emg] == create["resource"] and set(_drafts(before)) < set(_drafts(sent))
    # The EMG is now among the drafts: the card suggesting it is not shown again on Sign.
    assert "edx-may-answer-mri-question" not in [c["source"]["topic"]["code"] for c in response["cards"]]


def test_accepting_an_update_replaces_the_order_sent_on_sign(open_console, console_service, demo_catalog):
    """An ulnar EMG: "Add the clinical question to the order" (update of the same resource)."""
    expect = _expect()
    page, patient = _open(open_console, console_service, demo_catalog, "demo-ulnar-1")
    before, update = _accept_one(page, "emg-adds-value", "update")
    ref = f"ServiceRequest/{update['resource']['id']}"
    assert _drafts(before)[ref] != update["resource"]
    orders = page.get_by_role("list", name="Draft orders", exact=True)
    expect(orders.locator(f"li[data-ref='{ref}']")).to_contain_text("updated")
    expect(orders.locator(f"li[data-ref='{ref}'] input")).to_be_checked()  # the tick is kept
    expect(orders.locator("li")).to_have_count(len(_drafts(before)))

    sign = _fire(page, "order-sign")
    sent, _ = _raw(sign)
    assert _drafts(sent)[ref] == update["resource"]
    assert list(_drafts(sent)) == list(_drafts(before))  # replaced in place, nothing added


def test_an_action_on_an_order_no_longer_among_the_drafts_says_so(open_console, console_service, demo_catalog):
    """Select's and Sign's cards both replace the EMG; accepting the second finds it already gone."""
    expect = _expect()
    page, _ = _open(open_console, console_service, demo_catalog, "demo-myelopathy-1")
    select = _fire(page, "order-select")
    sign = _fire(page, "order-sign")
    _accept(select, "red-flag-urgent-evaluation")
    card, suggestion = _accept(sign, "red-flag-urgent-evaluation")
    [delete] = [a for a in suggestion["actions"] if a["type"] == "delete"]
    applied = card.get_by_role("list", name="Applied to the draft orders")
    expect(applied.locator("li.bad")).to_have_text([f"Not applied: no draft order {delete['resourceId']} to delete."])
    expect(page.locator("#orders-status")).to_contain_text("Not applied")
