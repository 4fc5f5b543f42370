"""Recognizers for support traffic, on top of Presidio's own.

Presidio's weak spots here: it has no street-address recognizer at all, and spaCy's small model
misses names typed in lower case or after a salutation ("ms. wijtze"). These recognizers add both
through Presidio's recognizer API; a named group `value` marks the part of a match to redact.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import IbanRecognizer

from guardrails.pii.names import NOT_NAME_WORDS, PersonCueRecognizer

# Street-type words: the USPS suffix list plus abbreviations and common European ones.
_STREET_TYPES = (
    "alley|aly|avenue|ave|av|branch|bridge|brook|brooks|burg|burgs|bypass|camp|canyon|cape|causeway|center|"
    "centers|centre|circle|circles|cir|cliff|cliffs|club|common|commons|corner|corners|course|court|courts|ct|"
    "cove|coves|creek|crescent|cres|crest|crossing|crossroad|curve|dale|dam|divide|drive|drives|dr|estate|"
    "estates|expressway|expy|extension|extensions|ext|fall|falls|ferry|field|fields|flat|flats|ford|fords|"
    "forest|forge|forges|fork|forks|fort|freeway|fwy|garden|gardens|gdns|gateway|glen|glens|green|greens|grove|"
    "groves|harbor|harbors|harbour|haven|heights|hts|highway|hwy|hill|hills|hollow|inlet|island|islands|isle|"
    "junction|junctions|key|keys|knoll|knolls|lake|lakes|land|landing|lane|ln|light|lights|loaf|lock|locks|"
    "lodge|loop|mall|manor|manors|meadow|meadows|mews|mill|mills|mission|motorway|mount|mt|mountain|mountains|"
    "neck|orchard|oval|overpass|park|parks|parkway|parkways|pkwy|pass|passage|path|pike|pine|pines|place|pl|"
    "plain|plains|plaza|plz|point|points|pt|port|ports|prairie|radial|ramp|ranch|rapid|rapids|rest|ridge|ridges|"
    "river|road|roads|rd|route|rte|row|rue|run|shoal|shoals|shore|shores|skyway|spring|springs|spur|spurs|"
    "square|squares|sq|station|stravenue|stream|street|streets|st|summit|terrace|ter|throughway|trace|track|"
    "trafficway|trail|trl|tunnel|turnpike|underpass|union|unions|valley|valleys|via|viaduct|view|views|village|"
    "villages|ville|vista|walk|walks|wall|way|ways|well|wells|close|rise|chase|gate|yard|wharf|quay|broadway|"
    "strasse|straße|str|weg|gasse|platz|allee|calle|avenida|laan|straat|plein|gade|vej|gürtel|útja|utca|"
    "blvd|boulevard|parade|esplanade|tce|laneway|damm|ufer|steig"
)
_UNIT = r"(?i:apt\.?|apartment|suite|ste\.?|unit|flat|floor|fl\.?|room|rm\.?|bldg\.?|building|#)[ \t]*[\w-]{1,6}"
_W = r"[^\W\d_][\w'.-]*"  # a word starting with a letter, any script
# A street name's words may be ordinals ("W 34th St"); a unit may sit before the number ("Unit 4,
# 17 Smith St") or share it ("4/17 Smith St", "1204-88 Queen St"); a direction may follow the
# street type ("Queen St W").
_ORDINAL = r"\d{1,3}(?:st|nd|rd|th)\b"
_DIRECTION = r"(?-i:N|S|E|W|NE|NW|SE|SW)\b"
_STREET_LINE = re.compile(
    r"(?<![\w-])(?:"
    + _UNIT
    + r"[ \t]*,?[ \t]+)?\d{1,6}[A-Za-z]?(?:[ /-]\d{1,4})?[ \t]+(?:(?:"
    + _W
    + r"|"
    + _ORDINAL
    + r")[ \t]+){0,3}(?:"
    + _STREET_TYPES
    + r")\b\.?(?:[ \t]+"
    + _DIRECTION
    + r")?(?:[ \t]+\d{1,5}[a-z]?\b)?"
    r"(?:[ \t]*,?[ \t]*" + _UNIT + r")?",
    re.IGNORECASE,
)
# French order, the street type first: "1450 rue Sainte-Catherine", "88 boul. Saint-Laurent".
_FRENCH_STREET = re.compile(
    r"(?<![\w-])\d{1,5}(?:[ /-]\d{1,4})?,?[ \t]+(?:rue|boul(?:evard)?\.?|boul\.|av(?:enue)?\.?|chemin|ch\.|route|"
    r"place|all[ée]e|impasse|mont[ée]e|quai|cours)[ \t]+(?:(?:de|du|des|la|le|l'|d')[ \t]*)?" + _W,
    re.IGNORECASE,
)
_MILITARY = re.compile(
    r"\b(?:(?:unit|psc)[ \t]+\d{1,5},?[ \t]+box[ \t]+\d{1,5}|us[a-z]{1,3}[ \t]+"
    + _W
    + r")[ \t]*\n[ \t]*[AFD]PO[ \t]+A[AEP][ \t]+\d{5}\b",
    re.IGNORECASE,
)
# Street, then house number, at the start of a line of a multi-line block: "11 Školní 939",
# "Hauptstraße 5". Only at a line start and before a comma or line break, so "2 orders 12345" in a
# sentence is not taken for an address.
_LINE_START_STREET = re.compile(
    r"(?:^|(?<=\n))[ \t>?]*(?P<value>(?:\d{1,5}[ \t]+)?(?:"
    + _W
    + r"[ \t]+){0,3}"
    + _W
    + r"[ \t]+\d{1,5}[a-z]?\.?)(?=[ \t]*(?:,(?!\d)|\n))",
)
# "lives on Allen Field", "the station is on Reginald Cove": a capitalized street name after a
# preposition, without a house number.
_NAMED_STREET = re.compile(
    r"\b(?:on|at|in|to|along|off)[ \t]+(?:the[ \t]+corner[ \t]+of[ \t]+)?(?P<value>(?:[A-Z][a-zà-ÿ'-]+[ \t]+){1,3}(?i:"
    + _STREET_TYPES
    + r")\b\.?)"
)
_PO_BOX = re.compile(r"\b(?:p\.?[ \t]?o\.?[ \t]?box|post office box)[ \t]*\d{1,7}\b", re.IGNORECASE)
_CONTINENTAL = re.compile(
    r"\b[^\W\d_]+(?:straße|strasse|straat|weg|gasse|platz|allee|laan|vej|gade)[ \t]+\d{1,4}[a-z]?\b", re.IGNORECASE
)
# Continental shape: street words and a house number, a comma (or line break), then a postcode and
# a city: "Industristigen 30, 77507 Sundsvall", "ul. Gdańska 374\n69-240 Giżycko".
_STREET_NUMBER_POSTCODE = re.compile(
    r"(?<![\w-])(?:" + _W + r"[ \t]+){0,3}" + _W + r",?[ \t]+\d{1,5}[a-z]?(?:/\d{1,4})?(?:,[ \t]*|[ \t]*\n[ \t]*)"
    r"(?:\d{4}[ \t]?[A-Za-z]{2}(?=[ \t])|\d{5}-?\d{3}|\d{4,5}|\d{2}-\d{3})[ \t]+" + _W + r"(?:[ \t]+" + _W + r"){0,2}",
)
# After these cues whatever follows, up to the end of the clause, is an address, whatever its
# shape ("lives at 87 Jakobi 69, Laane", "address: 03 Πλατεία Μαβίλη 170").
_CUED = re.compile(
    r"\b(?:address(?:es)?(?![ \t]+(?:for|of)\b)(?: is| to| with)?|lives? (?:at|on|in)|lived (?:at|in|on)|located at|return(?:ed)? to|"
    r"ship(?:ped)? to|deliver(?:ed)? to|send (?:it )?to|moved? to|here they are|i'?m at|i am at|we'?re at|we are at|"
    r"(?:i|we) live (?:at|on|in)|left (?:it|the \w+) at|(?:should |will )?go(?:es)? to|be sent to|sent to|pick-?up from|"
    r"collect(?:ed)? from|staying at|living at|based at)[ \t]*:?[ \t]*(?:\n[ \t]*)?"
    r"(?P<value>\d{1,6}[^\n.;!?]{2,80}|[^\W\d_][^\n.;!?]{2,60}?\d{1,6}[a-z]?\b)",
    re.IGNORECASE,
)
_ZIP_CUED = re.compile(
    r"\b(?:zip(?: ?code)?|post ?code|postal code)\b[ \t]*(?:is|:)?[ \t]*(?P<value>\d{4,5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2})\b",
    re.IGNORECASE,
)
# A following line (or comma-separated part) that continues an address: a unit, a city, a state,
# a postcode, a country. Short, and never something else we know (email, URL, phone, a label).
_UK_CA_POSTCODE = r"(?i:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)(?!\w)"
# US ZIP, continental (12345, 1234, 12-345, 12345-678), UK, Canadian and Dutch postcodes.
_ZIP = (
    r"(?:\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3}|(?i:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d|"
    r"\d{4}[ \t]?[A-Z]{2}(?![\w-])))"
)
# US states, Canadian provinces and Australian states: a comma-less "Springfield IL" ends a street.
_REGION = (
    r"AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    r"OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|ON|QC|BC|AB|MB|NS|SK|NB|NL|PE|YT|NT|NU|NSW|VIC|QLD|SA|TAS|ACT"
)
_CONTINUATION = re.compile(
    r"(?:(?:[ \t]*,[ \t]*|[ \t]*\n[ \t>?]*(?:\n[ \t>?]*)?(?:,[ \t]*)?)"
    r"(?P<part>"
    + _UNIT
    + r"|"
    + _UK_CA_POSTCODE
    + r"|(?:"
    + _W
    + r"[ \t]+){0,4}"
    + _W
    + r"(?:[ \t]*,?[ \t]*[A-Z]{2})?(?:[ \t]+"
    + _ZIP
    + r")?"
    r"|[A-Z]{2}[ \t]+" + _ZIP + r"|" + _ZIP + r"|\([^()\n]{2,40}\))"
    r"|[ \t]+(?P<tail>"
    + _UNIT
    + r"|[A-Z]{2}[ \t]+"
    + _ZIP
    + r"|"
    + _ZIP
    + r"|(?:[A-Z][\w'-]+[ \t]+){1,3}(?:[A-Z]{2}[ \t]+)?"
    + _ZIP
    + r"|(?:[A-Z][\w'-]+[ \t]+){1,3}(?-i:"
    + _REGION
    + r")\b"
    + r"|(?i:(?:[a-z][\w'-]+[ \t]+){1,3}(?:"
    + _REGION
    + r")[ \t]+"
    + _ZIP
    + r")))"
    # A UK postcode ends in letters ("London NW1 6XE instead"): it ends the part before a lower-case word.
    r"(?:(?<=\d)(?!\w|[ \t]\d[A-Za-z]{2}\b)|(?<=[^\w][A-Z]{2})(?=[ \t]+[a-z])|(?<=\d[A-Z]{2})(?=[ \t]+[a-z])"
    r"|(?=[ \t]*(?:[,)]|\n|$|[.?!](?:\s|$)|[ \t]+(?:in case|for|and|it|i)\b)))",
)
_NOT_ADDRESS_PART = re.compile(
    r"@|https?:|www\.|:|\b(?:phone|mobile|fax|desk|office|email|e-mail|website|tel)\b", re.IGNORECASE
)


# Where an address found by a cue or a continuation ends: the sentence goes on ("..., can you
# update my order", "... last month", "..., shipping stays the same").
_CLAUSE_END = re.compile(
    r"(?<=[^\W_]{4})\.[ \t]+(?=[A-Z])|"  # a sentence ends ("... Brazil. The box"); "Apt. 4", "N. Main" do not
    r"(?:,\s*|\s+)(?:now|last|which|who|will|would|can|could|please|pls|thanks|thank|and (?:my|i|it|the|we|you|can|could|please|also|then|when)|but|not|shipping|billing|"
    r"if|so|since|because|instead|until|does|do|did|doesn't|isn't|has|have|had|today|tomorrow|yesterday|this|that|my|is|was|it|i|we|you|for|before|after|asap|"
    r"then|when|also|or(?![ \t]+\d{5})|thx|cheers|ok|as|where|are|order|orders|tracking|sku|item|invoice|parcel|package|box|size|"
    r"thanks)\b",
    re.IGNORECASE,
)
_LEADING_WORDS = frozenset(
    """i'm im i am at we we're are live living to is was my our address address: new old moved
move the in on from of deliver delivery ship shipping billing send please now it its it's and hi hello hey ok so here
go should will left courier""".split()
)


def _after_leading_words(text: str, start: int, end: int) -> int:
    """`start` moved past the sentence's own words that a shape pattern took in front of a street
    ("billing address is metzstraße 28/23, ..."): past the last of them before the house number."""
    words = list(re.finditer(r"\S+", text[start:end]))
    first_number = next((n for n, w in enumerate(words) if w.group(0)[0].isdigit()), len(words))
    cut = start
    for word in words[:first_number]:
        if word.group(0).lower().rstrip(",:") in _LEADING_WORDS:
            cut = start + word.end()
    return cut if cut == start else cut + len(text[cut:end]) - len(text[cut:end].lstrip())


class StreetAddressRecognizer(EntityRecognizer):
    """Street addresses as whole blocks: a street line found by shape or by a cue, then the lines
    that continue it (unit, city, state, postcode, country), up to five of them."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["STREET_ADDRESS"], name="StreetAddressRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001 (Presidio's signature)
        spans = [
            m.span()
            for pattern in (_STREET_LINE, _MILITARY, _PO_BOX, _CONTINENTAL, _FRENCH_STREET)
            for m in pattern.finditer(text)
        ]
        spans += [m.span("value") for pattern in (_ZIP_CUED, _NAMED_STREET) for m in pattern.finditer(text)]
        # These shapes end where the street ends: their own match is kept whole ("PO Box 12" is no
        # clause ending at "box"). The others may run on into the sentence.
        tight = set(spans)
        # Shapes whose first words may be the sentence's own ("I'm at ul. Gdańska 374").
        spans += [
            (
                _after_leading_words(text, *m.span("value" if "value" in pattern.groupindex else 0)),
                m.end("value" if "value" in pattern.groupindex else 0),
            )
            for pattern in (_LINE_START_STREET, _STREET_NUMBER_POSTCODE)
            for m in pattern.finditer(text)
        ]
        # A cue's value starts where a street found by its shape starts inside it ("address on file
        # should be 00891 Knox Parkways").
        cued = [
            (
                min([a for a, _ in spans if m.start("value") < a < m.end("value")], default=m.start("value"))
                if not text[m.start("value")].isdigit()
                else m.start("value"),
                m.end("value"),
            )
            for m in _CUED.finditer(text)
        ]
        results = []
        for start, end in spans + cued:
            core = end - start if (start, end) in tight else 0
            end = self._extend(text, end)
            value = text[start:end]
            clause_end = _CLAUSE_END.search(value, core)
            if clause_end:
                value = value[: clause_end.start()]
            value = value.rstrip(" \t\n,.")
            if (start, end) in cued and not re.search(r"\d", value):
                continue
            if value:
                results.append(RecognizerResult("STREET_ADDRESS", start, start + len(value), 0.75))
        return results

    @staticmethod
    def _extend(text: str, end: int) -> int:
        for _ in range(5):
            match = _CONTINUATION.match(text, end)
            if not match:
                break
            part = match.group("part") or match.group("tail")
            if match.group("tail") and text[end - 1] == ".":
                break  # "Grayfort H8P7M1. Call 07682": a new sentence, not a city and postcode
            if not match or _NOT_ADDRESS_PART.search(part) or len(part) > 60:
                break
            end = match.end()
        return end


_NAME_WORD = r"[^\W\d_][\w'-]+"
_SALUTATION = r"(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|mister)"
NAME_PATTERNS = [
    # "ms. wijtze", "Dr Jane Smith Jr.": a salutation makes the following words a name in any case;
    # the salutation and a suffix are redacted with it.
    re.compile(
        r"\b(?P<value>" + _SALUTATION + r"\.?\s+" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r")?"
        r"(?:\s+(?:jr|sr|md|dvm|phd|dds|ii|iii)\b\.?)?)",
        re.IGNORECASE,
    ),
    # "my name is jane smith", "this is Jane", "name: Jane Smith"
    re.compile(
        r"(?i:\b(?:hi|hello|hey|dear|my name is|my name's|name is|name:|i am called|i'm called|this is|signed|regards,|thanks,|cheers,|"
        r"sincerely,|called|call me|calls me|says|said|directed by:?|starring|sung by|last name\??|first name\??|change it to|"
        r"full name|account holder|cardholder|card holder|recipient|guardian|beneficiary|spouse|"
        r"husband|wife|son|daughter|contact person|attention|attn:?|c/o))\s+(?P<value>[A-Z][a-zA-ZÀ-ÿ'-]+(?:\s+[A-Z][a-zA-ZÀ-ÿ'-]+){0,2})"
    ),
    # Addressing someone: "Marisca, can I please speak to your boss?"
    re.compile(
        r"(?:^|(?<=\n))\s*(?P<value>[A-Z][a-zà-ÿ'-]+(?:\s+[A-Z][a-zà-ÿ'-]+)?),\s+(?:can|could|would|will|please|i|thanks|thank)\b"
    ),
    # A sentence that starts with a name and a verb of a person: "Tyler Rodriguez lives at ..."
    re.compile(
        r"(?:^|(?<=[.!?]\s)|(?<=\n))\s*(?P<value>[A-Z][a-zà-ÿ'-]+(?:\s+[A-Z][a-zà-ÿ'-]+)?)\s+(?:lives|lived|moved|"
        r"had given|has given|gave|told|said|says|began|wrote|works|worked|is a very|is very|was born)\b"
    ),
    # The name line of a signature or address block: a line of two or three capitalized words
    # right above lines with digits (street, phone).
    re.compile(
        r"(?:^|(?<=\n))[ \t>?]*(?P<value>(?:(?:mr|mrs|ms|dr)\.?[ \t]+)?[A-Z][a-zà-ÿ'-]+(?:[ \t]+[A-Z][a-zà-ÿ'-]+){1,2}"
        r"(?:[ \t]+(?:Jr|Sr|MD|DVM|PhD|DDS|II|III)\.?)?)[ \t]*\n(?=(?:[^\n]*\n){0,3}[^\n]*\d{3})",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:my name is|my name's|name is|name:|full name:?)\s+(?P<value>"
        + _NAME_WORD
        + r"(?:\s+"
        + _NAME_WORD
        + r")?)",
        re.IGNORECASE,
    ),
]
_NOT_NAMES = {
    "a",
    "an",
    "the",
    "not",
    "just",
    "still",
    "here",
    "there",
    "calling",
    "writing",
    "looking",
    "trying",
    "going",
    "very",
    "so",
    "really",
    "about",
    "regarding",
    "your",
    "my",
    "our",
    "is",
    "was",
    "and",
    "or",
    "customer",
    "support",
    "order",
    "team",
    "me",
    "it",
    "that",
    "this",
    "what",
    "urgent",
    "sorry",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "bot",
    "assistant",
    "agent",
    "human",
    "someone",
    "somebody",
    "anyone",
    "today",
    "tomorrow",
    "yesterday",
    "billing",
    "shipping",
    "delivery",
    "personal",
    "phone",
    "mobile",
    "office",
    "address",
    "website",
    "email",
    "order",
    "orders",
    "thanks",
    "thank",
    "hello",
    "hi",
    "dear",
    "regards",
    "best",
    "kind",
    "please",
    "sorry",
    "tracking",
    "standard",
    "express",
    "item",
    "items",
    "product",
    "total",
    "subtotal",
    "invoice",
    "account",
    "customer",
    "return",
    "refund",
    "payment",
    "card",
    "gift",
    "size",
    "color",
    "colour",
    "quantity",
    "price",
}


def _without_trailing_non_names(value: str) -> str:
    words = value.split()
    while words and words[-1].lower() in NOT_NAME_WORDS:
        words.pop()
    return value[: value.rfind(words[-1]) + len(words[-1])] if words else ""


class RegexGroupRecognizer(EntityRecognizer):
    """Regexes whose `value` group is the entity, so context words around it are not redacted."""

    def __init__(self, *, entity: str, patterns: list[re.Pattern[str]], score: float, name: str) -> None:
        self.patterns = patterns
        self.score = score
        super().__init__(supported_entities=[entity], name=name, supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001 (Presidio's signature)
        results = []
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                start, end = match.span("value")
                value = text[start:end].rstrip(" \t\n,.")
                if self.supported_entities[0] == "PERSON":
                    value = _without_trailing_non_names(value)  # "my name is Maria and I ordered"
                end = start + len(value)
                if not value or self._rejected(value):
                    continue
                results.append(RecognizerResult(self.supported_entities[0], start, end, self.score))
        return results

    def _rejected(self, value: str) -> bool:
        if self.supported_entities[0] != "PERSON":
            return False
        return value.split()[0].lower() in _NOT_NAMES or value.split()[0].lower() in NOT_NAME_WORDS


_PHONE = re.compile(
    r"(?<![\w+/.-])(?P<value>(?:\+|00)?\d{0,3}[ .-]?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]\d{2,8}){1,4}(?:[ \t]*(?:x|ext\.?|#)[ \t]*\d{1,6})?)(?![\w/-]|\.\d)",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$|^\d{1,2}:\d{2}")


class LoosePhoneRecognizer(EntityRecognizer):
    """Phone numbers the phonenumbers library rejects for its regions (short or foreign numbers,
    extensions): grouped digits, 7 to 15 of them, that are not a date, amount or ISO timestamp."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="LoosePhoneRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001
        results = []
        for match in _PHONE.finditer(text):
            value = match.group("value").strip(" .-")
            start = match.start("value") + (len(match.group("value")) - len(match.group("value").lstrip(" .-")))
            digits = sum(c.isdigit() for c in value.split("x")[0].split("X")[0])
            if not 7 <= digits <= 15 or _DATE_LIKE.match(value):
                continue
            grouped = value.startswith(("+", "(")) or "(" in value or len(re.findall(r"[ .-]", value)) >= 2
            if grouped:
                results.append(RecognizerResult("PHONE_NUMBER", start, start + len(value), 0.6))
        return results


_CARD = re.compile(r"(?<![\w-])(?P<value>[2-6]\d{3}(?:[ -]?\d{2,4}){1,4}(?:[ -]?\d{1,3})?)(?![\w-])")
_CARD_CONTEXT = re.compile(
    r"\b(?:card|credit|debit|visa|master ?card|amex|american express|discover|maestro|cc|pay(?:ment)?)\b", re.IGNORECASE
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for n, char in enumerate(reversed(digits)):
        d = int(char)
        if n % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class PaymentCardRecognizer(EntityRecognizer):
    """Card numbers Presidio's recognizer misses (12-19 digits, 2-series Mastercard, odd grouping):
    Luhn-valid, and either grouped like a card or with a card word nearby, so a bare tracking
    number that happens to pass Luhn is left alone."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["CREDIT_CARD"], name="PaymentCardRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001
        results = []
        for match in _CARD.finditer(text):
            digits = re.sub(r"\D", "", match.group("value"))
            if not 12 <= len(digits) <= 19 or not _luhn_valid(digits):
                continue
            window = text[max(0, match.start() - 60) : match.start()]
            if re.search(r"\btracking|parcel|shipment\b", window, re.IGNORECASE):
                continue
            if _CARD_CONTEXT.search(window) or re.fullmatch(r"\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}", match.group("value")):
                results.append(RecognizerResult("CREDIT_CARD", match.start("value"), match.end("value"), 0.8))
        return results


class AnyCaseIbanRecognizer(IbanRecognizer):
    """Presidio's IBAN recognizer (country format and checksum) on the upper-cased text: chat
    types IBANs in lower case too ("nl55 zkwg 7373 7848 97")."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # noqa: ANN001 (Presidio's signature)
        upper = text.upper()
        if upper == text or len(upper) != len(text):
            return []  # the plain recognizer, registered too, has it; or offsets would not match
        return super().analyze(upper, entities, nlp_artifacts, regex_flags)


def support_recognizers() -> list[EntityRecognizer]:
    return [
        AnyCaseIbanRecognizer(),
        StreetAddressRecognizer(),
        LoosePhoneRecognizer(),
        PaymentCardRecognizer(),
        RegexGroupRecognizer(entity="PERSON", patterns=NAME_PATTERNS, score=0.7, name="PersonContextRecognizer"),
        PersonCueRecognizer(),
    ]
