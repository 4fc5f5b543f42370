"""Chat shorthand and the commonest misspellings of support words, spelled out before a message is
classified and searched for.

MiniLM's word pieces split "retrun" or "wen" into fragments that land far from "return" and
"when", so a typo can turn a question into "I don't know" or a policy question into a request.
A fixed list rather than a spelling corrector: a general corrector would "fix" product names,
order numbers and names, and this list is small enough to read. Written by hand from common chat
shorthand and keyboard slips on the words a shop's help center uses; the injection check still
reads the customer's own text.
"""

from __future__ import annotations

import re

_SPELLED_OUT = {
    # shorthand
    "u": "you",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thank you",
    "wen": "when",
    "whn": "when",
    "hw": "how",
    "wat": "what",
    "wht": "what",
    "whats": "what is",
    # slips on the question words, which the intent rules read ("wher do i find my tracking nubmer"
    # was a status request: the self-service rule waits for "where do I find")
    "wher": "where",
    "whre": "where",
    "hwo": "how",
    "waht": "what",
    "whta": "what",
    "cna": "can",
    "cant": "can't",
    "dont": "don't",
    "doesnt": "doesn't",
    "wont": "won't",
    # the other negations typed without their apostrophe ("my order still hasnt come" was searched
    # as "hasn come": the knowledge base's spelling corrector cut it to a word it holds)
    "hasnt": "hasn't",
    "havent": "haven't",
    "isnt": "isn't",
    "arent": "aren't",
    "didnt": "didn't",
    "wasnt": "wasn't",
    "werent": "weren't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "im": "I'm",
    "ive": "I've",
    "abt": "about",
    "b4": "before",
    "asap": "as soon as possible",
    "acct": "account",
    "addr": "address",
    "pw": "password",
    "pwd": "password",
    "info": "information",
    "intl": "international",
    # keyboard slips on support words
    "retrun": "return",
    "reutrn": "return",
    "retun": "return",
    "returm": "return",
    "retrn": "return",
    "refnd": "refund",
    "refudn": "refund",
    "rfund": "refund",
    "refun": "refund",
    "cancle": "cancel",
    "cancell": "cancel",
    "cancl": "cancel",
    "canel": "cancel",
    "cancelation": "cancellation",
    "shiping": "shipping",
    "shippng": "shipping",
    "shpping": "shipping",
    "shippin": "shipping",
    "delivry": "delivery",
    "delievery": "delivery",
    "deliverey": "delivery",
    "dilevery": "delivery",
    "adress": "address",
    "addres": "address",
    "adres": "address",
    "addresss": "address",
    "oder": "order",
    "ordr": "order",
    "odrer": "order",
    "pakage": "package",
    "packge": "package",
    "pacakge": "package",
    "parcle": "parcel",
    "trakcing": "tracking",
    "trackng": "tracking",
    "tracknig": "tracking",
    "warrenty": "warranty",
    "waranty": "warranty",
    "garantee": "guarantee",
    "guarentee": "guarantee",
    "exchnage": "exchange",
    "excange": "exchange",
    "paymnet": "payment",
    "payement": "payment",
    "pasword": "password",
    "passwrod": "password",
    "accout": "account",
    "acount": "account",
    "recieve": "receive",
    "recieved": "received",
    "arive": "arrive",
    "arived": "arrived",
    "polcy": "policy",
    "policey": "policy",
    "pollicy": "policy",
    "tkae": "take",
    "nubmer": "number",
    "numbr": "number",
    "teh": "the",
}
_WORD = re.compile(r"[A-Za-z0-9']+")


def spelled_out(text: str) -> str:
    """`text` with shorthand and known slips replaced (whole words, any case); unchanged otherwise."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        return _SPELLED_OUT.get(word.lower(), word)

    return _WORD.sub(replace, text)
