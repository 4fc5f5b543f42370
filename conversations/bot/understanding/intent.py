"""What the customer wants: a question for the knowledge base, small talk, or a request to act
on their own orders (and which action).

A multinomial logistic regression over the local MiniLM sentence embedding the turn already
computed for the injection check and retrieval, so understanding costs one small matrix product,
not another model call. Trained by `manage.py intent_train` on template phrasings
(phrasings.py); the weights are a small committed artifact with its provenance, like the
injection classifier's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ARTIFACT = Path(__file__).with_name("intent_classifier.json")
EVAL_SET = Path(__file__).with_name("intent_eval.json")


@dataclass(frozen=True)
class IntentGuess:
    label: str
    probability: float

    @property
    def is_action(self) -> bool:
        return self.label not in ("question", "smalltalk")


class IntentClassifier:
    def __init__(self, *, artifact: dict[str, Any]) -> None:
        self.labels: list[str] = artifact["labels"]
        self.coef = np.array(artifact["coef"], dtype=np.float32)
        self.intercept = np.array(artifact["intercept"], dtype=np.float32)
        self.embedding_model: str = artifact["embedding_model"]

    def classify(self, vector: list[float]) -> IntentGuess:
        logits = self.coef @ np.asarray(vector, dtype=np.float32) + self.intercept
        logits -= logits.max()
        probabilities = np.exp(logits) / np.exp(logits).sum()
        best = int(probabilities.argmax())
        return IntentGuess(label=self.labels[best], probability=float(probabilities[best]))


@lru_cache(maxsize=1)
def get_intent_classifier() -> IntentClassifier:
    return IntentClassifier(artifact=json.loads(ARTIFACT.read_text()))
