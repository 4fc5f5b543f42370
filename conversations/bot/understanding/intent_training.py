"""Training the intent classifier (`manage.py intent_train`) and scoring it on the hand-written
eval set, label and decision. Apart from intent.py because the decision it scores
(requests.requested_action) itself reads the classifier's guesses: the turn's path imports
intent.py alone, and this module imports both.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import numpy as np

from conversations.bot.understanding.intent import EVAL_SET, IntentClassifier
from conversations.bot.understanding.phrasings import LABELS, intent_phrasings
from conversations.bot.understanding.requests import requested_action, without_names
from conversations.bot.understanding.spelling import spelled_out
from knowledge.selectors import Retrieval


def intent_train(*, regularization: float = 2.0) -> dict[str, Any]:
    """Fit on the template phrasings and report accuracy on the hand-written eval set's splits."""
    from sklearn.linear_model import LogisticRegression

    from supportbot.llm.embeddings import local_minilm

    rows = intent_phrasings()
    model = local_minilm()
    vectors = np.array(model.embed([text for text, _ in rows]))
    labels = np.array([label for _, label in rows])
    classifier = LogisticRegression(C=regularization, class_weight="balanced", max_iter=3000)
    classifier.fit(vectors, labels)
    ordered = [str(label) for label in classifier.classes_]
    artifact: dict[str, Any] = {
        "embedding_model": model.model_name,
        "labels": ordered,
        "coef": [[round(float(x), 6) for x in row] for row in classifier.coef_],
        "intercept": [round(float(x), 6) for x in classifier.intercept_],
    }
    trained = IntentClassifier(artifact=artifact)
    artifact["provenance"] = {
        "trained_on": str(date.today()),
        "phrasings": {
            "source": "conversations/bot/understanding/phrasings.py",
            "rows": len(rows),
            "sha256_16": hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16],
        },
        "model": f"sklearn LogisticRegression(C={regularization}, class_weight=balanced) on MiniLM embeddings",
        "eval": intent_eval(classifier=trained, embed=model.embed),
    }
    assert set(ordered) == set(LABELS), f"labels missing from the phrasings: {set(LABELS) - set(ordered)}"
    return artifact


def intent_eval(*, classifier: IntentClassifier, embed) -> dict[str, Any]:  # noqa: ANN001 (embed: texts -> vectors)
    """Accuracy per split (dev, test, and later held-out batches such as test2), and the two
    mistakes that matter most: a policy question taken for an action (the customer is asked to
    verify instead of answered) and an action taken for a question.

    Besides the classifier's label, the decision the bot acts on (requests.requested_action: the
    label, the rules and retrieval confidence) is scored twice, once as if an article answered the
    message confidently and once as if none did; a row counts as decided right only when both
    agree with its label (no action for a question or small talk, that action for a request).
    Like the turn (turn.turn_texts), both read the message without names and with its shorthand
    spelled out."""
    rows = [
        {**row, "text": spelled_out(without_names(row["text"]))} for row in json.loads(EVAL_SET.read_text())["rows"]
    ]
    vectors = embed([row["text"] for row in rows])
    report: dict[str, Any] = {}
    for split in dict.fromkeys(row["split"] for row in rows):
        picked = [(row, vector) for row, vector in zip(rows, vectors) if row["split"] == split]
        guesses = [(row, classifier.classify(vector)) for row, vector in picked]
        questions = [g for row, g in guesses if row["label"] == "question"]
        actions = [(row, g) for row, g in guesses if row["label"] not in ("question", "smalltalk")]
        decided: list[tuple[dict[str, Any], list[str | None]]] = [
            (
                row,
                [
                    requested_action(text=row["text"], guess=g, retrieval=Retrieval(chunks=[], confident=confident))
                    for confident in (True, False)
                ],
            )
            for row, g in guesses
        ]

        def wanted(row: dict[str, Any]) -> str | None:
            return None if row["label"] in ("question", "smalltalk") else row["label"]

        n = max(1, len(guesses))
        report[split] = {
            "rows": len(guesses),
            "accuracy": round(sum(g.label == row["label"] for row, g in guesses) / n, 4),
            "questions_taken_for_actions": round(sum(g.is_action for g in questions) / max(1, len(questions)), 4),
            "actions_taken_for_questions": round(sum(not g.is_action for _, g in actions) / max(1, len(actions)), 4),
            "decision_accuracy": round(sum(all(a == wanted(row) for a in both) for row, both in decided) / n, 4),
            "errors": [
                {"text": row["text"], "label": row["label"], "guess": g.label}
                for row, g in guesses
                if g.label != row["label"]
            ][:20],
            "decision_errors": [
                {"text": row["text"], "label": row["label"], "if_answered": both[0], "if_not_answered": both[1]}
                for row, both in decided
                if not all(a == wanted(row) for a in both)
            ][:20],
        }
    return report
