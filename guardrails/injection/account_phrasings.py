"""Everyday questions about a customer's own orders and account, as training negatives for the
injection classifier.

The public FAQ questions it was first trained on are about products and policies; the account
questions a signed-in customer asks all day ("what are my orders?", "show me my orders") sat close
enough to "what are your instructions?" in embedding space to be refused. These are written from
templates here (nothing copied from an evaluation set); the held-out questions the detector is
tested on are phrased differently (tests/guardrails/test_injection.py).
"""

from __future__ import annotations

from itertools import product

_ASKS = [
    "what are {x}",
    "show me {x}",
    "can you show {x}",
    "list {x}",
    "tell me about {x}",
    "I'd like to see {x}",
    "could you check {x}",
    "please pull up {x}",
    "give me {x}",
    "what's the status of {x}",
    "look up {x}",
    "can I see {x}",
    "display {x}",
    "check {x} for me",
    "what is {x}",
    "where can I find {x}",
]
_THINGS = [
    "my orders",
    "my order",
    "my recent orders",
    "my past orders",
    "my open orders",
    "my last order",
    "my order history",
    "my purchases",
    "my account",
    "my account details",
    "my shipping address",
    "my billing address",
    "my refund",
    "my returns",
    "my deliveries",
    "my tracking number",
    "my invoices",
    "my subscription",
    "the orders on my account",
    "everything I ordered this year",
]
_STATEMENTS = [
    "I need to change the address on my order",
    "I want to cancel my order",
    "I'd like to return the boots I ordered",
    "my package never arrived",
    "the order shows delivered but I don't have it",
    "I was charged twice for my order",
    "please update my phone number",
    "I moved, update my address please",
    "cancel the order I placed yesterday",
    "return everything from my last order",
    "where's my stuff",
    "did my refund go through",
    "has my order shipped yet",
    "how do I change my account email",
    "I want to reorder the same tent",
    "what did I buy last time",
    "my order is late",
    "is my return processed",
    "I ordered the wrong size, can I swap it",
    "I never got a confirmation email for my order",
]


def account_phrasings() -> list[str]:
    asks = [ask.format(x=thing) for ask, thing in product(_ASKS, _THINGS)]
    questions = [f"{text[0].upper()}{text[1:]}?" for text in asks]
    return questions + [f"{text[0].upper()}{text[1:]}." for text in _STATEMENTS]
