"""Phrase patterns of prompt injection and jailbreak attempts (English and German, the languages
of the dev data). Each names a reason. They are the first layer: cheap, explainable, and good at
the classic phrasings; the classifier catches paraphrases."""

from __future__ import annotations

import re

_PATTERNS: dict[str, str] = {
    "override_instructions": (
        r"\b(ignore|disregard|forget|skip|override|bypass|drop|abandon|neglect)\b[^.\n]{0,40}\b(previous|prior|above|earlier|"
        r"preceding|all|any|your|the|these|those|initial|original|system)\b[^.\n]{0,20}\b(instructions?|prompts?|rules?|"
        r"directions?|guidelines?|tasks?|assignments?|commands?|context|constraints?)\b"
    ),
    "forget_everything": r"\b(forget|ignore|disregard)\s+(about\s+)?(everything|all\s+(that|this|of\s+(it|that))|what\s+(i|you)\s+(said|told))\b",
    "new_instructions": r"\b(new|following|further|different)\s+(instructions?|tasks?|assignments?|rules?)\s+(follow|are|:)",
    "prompt_extraction": (
        r"\b(show|reveal|print|output|display|repeat|tell|give|leak|copy|write)\b[^.\n]{0,40}\b(your|the|full|entire|initial|"
        r"original|hidden|secret|system)\b[^.\n]{0,20}\b(prompt|instructions|system message|rules|configuration)\b"
    ),
    "prompt_reference": r"\b(system prompt|prompt text|developer message|beginning of this prompt|above prompt|initial prompt)\b",
    "role_override": (
        r"\b(you are now|from now on,? you (are|will)|pretend (you are|that you)|roleplay as|"
        r"you're now|now you are|imagine you are|stay in character|i want you to act as|act as if you)\b"
    ),
    "jailbreak_terms": r"\b(jailbreak|jailbroken|do anything now|DAN mode|you are DAN|god mode|unfiltered AI|uncensored AI|no (ethical|moral) (guidelines|restrictions))\b",
    "fake_system_turn": r"(^|\n)\s*(system|assistant|###\s*(instruction|system))\s*:|\[/?(system|inst)\]|<\|?(im_start|system)\|?>",
    "german_override": (
        r"\b(ignoriere|ignorieren|vergiss|vergessen|missachte)\b[^.\n]{0,40}\b(alle|vorherigen|obigen|bisherigen|"
        r"vorangehenden|anweisungen|aufgaben|befehle|angaben|alles)\b"
    ),
    "german_role": r"\b(du bist (jetzt|nun)|jetzt bist du|stell dir vor,? du bist|tu so als|agiere als|fungieren als)\b",
    "german_extraction": r"\b(zeige|gib|nenne)\b[^.\n]{0,30}\b(prompt|anweisungen|systemnachricht)\b",
}
_COMPILED = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _PATTERNS.items()}


def heuristic_reasons(text: str) -> list[str]:
    return [name for name, pattern in _COMPILED.items() if pattern.search(text)]
