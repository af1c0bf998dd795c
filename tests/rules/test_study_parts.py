"""NCS-only and needle-only orders: the EMG value card says which half the question needs.

AANEM 2015: nerve conduction and needle EMG are planned and done together; nerve conduction alone
misses a radiculopathy, needle EMG alone does not measure conduction (an entrapment, a neuropathy).
"""

from __future__ import annotations

import pytest

from tests.rules.test_thresholds import _emg_reasons

NCS_ARM = {"code": "cpt:95909", "display": "Nerve conduction studies; 5-6 studies", "bodySite": "right arm"}
NEEDLE_ARM = {"code": "cpt:95886", "display": "Needle EMG, each extremity, complete", "bodySite": "right arm"}
FULL_ARM = {"code": "cpt:95886", "display": "EMG/NCS right upper extremity", "bodySite": "right arm"}
NCS_LEG = {"code": "cpt:95910", "display": "Nerve conduction studies; 7-8 studies", "bodySite": "left leg"}


def _patient(order: dict, observations=(), conditions=()) -> dict:
    return {"now": "2026-11-26", "patient": {"birthDate": "1975-01-01", "gender": "female"},
            "conditions": list(conditions), "observations": list(observations), "orders": [order]}


CTS_OR_ROOT = [{"display": "Right thumb and index finger numbness at night, positive Phalen test, "
                           "right biceps reflex reduced", "date": "2026-11-15"}]
L5_WEAK = [{"display": "Left EHL 4/5, ankle dorsiflexion 4/5", "date": "2026-11-20"}]
LUMBAR = [{"code": "icd10:M54.16", "display": "Radiculopathy, lumbar region", "onset": "2026-08-01"}]


@pytest.mark.parametrize("order,observations,conditions,lacks", [
    (NCS_LEG, L5_WEAK, LUMBAR, "order-lacks-needle-emg"),   # a root question, nerve conduction only
    (NCS_ARM, CTS_OR_ROOT, (), "order-lacks-needle-emg"),   # carpal tunnel or C6: the root half is missing
    (NEEDLE_ARM, CTS_OR_ROOT, (), "order-lacks-nerve-conduction"),  # the carpal tunnel half is missing
    (FULL_ARM, CTS_OR_ROOT, (), None),                     # the whole study: nothing to add
])
def test_the_card_names_the_half_of_the_study_the_question_needs(engine, order, observations, conditions, lacks):
    reasons = _emg_reasons(engine, _patient(order, observations, conditions))
    assert reasons, "an EMG value card is expected"
    lacking = [r for r in reasons if r.startswith("order-lacks-")]
    assert lacking == ([lacks] if lacks else [])


def test_nerve_conduction_alone_for_a_polyneuropathy_question_is_enough(engine):
    # Stocking numbness in a diabetic, no root sign: nerve conduction is the test; nothing is missing, and
    # with no root problem to tell it from, there is nothing to separate: no EMG value card at all.
    obs = [{"display": "Numbness and burning of both feet in a stocking distribution for two years", "date": "2026-11-15"}]
    conds = [{"code": "icd10:E11.9", "display": "Type 2 diabetes mellitus", "onset": "2010-01-01"}]
    assert _emg_reasons(engine, _patient(NCS_LEG, obs, conds)) == []
    # The same feet with a left S1 root question (the order is for the left leg): the polyneuropathy is now a question to separate, and
    # nerve conduction alone lacks the needle EMG the root question needs.
    conds.append({"code": "icd10:M54.17", "display": "Radiculopathy, lumbosacral region", "onset": "2026-06-01"})
    obs.append({"display": "Left lateral foot numbness, left Achilles reflex absent", "date": "2026-11-15"})
    reasons = _emg_reasons(engine, _patient(NCS_LEG, obs, conds))
    assert "polyneuropathy-risk" in reasons and "order-lacks-needle-emg" in reasons
