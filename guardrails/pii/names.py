"""Names spaCy's small model misses in chat: typed in lower case ("hi, this is gillian mccabe"),
alone on a sign-off line ("Best,\\nrhonda"), after "X here" or "sorry, X again", after a relation
("my son durante will pick it up") or a preposition ("send the invoice to Hamza Takkelenburg").

Each pattern's `value` group is one to three name words; the words are then cut at the first
word that is plainly not a name (a verb, an adverb, a function word: "this is ridiculous" names
nobody), so a cue followed by a sentence yields no name rather than a wrong one.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult

_NW = r"(?:[^\W\d_]\.[ \t]*)?[^\W\d_][\w'’-]*"  # a name word, any script, any case, maybe after an initial ("M. Rust")
_PARTICLE = r"(?:da|de|del|della|der|den|di|do|dos|das|du|van|von|ter|ten|la|le|bin|al|el|y|mc|mac|st\.?)"
_NAME = _NW + r"(?:[ \t]+(?:" + _PARTICLE + r"[ \t]+)?" + _NW + r"){0,2}"
_CAP = r"[A-Z][a-zà-ÿ'’-]+"
_CAP_NAME = _CAP + r"(?:[ \t]+(?:" + _PARTICLE + r"[ \t]+)?" + _CAP + r"){1,2}"
_SIGN_OFF = (
    r"(?:thanks|thank you|thx|ty|cheers|regards|best|best regards|kind regards|warm regards|many thanks|"
    r"sincerely|yours|yours truly|all the best|br|take care|cordially|respectfully|love|ta|best wishes|"
    r"warm wishes|kind wishes|many thanks|with thanks|greetings|ciao|mfg|gruß|grüße)"
)
_RELATION = (
    r"(?:son|daughter|wife|husband|partner|mom|mum|mother|dad|father|brother|sister|friend|neighbou?r|"
    r"colleague|boss|assistant|accountant|boyfriend|girlfriend|fianc[ée]e?|grandma|grandpa|grandmother|"
    r"grandfather|aunt|uncle|cousin|roommate|flatmate|kid|child|nephew|niece|landlord|tenant|manager)"
)

PATTERNS = [
    # Introductions and labels, in any case.
    re.compile(
        r"\b(?:this is|my name is|my name's|name is|name\s*:|account holder\s*:?|card ?holder\s*:?|full name\s*:?|"
        r"signed(?: for)? by|signed\s*:|attn\s*:?|attention\s*:|c/o|in the name of|under the name(?: of)?|"
        r"(?:it'?s|it is|sorry,?)(?=[ \t]+" + _NAME + r"[ \t]+again\b))[ \t]+(?P<value>" + _NAME + r")",
        re.IGNORECASE,
    ),
    # "I'm Ann Lee", "I am Priya": only capitalized, since "i'm having trouble" is no name.
    re.compile(r"\b(?i:i'?m|i am|it'?s)[ \t]+(?P<value>" + _CAP + r"(?:[ \t]+" + _CAP + r"){0,2})\b"),
    # "Pietro da Mata here", "hi, tom here": at the start of the message or after a greeting.
    re.compile(
        r"(?:^|(?<=[.!?\n])|\b(?:hi|hello|hey|dear|morning|evening)[,!]?)[ \t]*(?P<value>" + _NAME + r")[ \t]+here\b",
        re.IGNORECASE,
    ),
    # Sign-offs: the name ends its line, after a thanks/regards word on the same or previous line.
    re.compile(
        r"(?:^|(?<=[\n.!?])|(?<=[.!?][ \t]))[ \t]*" + _SIGN_OFF + r"\b[^\n]{0,40}\n(?:[ \t]*\n)?[ \t]*"
        r"(?P<value>" + _NAME + r")[ \t]*[.!]?[ \t]*(?=\n|$)",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:^|(?<=[\n.!?])|(?<=[.!?][ \t]))[ \t]*" + _SIGN_OFF + r"[ \t]*[,.!-]+[ \t]*"
        r"(?P<value>" + _NAME + r")[ \t]*[.!]?[ \t]*(?=\n|$)",
        re.IGNORECASE,
    ),
    # A dashed signature at the end: "... thanks - Tom", "\n— maria".
    re.compile(r"(?:\n|[ \t])[-–—~][ \t]*(?P<value>" + _NAME + r")[ \t]*$", re.IGNORECASE),
    # An e-mail signature block: the name on the line after the "--" delimiter.
    re.compile(r"(?:^|\n)[ \t]*--[ \t]*\n[ \t]*(?P<value>" + _NAME + r")[ \t]*(?=\n|$)", re.IGNORECASE),
    # Whose the account or order is: "name on the account is sharon aguilar", "order is under
    # Tiffany Bowman", "Pauric Morrin (account owner)".
    re.compile(
        r"\b(?:name on (?:the|my|this|our) (?:account|order|card|booking|parcel|package) is|(?:order|account|"
        r"booking|it|everything|reservation)(?:'s| is| was) (?:under|in the name of)|under the name)[ \t]*:?[ \t]+"
        r"(?P<value>" + _NAME + r")",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:^|(?<=[\n.!?,;:])|(?<=[.!?][ \t]))[ \t]*(?P<value>" + _NAME + r")[ \t]+\((?:the[ \t]+)?(?:account|card|"
        r"order)?[ \t]*(?:owner|holder|holder's|recipient|buyer|customer|my \w+)\)",
        re.IGNORECASE,
    ),
    # Someone on the company's side, by first name: "spoke with your colleague Victoria".
    re.compile(
        r"\b(?i:your|the)[ \t]+(?i:colleague|co-?worker|agent|rep|representative|associate|advisor|adviser|"
        r"driver|courier|manager|supervisor|team member|person)[ \t]+(?P<value>" + _CAP + r"(?:[ \t]+" + _CAP + r")?)\b"
    ),
    # Relations: "my son durante", "my wife's name, Anna Schmidt".
    re.compile(
        r"\bmy " + _RELATION + r"(?:'s name(?: is)?,?|,| is called| named)?[ \t]+(?P<value>" + _NAME + r")",
        re.IGNORECASE,
    ),
    # Two or three capitalized words after a preposition or a verb of addressing.
    re.compile(r"\b(?i:for|to|by|with|from|named|called|contact|ask for|cc|via)[ \t]+(?P<value>" + _CAP_NAME + r")\b"),
    # At the start of a message or sentence, a name and a verb of a person: "nicole gonzales ordered".
    re.compile(
        r"(?:^|(?<=[.!?][ \t])|(?<=\n))[ \t]*(?P<value>" + _NW + r"[ \t]+" + _NW + r")[ \t]+(?:ordered|placed|bought|"
        r"paid|returned|received|called|emailed|wrote|wants|needs|will|has|had|is|was|said|asked|signed|picked)\b",
        re.IGNORECASE,
    ),
]

# Words that are not names, or not the first word of one here. A value is cut at the first of them.
NOT_NAME_WORDS = frozenset(
    """
a an the not just still here there calling writing looking trying going very so really about regarding your my our
his her their its is was are were be been being am and or but nor if when while since until with without for from
to of in on at by into over after before under between through during via as like than that this these those what
which who whom whose why how where customer customers support service services order orders team me it urgent sorry
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december bot assistant agent human someone somebody anyone anybody everyone nobody none
today tomorrow yesterday tonight billing shipping delivery personal phone mobile office address website email mail
thanks thank hello hi hey dear regards best kind please pls tracking standard express item items product products
total subtotal invoice account return returns refund payment card gift size color colour quantity price again also
too now then later soon already only never always ever maybe perhaps will would can could should shall might must
has have had do does did done doing don't doesn't didn't won't can't isn't wasn't aren't i i'm im we you he she they
them us him ok okay yes no fine good great back confused happy sad upset annoyed disappointed frustrated unable able
sure afraid glad ready finished ridiculous unacceptable late early new old same other another each every all any some
many much more most few less least nothing something anything everything having getting waiting wondering
contacting reaching asking following emailing messaging checking hoping need needs want wants ordered bought said
says told asked lives lived got gets get make made take took give gave send sent call called pick picked up
package parcel box shop store company bank manager boss there's here's that's it's what's we're they're you're
north south east west new san santa saint st fort port lake mount customer-service apple google amazon paypal
wen whn hw wat wht whats u ur plz thx ty abt acct addr pw pwd asap info intl b4 cant dont wont doesnt
black cyber prime visa mastercard amex christmas easter street road avenue lane drive way
bye goodbye cheers ciao cya farewell goodnight night morning evening afternoon folks guys
""".split()
)
# The first word of a two-word capitalized name after a preposition that names a place or brand instead.
_NOT_FIRST_NAME = frozenset(
    {
        "new",
        "san",
        "santa",
        "saint",
        "st",
        "north",
        "south",
        "east",
        "west",
        "fort",
        "port",
        "lake",
        "mount",
        "los",
        "las",
        "el",
        "la",
        "le",
        "united",
        "great",
        "little",
        "upper",
        "lower",
        "royal",
        "central",
        "old",
        "black",
        "cyber",
        "apple",
        "google",
        "amazon",
    }
)


class PersonCueRecognizer(EntityRecognizer):
    """Names found by the cues above (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="PersonCueRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001 (Presidio's signature)
        results = []
        for n, pattern in enumerate(PATTERNS):
            for match in pattern.finditer(text):
                start = match.start("value")
                words = list(re.finditer(r"\S+", match.group("value")))
                kept = []
                for word in words:
                    if word.group(0).lower().strip("'’.,") in NOT_NAME_WORDS:
                        break
                    kept.append(word)
                if not kept:
                    continue
                if n == len(PATTERNS) - 2 and (len(kept) < 2 or kept[0].group(0).lower() in _NOT_FIRST_NAME):
                    continue
                if n == len(PATTERNS) - 1 and len(kept) < 2:
                    continue
                results.append(RecognizerResult("PERSON", start + kept[0].start(), start + kept[-1].end(), 0.7))
        return results
