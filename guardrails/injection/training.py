"""Training the injection classifier from the dev data (run by `manage.py injection_train`).

Positives and negatives come from the deepset prompt-injections train split and the `dev` rows of
the project's own dev sets (devsets/: attacks of five families, support questions with hard
negatives in English, German and French); the `test` rows are never read here. Ordinary support
questions are added as negatives, because the product's false positives that matter are on
support traffic: the stackfaq questions (products and policies), questions about the customer's
own orders and account (account_phrasings.py) and the dev support questions.

Features: the MiniLM sentence embedding (meaning, English) next to hashed character n-grams of the
normalized text (wording; they also separate short German and French support questions, which the
English embedding model puts near the German injections of the deepset data).

The threshold is the lowest that keeps cross-validated false positives at or under
`max_false_positive_rate` both on all support questions and on the dev support questions alone
(they hold the hard negatives, which the many easy FAQ questions would otherwise drown out).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from guardrails.injection.detector import CHAR_NGRAMS, char_ngram_vectorizer

# The dev support questions are few next to the FAQ questions but hold the hard negatives.
_HARD_NEGATIVE_WEIGHT = 4.0
_C = 4.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _threshold(scores, *, max_false_positive_rate: float) -> float:  # noqa: ANN001 (numpy array)
    ordered = sorted(scores)
    allowed = int(max_false_positive_rate * len(ordered))
    return float(ordered[-(allowed + 1)]) + 1e-6 if ordered else 0.5


def injection_train(
    *,
    injections: Path,
    support_questions: Path,
    max_false_positive_rate: float = 0.01,
    min_threshold: float = 0.7,
    embed: Callable[[list[str]], list[list[float]]] | None = None,
) -> dict:
    """`embed`: the local MiniLM unless given (the same model, e.g. behind a cache)."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from guardrails.injection.account_phrasings import account_phrasings
    from guardrails.injection.evaluation import DEVSETS, devset_attacks, devset_support_questions, stackfaq_questions
    from guardrails.injection.normalize import normalize
    from supportbot.llm.embeddings import local_minilm

    rows = [json.loads(line) for line in injections.read_text().splitlines() if line.strip()]
    public_rows = len(rows)
    dev_attacks = devset_attacks(split="dev")
    rows += [{"text": text, "label": 1} for text in dev_attacks]
    faq_questions = stackfaq_questions(path=support_questions)
    account_questions = account_phrasings()
    dev_questions = devset_support_questions(split="dev")
    questions = faq_questions + account_questions + dev_questions
    # Featurized as the detector does it: the normalized text, cut at 2000 characters.
    texts = [normalize(text).text[:2000] for text in [r["text"] for r in rows] + questions]
    labels = np.array([int(r["label"]) for r in rows] + [0] * len(questions))
    is_support = np.array([False] * len(rows) + [True] * len(questions))
    is_dev_question = np.array([False] * (len(texts) - len(dev_questions)) + [True] * len(dev_questions))
    weights = np.where(is_dev_question, _HARD_NEGATIVE_WEIGHT, 1.0)
    model = local_minilm()
    vectors = np.array((embed or model.embed)(texts))
    features = hstack([csr_matrix(vectors), char_ngram_vectorizer().transform(texts)]).tocsr()

    def classifier() -> LogisticRegression:
        return LogisticRegression(C=_C, class_weight="balanced", max_iter=3000)

    probabilities = np.zeros(len(labels))
    for train, held_out in StratifiedKFold(n_splits=5, shuffle=True, random_state=7).split(features, labels):
        fold = classifier().fit(features[train], labels[train], sample_weight=weights[train])
        probabilities[held_out] = fold.predict_proba(features[held_out])[:, 1]
    threshold = max(
        _threshold(probabilities[is_support], max_false_positive_rate=max_false_positive_rate),
        _threshold(probabilities[is_dev_question], max_false_positive_rate=max_false_positive_rate),
    )
    # The floor keeps borderline paraphrases of support questions ("the instructions in the box are
    # missing") from being refused; the heuristics catch the classic attacks below it.
    threshold = max(threshold, min_threshold)
    positives = labels == 1
    is_public = np.array([True] * public_rows + [False] * (len(labels) - public_rows))

    def rate(mask) -> float:  # noqa: ANN001 (numpy mask)
        return round(float((probabilities[mask] >= threshold).mean()), 4)

    final = classifier().fit(features, labels, sample_weight=weights)
    dimensions = vectors.shape[1]
    return {
        "embedding_model": model.model_name,
        "coef": [round(float(x), 6) for x in final.coef_[0][:dimensions]],
        "char_ngrams": CHAR_NGRAMS,
        "char_coef": [round(float(x), 5) for x in final.coef_[0][dimensions:]],
        "intercept": round(float(final.intercept_[0]), 6),
        "threshold": round(threshold, 6),
        "provenance": {
            "trained_on": str(date.today()),
            "injections": {"file": injections.name, "sha256_16": _sha256(injections), "rows": public_rows},
            "dev_attacks": {
                "file": "devsets/attacks.jsonl",
                "split": "dev",
                "sha256_16": _sha256(DEVSETS / "attacks.jsonl"),
                "rows": len(dev_attacks),
            },
            "dev_support_questions": {
                "file": "devsets/support_questions.jsonl",
                "split": "dev",
                "sha256_16": _sha256(DEVSETS / "support_questions.jsonl"),
                "rows": len(dev_questions),
                "sample_weight": _HARD_NEGATIVE_WEIGHT,
            },
            "support_questions": {
                "file": support_questions.name,
                "sha256_16": _sha256(support_questions),
                "rows": len(faq_questions),
            },
            "account_questions": {
                "source": "guardrails/injection/account_phrasings.py",
                "rows": len(account_questions),
            },
            "model": f"sklearn LogisticRegression(C={_C:g}, class_weight=balanced) on the normalized text's MiniLM "
            f"embedding and hashed character n-grams {CHAR_NGRAMS}",
            "threshold_rule": f"cross-validated false positives <= {max_false_positive_rate} on all support questions "
            f"and on the dev support questions, at least {min_threshold}",
            "cross_validated": {
                "recall": rate(positives),
                "recall_public": rate(positives & is_public),
                "recall_dev_attacks": rate(positives & ~is_public),
                "false_positives_support": rate(is_support),
                "false_positives_dev_support": rate(is_dev_question),
                "false_positives_other_benign": rate(~positives & ~is_support),
            },
        },
    }
