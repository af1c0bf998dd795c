"""The PAMA rating on every update of a rated spine imaging order (issue 18, the CDS Hooks sandbox).

Clients following the Argonaut "CDS Hooks for PAMA" guide (argonautproject/cds-hooks-for-pama,
docs/index.md) read the rating from the ``http://fhir.org/argonaut/Extension/pama-rating`` extension
of an update action's resource, and read the guide's systemActions from the response's
``extension.systemActions``. The CDS Hooks sandbox's imaging screen (cds-hooks/sandbox
src/components/Pama/pama.jsx) does exactly that, and fails on an accepted update without the
rating. An update replaces the whole resource, so a "make this MRI urgent" update without the
rating would also take the systemAction's rating off the order in any EHR.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.pipeline import call_service
from cds_service.protocol import CardResponseSchema
from tests.scenarios.build import build

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
RATING = "http://fhir.org/argonaut/Extension/pama-rating"
RATING_SYSTEM = "http://fhir.org/argonaut/CodeSystem/pama-rating"
CONSULT = "http://fhir.org/argonaut/Extension/pama-rating-consult-id"

CAUDA_EQUINA_LUMBAR_MRI = {
    "now": "2026-11-26", "patient": {"birthDate": "1981-04-04", "gender": "male"},
    "conditions": [{"code": "icd10:M54.41", "display": "Lumbago with sciatica, right side", "onset": "2026-11-10"}],
    "observations": [{"display": "New urinary retention since this morning, numbness in the saddle area",
                      "date": "2026-11-26"}],
    "orders": [{"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}],
}
#: Written as possible: the hedged card, "If still suspected: make this MRI stat".
POSSIBLE_CAUDA_LUMBAR_MRI = {
    "now": "2026-11-26", "patient": {"birthDate": "1975-05-05", "gender": "female"},
    "conditions": [{"code": "icd10:M54.16", "display": "Left L5 radiculopathy", "onset": "2026-09-08"}],
    "observations": [{"display": "Possible cauda equina syndrome, to be ruled out: new difficulty starting urination. "
                                 "Left L5 numbness.", "date": "2026-11-25"}],
    "orders": [{"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}],
}
MYELOPATHY_CERVICAL_MRI = {
    "now": "2026-11-26", "patient": {"birthDate": "1960-07-07", "gender": "male"},
    "observations": [{"display": "Rapidly worsening gait and hand clumsiness over two weeks, brisk reflexes in all four "
                                 "limbs", "date": "2026-11-20"}],
    "orders": [{"code": "cpt:72141", "display": "MRI cervical spine w/o contrast"}],
}


def _call(app, scenario: dict, hook: str) -> dict:
    engine = app.extensions["cds_engine"]
    service = engine.registry.get("spine-order-select" if hook == "order-select" else "spine-order-sign")
    response = call_service(engine, service, build({**scenario, "hook": hook}), now=NOW)
    assert CardResponseSchema().validate(response) == {}
    return response


def _ratings(resource: dict) -> list[str]:
    """The rating codes an Argonaut client reads from a resource (the sandbox takes the first)."""
    return [c.get("code") for e in resource.get("extension") or [] if e.get("url") == RATING
            for c in (e.get("valueCodeableConcept") or {}).get("coding") or []]


def _extension(resource: dict, url: str) -> dict:
    [ext] = [e for e in resource.get("extension") or [] if e.get("url") == url]
    return ext


def _suggested_updates(response: dict) -> list[tuple[dict, list[dict]]]:
    return [(s, [a for a in s["actions"] if a["type"] == "update"])
            for card in response["cards"] for s in card.get("suggestions", [])
            if any(a["type"] == "update" for a in s["actions"])]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("scenario, code", [(CAUDA_EQUINA_LUMBAR_MRI, None), (POSSIBLE_CAUDA_LUMBAR_MRI, None),
                                            (MYELOPATHY_CERVICAL_MRI, "no-criteria-apply")])
def test_the_urgent_update_of_a_rated_mri_carries_its_rating(app, hook, scenario, code):
    response = _call(app, scenario, hook)
    [system] = response["systemActions"]
    rated = system["resource"]
    assert _ratings(rated) and (code is None or _ratings(rated) == [code])
    updates = _suggested_updates(response)
    assert updates, "the red-flag card suggests making the MRI urgent"
    hedged = scenario is POSSIBLE_CAUDA_LUMBAR_MRI
    assert [c["source"]["topic"]["code"] for c in response["cards"] if c.get("suggestions")][0] == \
        ("red-flag-to-consider" if hedged else "red-flag-urgent-evaluation")
    for suggestion, actions in updates:
        # One update of the order per suggestion: its change and its rating together.
        assert [a["resource"]["id"] for a in actions] == [rated["id"]]
        [action] = actions
        resource = action["resource"]
        assert resource["priority"] in ("urgent", "stat"), suggestion["label"]
        assert _extension(resource, RATING) == _extension(rated, RATING)
        assert _extension(resource, RATING)["valueCodeableConcept"]["coding"][0]["system"] == RATING_SYSTEM
        # The same consult (correlation) id as the systemAction: one rating of the order, not two.
        assert _extension(resource, CONSULT) == _extension(rated, CONSULT)
        # Apart from the priority (and the rating) the resource is the draft, whole.
        unchanged = {k: v for k, v in resource.items() if k not in ("priority", "extension")}
        assert unchanged == {k: v for k, v in rated.items() if k not in ("priority", "extension")}
        assert resource["code"]["coding"] and isinstance(resource.get("reasonCode", []), list)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_the_rating_is_also_where_the_argonaut_guide_and_the_sandbox_read_it(app, hook):
    response = _call(app, CAUDA_EQUINA_LUMBAR_MRI, hook)
    # CDS Hooks 2.0 top-level systemActions and the guide's extension.systemActions: the same actions.
    assert response["extension"]["systemActions"] == response["systemActions"]
    for action in response["extension"]["systemActions"]:
        assert action["type"] == "update" and _ratings(action["resource"])


def test_a_suggested_update_replaces_an_earlier_rating_on_the_draft(app):
    """A draft already carrying a rating (an EHR applied the last call's) gets one rating, the new one."""
    request = build({**CAUDA_EQUINA_LUMBAR_MRI, "hook": "order-sign"})
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["extension"] = [{"url": RATING, "valueCodeableConcept": {"coding": [{"system": RATING_SYSTEM,
                                                                                "code": "not-appropriate"}]}},
                          {"url": CONSULT, "valueUri": "urn:uuid:00000000-0000-4000-8000-000000000000"},
                          {"url": "http://example.org/other", "valueString": "kept"}]
    engine = app.extensions["cds_engine"]
    response = call_service(engine, engine.registry.get("spine-order-sign"), request, now=NOW)
    [system] = response["systemActions"]
    for _, [action] in _suggested_updates(response):
        ext = action["resource"]["extension"]
        assert len(_ratings(action["resource"])) == 1 and _ratings(action["resource"]) == _ratings(system["resource"])
        assert {"url": "http://example.org/other", "valueString": "kept"} in ext
        assert _extension(action["resource"], CONSULT)["valueUri"] != "urn:uuid:00000000-0000-4000-8000-000000000000"


def test_an_update_of_an_unrated_order_carries_no_rating(app):
    """The EMG "add the clinical question" update: not imaging, never rated (the guide: SHALL NOT)."""
    scenario = {"now": "2026-11-26", "patient": {"birthDate": "1970-01-01", "gender": "female"},
                "conditions": [{"code": "icd10:M54.16", "display": "Radiculopathy, lumbar region", "onset": "2026-09-01"}],
                "observations": [{"display": "Numbness of the left foot for 10 weeks", "date": "2026-11-20"}],
                "orders": [{"code": "cpt:95886", "display": "EMG/NCS left lower extremity"}]}
    response = _call(app, scenario, "order-sign")
    assert "systemActions" not in response
    for _, actions in _suggested_updates(response):
        for action in actions:
            assert not _ratings(action["resource"])
