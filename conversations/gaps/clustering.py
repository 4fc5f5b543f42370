"""Grouping gap questions by meaning: MiniLM sentence vectors (the local model the bot already
loads), greedy single-pass clustering by cosine to each group's running centroid.

Hand-written rather than scikit-learn's agglomerative clustering: a few hundred questions, one
pass, and a threshold that means "asks for the same thing" is all the report needs, and it keeps
the newest question of each group first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.core.cache import cache

from conversations.gaps.selectors import GapQuestion
from supportbot.llm.embeddings import local_minilm

# Cosine to a group's centroid at which a question joins it. Chosen on the stackfaq dev half by
# B-cubed F1 (benchmarks/gap_clustering.py): at 0.60, F1 0.922 on the stackfaq test half and 0.843
# on demo-shop paraphrases, with precision 0.965 / 1.000; 0.75 split paraphrases apart (F1 0.725
# / 0.657, recall about half).
SAME_QUESTION_COSINE = 0.60
EXAMPLES_PER_GAP = 5
# Vectors of question texts (redacted) are kept so that reloading the report embeds only new ones.
VECTOR_CACHE_SECONDS = 60 * 60 * 24 * 30


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
    def reply_ids(self) -> list[int]:
        return [q.reply_id for q in self.questions]

    @property
    def comments(self) -> list[str]:
        return list(dict.fromkeys(q.comment for q in self.questions if q.comment))


def question_vectors(texts: Sequence[str]) -> np.ndarray:
    """Unit MiniLM vectors of `texts`, from the cache where possible (embedding is the slow part:
    tens of ms per question on a busy CPU)."""
    keys = {text: f"gaps:minilm:{hashlib.sha256(text.encode()).hexdigest()}" for text in texts}
    found = cache.get_many(list(set(keys.values())))
    missing = list(dict.fromkeys(text for text, key in keys.items() if key not in found))
    if missing:
        fresh = {
            keys[text]: np.asarray(vector, dtype=np.float32).tobytes()
            for text, vector in zip(missing, local_minilm().embed(missing))
        }
        cache.set_many(fresh, timeout=VECTOR_CACHE_SECONDS)
        found.update(fresh)
    return np.stack([np.frombuffer(found[keys[text]], dtype=np.float32) for text in texts])


def greedy_labels(vectors: np.ndarray, *, threshold: float) -> list[int]:
    """One pass over unit vectors in order: each joins the group whose centroid is nearest by
    cosine if that is at least `threshold`, else starts a new group. Returns a group per vector."""
    sums = np.zeros_like(vectors)  # per group: the sum of its vectors (its direction is the centroid)
    groups = 0
    labels = []
    for vector in vectors:
        best = -1
        if groups:
            active = sums[:groups]
            cosines = (active @ vector) / np.maximum(np.linalg.norm(active, axis=1), 1e-12)
            best = int(np.argmax(cosines))
            if cosines[best] < threshold:
                best = -1
        if best < 0:
            best, groups = groups, groups + 1
        sums[best] += vector
        labels.append(best)
    return labels


def gaps_group(*, questions: Sequence[GapQuestion], threshold: float = SAME_QUESTION_COSINE) -> list[Gap]:
    """Groups, the most frequent first (ties: the most recent first). `questions` newest first."""
    if not questions:
        return []
    vectors = question_vectors([q.text for q in questions])
    gaps: dict[int, Gap] = {}
    for question, label in zip(questions, greedy_labels(vectors, threshold=threshold)):
        gaps.setdefault(label, Gap()).questions.append(question)
    return sorted(gaps.values(), key=lambda gap: (-gap.count, -gap.last_seen.timestamp()))
