from cds_service.draft_orders import extract_orders
from tests.support.builders import bundle, service_request


def test_service_requests_first_other_request_types_tolerated():
    med = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
           "medicationCodeableConcept": {"text": "gabapentin 300 mg"}}
    orders = extract_orders(bundle(med, service_request("a"), {"resourceType": "Patient", "id": "x"},
                                   service_request("b")))
    assert [o.reference for o in orders] == ["ServiceRequest/a", "ServiceRequest/b", "MedicationRequest/m1"]
    assert orders[2].text == "gabapentin 300 mg"


def test_selections_keep_only_the_selected_orders():
    b = bundle(service_request("a"), service_request("b"))
    assert [o.id for o in extract_orders(b, ["ServiceRequest/b"])] == ["b"]
    assert [o.id for o in extract_orders(b, ["https://ehr.example.org/fhir/ServiceRequest/a"])] == ["a"]
    assert extract_orders(b, ["MedicationRequest/a"]) == []


def test_codings_and_text_are_read_from_odd_orders():
    sandbox_first_call = service_request("s", cpt=None, display="")  # code.coding: [{}]
    sandbox_first_call["code"].pop("text")
    local = {"resourceType": "ServiceRequest", "id": "l", "code": {"text": "EMG/NCV BLE"},
             "bodySite": [{"text": "left arm"}], "reasonCode": [{"coding": [{"system": "http://snomed.info/sct",
                                                                             "code": "128196005"}]}]}
    no_id = {"resourceType": "ServiceRequest", "code": "not-an-object"}
    s, l, n = extract_orders({"resourceType": "Bundle", "entry": [{"resource": sandbox_first_call},
                                                                  {"resource": local}, {"resource": no_id}, {}, "x"]})
    assert s.codings == () and s.text == ""
    assert l.text == "EMG/NCV BLE" and l.body_site_text == "left arm"
    assert l.reason_codings[0].code == "128196005"
    assert n.reference is None and n.codings == ()
