"""Certainty is one enum from the text reader to the rules (a typo is an error, not a silent miss)."""

from cds_service.reading.certainty import Certainty
from cds_service.reading.text import CLINICAL, MRI


def test_the_text_readers_give_certainty_members():
    for lexicon, sentence, expected in [
        (CLINICAL, "No fever.", Certainty.NEGATED),
        (CLINICAL, "Possible cauda equina syndrome.", Certainty.HEDGED),
        (CLINICAL, "Family history of cancer.", Certainty.OTHER),
        (MRI, "L4-5 disc extrusion.", Certainty.AFFIRMED),
    ]:
        mention = lexicon.mentions(sentence)[0]
        assert type(mention.certainty) is Certainty and mention.certainty is expected, sentence


def test_members_still_read_and_compare_as_their_words():
    assert Certainty.HEDGED == "hedged" and f"{Certainty.AFFIRMED}" == "affirmed"
    assert {"negated": 1}[Certainty.NEGATED] == 1
