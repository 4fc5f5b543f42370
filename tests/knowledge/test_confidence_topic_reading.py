"""The topic reading of the confidence: a question scored without the words the best article
lacks ("return policy for a jacket?" -> "return policy for a ?"), so that a product no article
names does not make the bot say "I don't know" to a policy question, while a question about
something no article covers ("is the tent waterproof?") is still refused (docs/performance.md,
"the topic reading")."""

from __future__ import annotations

from functools import partial

import pytest

from knowledge.selectors import RetrievedChunk, topic_question
from tests.knowledge.searching import demo_retrieval

# KB_ANSWER_THRESHOLD's default, which the demo dev split's calibration picks with this lever
THRESHOLD = 0.59


def _best(missing: tuple[str, ...]) -> RetrievedChunk:
    return RetrievedChunk(1, 1, "Return policy", "return-policy", "", "", "", 0.0, 0.5, 0.0, missing_words=missing)


def test_the_topic_question_drops_the_words_the_best_article_lacks():
    assert topic_question(question="return policy for a jacket?", best=_best(("jacket",))) == "return policy for a"
    # stems, as the full-text index holds them: "sleeping bags" lacks "sleep" and "bag"
    stripped = topic_question(question="Can I return sleeping bags?", best=_best(("bag", "sleep")))
    assert stripped == "Can I return"
    assert topic_question(question="return policy?", best=_best(())) is None  # nothing missing
    # nothing of substance left: no reading to score
    assert topic_question(question="is the tent waterproof?", best=_best(("tent", "waterproof"))) is None


_retrieval = partial(demo_retrieval, threshold=THRESHOLD)


@pytest.mark.django_db
def test_a_policy_question_about_a_product_no_article_names_is_answered_an_off_topic_one_is_not(outdoor_shop):
    # one test, one fixture: indexing the three articles is most of its time
    found = _retrieval("return policy for a jacket?", topic_reading=True)
    assert found.article_slugs[0] == "return-policy" and found.confident
    assert "jacket" in found.chunks[0].missing_words  # no article holds it: the explained-words lever cannot help
    assert not _retrieval("return policy for a jacket?", topic_reading=False).confident

    refused = _retrieval("is the tent waterproof?", topic_reading=True)
    assert not refused.confident
