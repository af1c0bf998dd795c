"""The hook pipeline through the Flask client: order selection and response building."""

from cds_service.protocol import CardResponseSchema
from tests.support.builders import hook_request, service_request


def _post(client, hook, body):
    service = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}[hook]
    resp = client.post(f"/cds-services/{service}", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert CardResponseSchema().validate(resp.json) == {}
    return resp.json


def test_order_select_cards_are_about_the_selected_orders_only(client):
    mri = service_request("mri-1", cpt="72148", display="MRI lumbar spine without contrast")
    emg = service_request("emg-1", cpt="95886", display="EMG complete, one extremity")
    body = hook_request("order-select", orders=[mri, emg], selections=["ServiceRequest/emg-1"])
    cards = _post(client, "order-select", body)["cards"]
    assert len(cards) == 1 and "EMG complete" in cards[0]["summary"]
    assert "ServiceRequest/emg-1" in cards[0]["detail"]


def test_order_sign_reads_every_draft_order(client):
    mri = service_request("mri-1", cpt="72148", display="MRI lumbar spine without contrast")
    emg = service_request("emg-1", cpt="95886", display="EMG complete, one extremity")
    cards = _post(client, "order-sign", hook_request("order-sign", orders=[mri, emg]))["cards"]
    assert len(cards) == 2


def test_an_order_that_is_not_spine_mri_or_emg_gets_no_card_and_needs_no_data(client):
    lipids = service_request("lab-1", cpt="80061", display="Lipid panel")
    # No prefetch at all: nothing is fetched for an order this service does not advise on.
    body = hook_request("order-sign", orders=[lipids], prefetch={})
    assert _post(client, "order-sign", body) == {"cards": []}


def test_empty_draft_orders_get_no_card(client):
    body = hook_request("order-sign", orders=[])
    assert _post(client, "order-sign", body) == {"cards": []}


def test_invalid_prefetch_resources_are_skipped_not_fatal(client):
    bad_condition = {"resourceType": "Condition", "id": "c1"}  # no subject: invalid R4
    body = hook_request("order-sign", prefetch={"conditions": {"resourceType": "Bundle", "type": "searchset",
                                                               "entry": [{"resource": bad_condition}]}})
    assert len(_post(client, "order-sign", body)["cards"]) == 1
