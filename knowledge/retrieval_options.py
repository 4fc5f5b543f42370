"""The retrieval levers (`RetrievalOptions`) and the named sets `kb_eval` compares: what retrieval did
before the levers (`BASELINE`) and what it does now (`DEFAULT_OPTIONS`). Each lever's figures are in
docs/performance.md; `kb_eval --levers` measures them against each other in one run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Fusion = Literal["weighted", "rrf"]
# A soft match counts as a whole covered word ("full") or as its cosine (0.61 for dented~damaged)
SoftCredit = Literal["full", "cosine"]


@dataclass(frozen=True)
class RetrievalOptions:
    """The retrieval levers; the defaults are what won on the demo dev set (`kb_eval`)."""

    questions: bool = True  # alternative questions rank their article
    glossary: bool = True  # synonyms from the glossary are added to the question
    # In the full-text query and the coverage, a glossary term is found on its word forms
    # ("delivered" uses "delivery", knowledge/glossary.py), else only as written. Off: it changed
    # no dev question of any set and answered one more unanswerable demo test question
    # (docs/performance.md, "the glossary on word forms") ...
    glossary_forms: bool = False
    # ... and in the embedded text too: lost one demo dev question ("Do you ship to Mexico?" gets
    # "(delivery, shipment)" appended and drops below the threshold; docs/performance.md)
    glossary_forms_embedded: bool = False
    any_words: bool = False  # full text matches any word (else: every word); lost on the dev split
    fusion: Fusion = "weighted"  # dense + KB_TEXT_WEIGHT * text rank, or reciprocal rank fusion
    rerank: bool = True  # favour articles whose title/headings hold the question's words
    spelling: bool = True  # misspelled words corrected to the knowledge base's own (knowledge/spelling.py)
    rrf_k: int = 20
    rerank_weight: float = 0.01
    question_weight: float = 1.0  # an alternative question's score counts this much against a section's
    # the share of the question's words the article holds, added to its ranking score times this;
    # the smallest weight of the topic set's dev plateau: more cost stackfaq (docs/performance.md)
    coverage_rank: float = 0.05
    # In the confidence, a question word the best article lacks but another candidate article holds
    # counts this much against its coverage (1.0: as much as a word no candidate holds). "return
    # policy for a tent?": the warranty article holds "tent", so the returns article's missing
    # "tent" is a thing the shop talks about, not a sign the question is off-topic; "is the tent
    # waterproof?": no article holds "waterproof". Chosen with `coverage_weight` on the dev splits
    # of the demo and topic sets (docs/performance.md, "Abstaining on <topic> for <product>").
    explained_word_weight: float = 0.3
    coverage_weight: float = 0.4  # word coverage's weight against similarity in the confidence
    # Below the threshold, also score the question without the words the best article lacks
    # ("return policy for a tent?" -> "return policy for a ?") against that article's vectors, and
    # let the confidence take the better reading less this margin (`topic_confidence`). Chosen on
    # the dev splits of the demo and topic sets (docs/performance.md, "the topic reading"). Off by
    # default: it answered 2 more of the demo test split's unanswerable questions and no more
    # answerable ones, and its embedding runs in the calling process, which in a turn is the web
    # process (the turn's own embeddings go to the model workers). A kb_eval lever to re-measure.
    topic_reading: bool = False
    topic_margin: float = 0.035
    # ... and only from this confidence up: it costs an embedding, and no dev question it lifted
    # over the threshold started below 0.497
    topic_floor: float = 0.47
    # The article's title embedded alone (a TITLE row) ranks it like an alternative question, its
    # similarity counted this much (docs/performance.md, "Real customer wording").
    titles: bool = False
    title_weight: float = 0.95
    # A multi-sentence question is also searched sentence by sentence (knowledge/question_pieces.py);
    # a chunk keeps its best similarity over the whole question and its pieces.
    pieces: bool = False
    # The confidence's word coverage counts at most this many of the question's words (0: all of
    # them): a long message ("we're moving house next month and ... how do I check the signal
    # there?") carries backstory no article holds, and every such word lowered the confidence of
    # the right article. Ranking still uses the plain share. Chosen on faqproxy dev.
    coverage_words: int = 7
    # The ranking's coverage counts at most `coverage_words` words too, as the confidence does: a
    # long message's right article often holds most of its question words but fewer of its
    # backstory's. Off: one faqproxy dev question better, within noise (docs/performance.md).
    capped_rank: bool = False
    # Query-side levers for real customer wording (knowledge/query_vectors.py; docs/performance.md,
    # "query-side levers for real wording"), off: neither won on a domain it was not tuned or
    # trained on. The question's vector through the linear adapter trained on the repo's own sets ...
    query_adapter: bool = False
    # ... and pseudo-relevance feedback: moved toward the mean of its first search's `feedback` best
    # chunks by `feedback_weight`, then searched again (one more search).
    feedback: int = 0
    feedback_weight: float = 0.1
    # In the confidence, a product word of the question (knowledge.models.ProductWord: "sleeping
    # bag") that the best article lacks does not count against its coverage, unless the article's
    # title or a heading names a product (knowledge/products.py; docs/performance.md, "the shop's
    # product words").
    product_words: bool = True
    # The question without its product words is searched too (one more embedding and a second
    # HNSW scan in the same statement, only for a question that holds one), and each chunk keeps
    # the better similarity of the two readings: "how long would a sleeping bag take to get to
    # dublin" was closest to the size guide (knowledge/products.py; docs/performance.md, "the
    # product reading"). Won on the dev splits: topic set R@1 0.814 -> 0.977, demo 0.930 ->
    # 0.937, at the same answer and false-answer rates.
    product_reading: bool = True
    # In the confidence's word coverage, a question word no article uses (`soft_unknown_only`;
    # off: any word the best article lacks) counts as covered when the best article's retrieved
    # text holds a word whose single-word embedding is at least `soft_threshold` close to it
    # ("bigger" ~ "larger" 0.93; "dented" ~ "damaged" is only 0.61): fully, or by the cosine
    # (`soft_credit`); with it, `soft_coverage_rank` lets the ranking's share count it too
    # (knowledge/soft_coverage.py). Off: at the dev-chosen setting it answered 1 more demo and 3
    # more faqproxy dev questions, 3 of the 4 from the wrong article, and below 0.66 it lifted
    # near-misses ("do you ship to Japan?": japan ~ countries 0.66) as much as answers
    # (docs/performance.md, "soft word coverage"). A kb_eval lever.
    soft_coverage: bool = False
    soft_threshold: float = 0.7
    soft_credit: SoftCredit = "full"
    soft_unknown_only: bool = True
    soft_coverage_rank: bool = False


# What retrieval did before these levers (all-words full text, weighted fusion, sections only).
BASELINE = RetrievalOptions(
    questions=False,
    glossary=False,
    glossary_forms=False,
    any_words=False,
    fusion="weighted",
    rerank=False,
    spelling=False,
    coverage_rank=0.0,
    explained_word_weight=1.0,
    coverage_weight=0.3,
    topic_reading=False,
    coverage_words=0,
    product_words=False,
    product_reading=False,
)
# The confidence before the neighbourhood lever: every missing word counts fully.
PLAIN_COVERAGE = {"explained_word_weight": 1.0, "coverage_weight": 0.3}
DEFAULT_OPTIONS = RetrievalOptions()
