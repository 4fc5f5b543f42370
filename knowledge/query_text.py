"""The texts retrieval embeds for a question: the question as it reads it (misspellings corrected),
with its glossary synonyms after it, and its product reading (without the shop's product words).
A caller that embeds a question itself (the bot turn embeds every text of a message in one batch)
must embed exactly these, so they live apart from the search that uses them."""

from __future__ import annotations

from knowledge.glossary import Expansion, glossary_expand, search_text
from knowledge.kb_cache import glossary_entries, kb_vocabulary, product_terms
from knowledge.products import without_product_words
from knowledge.retrieval_options import DEFAULT_OPTIONS, RetrievalOptions
from knowledge.spelling import spelling_corrected


def product_reading_text(*, question: str, entries: list[list[str]], options: RetrievalOptions) -> str | None:
    """What the product reading embeds for `question` (spelling already corrected): the question
    without its product words, with its glossary synonyms; None when the lever is off or the
    question holds no product word (knowledge/products.py)."""
    if not options.product_reading:
        return None
    stripped = without_product_words(question, product_terms())
    if stripped is None:
        return None
    return embedded_text(question=stripped, entries=entries, options=options)


def knowledge_reading_text(*, question: str, glossary: list[list[str]] | None = None) -> str | None:
    """The text `knowledge_search` embeds for `question`'s product reading, or None when it embeds
    none: a caller that passes its own `reading_vector` must embed exactly this."""
    question = question_for_search(question=question, options=DEFAULT_OPTIONS)
    entries = glossary_entries() if glossary is None else glossary
    return product_reading_text(question=question, entries=entries, options=DEFAULT_OPTIONS)


def knowledge_query_text(*, question: str, glossary: list[list[str]] | None = None) -> str:
    """The text `knowledge_search` embeds for `question` (with its glossary synonyms): a caller
    that passes its own `query_vector` must embed exactly this, with the same `glossary`."""
    question = question_for_search(question=question, options=DEFAULT_OPTIONS)
    entries = glossary_entries() if glossary is None else glossary
    return embedded_text(question=question, entries=entries, options=DEFAULT_OPTIONS)


def embedded_text(
    *, question: str, entries: list[list[str]], options: RetrievalOptions, expansion: Expansion | None = None
) -> str:
    """What is embedded for `question` (spelling already corrected): with the glossary's synonyms
    after it, found on word forms only with `glossary_forms_embedded` (MiniLM already reads
    "delivered" close to "delivery"; the full text and the coverage do not). `expansion`, the
    search's own expansion of the question, is reused when it was read the same way."""
    if not options.glossary:
        return question
    word_forms = options.glossary_forms and options.glossary_forms_embedded
    if expansion is None or word_forms != options.glossary_forms:
        expansion = glossary_expand(question=question, entries=entries, word_forms=word_forms)
    return search_text(question, expansion.synonyms)


def question_for_search(*, question: str, options: RetrievalOptions) -> str:
    """The question as retrieval reads it: misspellings corrected when that lever is on."""
    return spelling_corrected(text=question, vocabulary=kb_vocabulary()) if options.spelling else question
