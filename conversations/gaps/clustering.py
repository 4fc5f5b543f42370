"""Grouping gap questions by meaning: MiniLM sentence vectors (the local model the bot already
loads), greedy single-pass clustering by cosine to each group's running centroid.

Hand-written rather than scikit-learn's agglomerative clustering: a few hundred questions, one
pass, and a threshold that means "asks for the same thing" is all the report needs, and it keeps
the newest question of each group first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from conversations.gaps.selectors import GapQuestion
from knowledge.embeddings import local_minilm

# Paraphrases of one question score about 0.75-0.95 with all-MiniLM-L6-v2; different questions
# on the same topic ("return policy" vs "return shipping cost") mostly stay below.
SAME_QUESTION_COSINE = 0.75
EXAMPLES_PER_GAP = 5


@dataclass
class Gap:
    questions: list[GapQuestion] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The group's label: its most recent wording."""
        return self.questions[0].text

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def last_seen(self) -> datetime:
        return max(q.at for q in self.questions)

    @property
    def unanswered(self) -> int:
        return sum(q.unanswered for q in self.questions)

    @property
    def thumbs_down(self) -> int:
        return sum(q.thumbs_down for q in self.questions)

    @property
    def wordings(self) -> list[str]:
        return list(dict.fromkeys(q.text for q in self.questions))

    @property
    def examples(self) -> list[GapQuestion]:
        """At most a few, one per conversation."""
        seen: dict[int, GapQuestion] = {}
        for question in self.questions:
            seen.setdefault(question.conversation_id, question)
        return list(seen.values())[:EXAMPLES_PER_GAP]

    @property
    def comments(self) -> list[str]:
        return list(dict.fromkeys(q.comment for q in self.questions if q.comment))


def gaps_group(*, questions: Sequence[GapQuestion], threshold: float = SAME_QUESTION_COSINE) -> list[Gap]:
    """Groups, the most frequent first (ties: the most recent first). `questions` newest first."""
    if not questions:
        return []
    vectors = np.asarray(local_minilm().embed([q.text for q in questions]), dtype=np.float32)
    gaps: list[Gap] = []
    sums: list[np.ndarray] = []  # per group: the sum of its unit vectors (direction = centroid)
    for question, vector in zip(questions, vectors):
        best, best_cosine = -1, threshold
        for index, total in enumerate(sums):
            cosine = float(total @ vector) / (float(np.linalg.norm(total)) or 1.0)
            if cosine >= best_cosine:
                best, best_cosine = index, cosine
        if best < 0:
            gaps.append(Gap())
            sums.append(np.zeros_like(vector))
            best = len(gaps) - 1
        gaps[best].questions.append(question)
        sums[best] += vector
    return sorted(gaps, key=lambda gap: (-gap.count, -gap.last_seen.timestamp()))
