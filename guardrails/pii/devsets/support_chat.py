"""A labelled PII dev set of support-chat messages, independent of the shared templates
(../shared/data/pii_templates.txt): our own sentence shapes (lower-case chat, names after "this
is" and in sign-offs, addresses in US, UK and continental shapes, identity documents with their
context words) and our own value generators, mixed with what support must keep in clear (order and
tracking numbers, SKUs, amounts, dates, product names).

The output is presidio-research's JSON format, so `manage.py pii_eval` reads it. Two frozen
splits ship next to this file, generated with fixed seeds:

  support_chat_dev.json   tune detection on this one (two thirds of the sentence shapes)
  support_chat_test.json  never tuned on: other values, and all the shapes, a third of which the
                          dev split never has; report it next to the dev split

Regenerate (only when this generator changes; the splits are then new data):

    python -m guardrails.pii.devsets.support_chat
"""

from __future__ import annotations

import datetime
import json
import random
import re
from functools import lru_cache
from pathlib import Path

from guardrails.pii.devsets.shapes import shape_fill

HERE = Path(__file__).resolve().parent
SPLITS = {"dev": (HERE / "support_chat_dev.json", 1201), "test": (HERE / "support_chat_test.json", 7919)}
SAMPLES_PER_SPLIT = 400

# Faker locales for names, streets and cities: support traffic is international.
_LOCALES = [
    "en_US",
    "en_US",
    "en_US",
    "en_GB",
    "en_CA",
    "en_AU",
    "en_IE",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pl_PL",
    "pt_BR",
    "sv_SE",
    "en_IN",
]
_US_STATES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)


@lru_cache(maxsize=1)
def _italian_cities() -> list[str]:
    from faker.providers.address.it_IT import Provider

    return sorted(Provider.cities)


# "Now" for the values Faker dates back from it (the day these splits were first generated).
_GENERATED_AT = datetime.datetime(2026, 12, 1, 12, 0)


class _Values:
    """Value generators: each returns the text of one value (a personal one, or one support keeps)."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        from faker import Faker

        self.rng = rng
        self.fakers = {}
        for n, locale in enumerate(dict.fromkeys(_LOCALES)):
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + n)
            self.fakers[locale] = fake

    def fake(self, locale: str | None = None):
        return self.fakers[locale or self.rng.choice(_LOCALES)]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # --- people
    def first_name(self) -> str:
        return self.fake().first_name()

    def last_name(self) -> str:
        return self.fake().last_name()

    def full_name(self) -> str:
        fake = self.fake()
        return f"{fake.first_name()} {fake.last_name()}"

    def name(self) -> str:
        value = self.full_name() if self.chance(0.65) else self.first_name()
        return value.lower() if self.chance(0.3) else value

    # --- addresses
    def us_address(self) -> str:
        fake = self.fake("en_US")
        street = f"{fake.building_number()} {fake.street_name()}"
        if self.chance(0.3):
            street += self.rng.choice([", ", " "]) + self.rng.choice(
                [
                    f"Apt {self.rng.randint(1, 40)}{self.rng.choice('ABCD')}",
                    f"Apt. {self.rng.randint(1, 999)}",
                    f"Suite {self.rng.randint(100, 999)}",
                    f"Unit {self.rng.randint(1, 30)}",
                    f"#{self.rng.randint(1, 50)}",
                ]
            )
        city = fake.city()
        state = self.rng.choice(_US_STATES)
        zipcode = fake.zipcode() if self.chance(0.85) else fake.zipcode_plus4()
        return self.rng.choice(
            [
                f"{street}, {city}, {state} {zipcode}",
                f"{street}, {city} {state} {zipcode}",
                f"{street} {city} {state} {zipcode}",
                f"{street}\n{city}, {state} {zipcode}",
                f"{street}, {city}",
                f"{street}",
            ]
        )

    def uk_address(self) -> str:
        fake = self.fake("en_GB")
        line = f"{self.rng.randint(1, 220)} {fake.street_name()}"
        if self.chance(0.3):
            line = f"Flat {self.rng.randint(1, 30)}, {line}"
        return self.rng.choice(
            [
                f"{line}, {fake.city()} {fake.postcode()}",
                f"{line}, {fake.city()}, {fake.postcode()}",
                f"{line}\n{fake.city()}\n{fake.postcode()}",
                f"{line}, {fake.postcode()}",
            ]
        )

    def continental_address(self) -> str:
        locale = self.rng.choice(["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE", "pt_BR"])
        fake = self.fake(locale)
        street = fake.street_address()
        if not re.search(r"\d", street):
            street = (
                f"{self.rng.randint(1, 120)} {street}" if locale == "fr_FR" else f"{street} {self.rng.randint(1, 120)}"
            )
        # Faker's Italian cities are a set, whose order changes per process: sort them.
        city = fake.random_element(_italian_cities()) if locale == "it_IT" else fake.city()
        line = f"{street}, {fake.postcode()} {city}"
        if self.chance(0.35):
            line += f", {fake.current_country() if hasattr(fake, 'current_country') else fake.country()}"
        return line if self.chance(0.8) else line.replace(", ", "\n", 1)

    def other_address(self) -> str:
        fake = self.fake(self.rng.choice(["en_CA", "en_AU", "en_IE", "en_IN"]))
        return f"{fake.street_address()}, {fake.city()} {fake.postcode()}"

    def address(self) -> str:
        value = self.rng.choice(
            [self.us_address, self.us_address, self.uk_address, self.continental_address, self.other_address]
        )()
        return value.lower() if self.chance(0.15) else value

    # --- contact and payment
    def phone(self) -> str:
        r = self.rng
        a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
        formats = [
            f"({a}) {b}-{c:04d}",
            f"{a}-{b}-{c:04d}",
            f"{a}.{b}.{c:04d}",
            f"{a} {b} {c:04d}",
            f"+1 {a} {b} {c:04d}",
            f"+1-{a}-{b}-{c:04d}",
            f"{a}{b}{c:04d}",
            f"1-{a}-{b}-{c:04d}",
            f"{a}-{b}-{c:04d} ext. {r.randint(1, 999)}",
            f"+44 7{r.randint(100, 999)} {r.randint(100000, 999999)}",
            f"07{r.randint(100, 999)} {r.randint(100000, 999999)}",
            f"+49 {r.randint(30, 89)} {r.randint(1000000, 9999999)}",
            f"+33 6 {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
            f"06 {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
            f"04{r.randint(10, 99)} {r.randint(100, 999)} {r.randint(100, 999)}",
            f"+31 6 {r.randint(10000000, 99999999)}",
            f"+91 {r.randint(70000, 99999)} {r.randint(10000, 99999)}",
        ]
        return r.choice(formats) if self.chance(0.7) else self.fake().phone_number()

    def email(self) -> str:
        fake = self.fake("en_US")
        return (
            fake.email()
            if self.chance(0.6)
            else f"{self.first_name().lower()}.{self.last_name().lower()}"
            f"{self.rng.randint(1, 99)}@{fake.free_email_domain()}".replace(" ", "")
        )

    def card(self) -> str:
        number = self.fake("en_US").credit_card_number(
            card_type=self.rng.choice(["visa16", "mastercard", "amex", "discover"])
        )
        if self.chance(0.5) and len(number) == 16:
            return self.rng.choice([" ", "-"]).join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        value = self.fake(self.rng.choice(["de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_GB"])).iban()
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if self.chance(0.4) else value

    # --- identity documents
    def driver_license(self) -> str:
        r = self.rng
        letter = lambda: r.choice("ABCDEFGHJKLMNPRSTWY")  # noqa: E731
        digits = lambda n: "".join(r.choice("0123456789") for _ in range(n))  # noqa: E731
        return r.choice(
            [
                f"{letter()}{digits(7)}",  # CA
                f"{digits(3)} {digits(3)} {digits(3)}",
                digits(9),  # NY
                f"{letter()}{digits(3)}-{digits(3)}-{digits(2)}-{digits(3)}-{digits(1)}",  # FL
                f"{letter()}{digits(3)}-{digits(4)}-{digits(4)}",  # IL
                digits(8),  # TX, PA
                f"{letter()} {digits(3)} {digits(3)} {digits(3)} {digits(3)}",  # MI
                f"{letter()}{digits(12)}",  # WI-ish
                f"{letter()}{letter()}{letter()}{letter()}{letter()}{digits(6)}{letter()}{letter()}{digits(1)}{letter()}{letter()}",  # UK
                f"{letter()}{digits(2)}-{digits(2)}-{digits(4)}",  # NJ-ish
            ]
        )

    def passport(self) -> str:
        r = self.rng
        return r.choice(
            [
                self.fake("en_US").passport_number(),
                "".join(r.choice("0123456789") for _ in range(9)),
                r.choice("CFGHJK") + "".join(r.choice("0123456789CFGHJKLMNPRTVWXYZ") for _ in range(8)),
                f"{r.randint(10, 99)}{r.choice('ABCDEFGH')}{r.choice('ABCDEFGH')}{r.randint(10000, 99999)}",
                f"{r.choice('ABCDEFGH')}{r.randint(1000000, 9999999)}",
            ]
        )

    def national_id(self) -> tuple[str, str]:
        """(context words, value)."""
        r = self.rng
        return r.choice(
            [
                (r.choice(["national insurance number", "NI number", "NI no."]), self.fake("en_GB").ssn()),
                (r.choice(["SIN", "social insurance number"]), self.fake("en_CA").ssn()),
                (r.choice(["numéro de sécurité sociale", "INSEE number"]), self.fake("fr_FR").ssn()),
                (r.choice(["codice fiscale", "tax code"]), self.fake("it_IT").ssn()),
                (r.choice(["BSN", "burgerservicenummer"]), self.fake("nl_NL").ssn()),
                (r.choice(["DNI", "NIF"]), f"{r.randint(10000000, 99999999)}{r.choice('TRWAGMYFPDXBNJZSQVHLCKE')}"),
                (r.choice(["PESEL", "PESEL number"]), self._pesel()),
                (
                    r.choice(["Aadhaar", "Aadhaar number"]),
                    f"{r.randint(2000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)}",
                ),
                (
                    r.choice(["national id", "national ID number", "ID card number", "personal ID number"]),
                    r.choice(["T", "L", "C"]) + "".join(r.choice("0123456789CFGHJKLMNPRTVWXYZ") for _ in range(8)),
                ),
                (r.choice(["personnummer"]), self._personnummer()),
            ]
        )

    # Faker's Swedish and Polish ID numbers are birth dates counted back from the clock's "now", so
    # the frozen splits changed with the day they were regenerated on (and the test comparing them
    # failed after midnight). These two are Faker's own code with "now" fixed, drawing the same
    # random numbers in the same order.
    def _personnummer(self) -> str:
        from faker.utils.checksums import calculate_luhn

        fake = self.fake("sv_SE")
        birthday = _GENERATED_AT - datetime.timedelta(days=fake.random.randrange(18 * 365, 90 * 365))
        date = f"{birthday:%y%m%d}"
        suffix = f"{fake.random.randrange(0, 999):03}"
        return f"{date}-{suffix}{calculate_luhn(int(date + suffix))}"

    def _pesel(self) -> str:
        from faker.providers.ssn.pl_PL import calculate_month, checksum

        fake = self.fake("pl_PL")
        birth = fake.date_time(end_datetime=_GENERATED_AT)
        digits = [*divmod(birth.year % 100, 10), *divmod(calculate_month(birth), 10), *divmod(birth.day, 10)]
        digits += [fake.random_digit() for _ in range(4)]
        digits.append(checksum(digits))
        return "".join(str(digit) for digit in digits)

    # --- what support keeps
    def order(self) -> str:
        return self.rng.choice(
            [
                f"SB-{self.rng.randint(100000, 109999)}",
                f"SB{self.rng.randint(100000, 109999)}",
                f"A{self.rng.randint(1000, 9999)}",
                f"WEB-{self.rng.randint(10000, 99999)}",
            ]
        )

    def tracking(self) -> str:
        r = self.rng
        return r.choice(
            [
                "1Z"
                + "".join(r.choice("0123456789ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(6))
                + "".join(r.choice("0123456789") for _ in range(10)),
                "".join(r.choice("0123456789") for _ in range(22)),
                "".join(r.choice("0123456789") for _ in range(12)),
            ]
        )

    def sku(self) -> str:
        return self.rng.choice(
            [
                "TENT-2P",
                "TR-42",
                "DP-30L-BLK",
                "JKT-M-RED",
                "SB-SOCK-3PK",
                "HX-220",
                "MUG-12OZ",
                "BOOT-W-39",
                "LMP-60W",
                "CHR-OAK-02",
            ]
        )

    def product(self) -> str:
        return self.rng.choice(
            [
                "Ridgeline 2-person tent",
                "Summit 30L daypack",
                "Trailrunner boots (EU 42)",
                "Alpine Down Jacket",
                "Harbor rain shell",
                "Granite trekking poles",
                "Nova headlamp",
                "the Aspen sleeping bag",
                "Cedar camp chair",
                "Meridian water filter",
            ]
        )

    def amount(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"${r.randint(5, 900)}.{r.randint(0, 99):02d}",
                f"€{r.randint(5, 400)},{r.randint(0, 99):02d}",
                f"£{r.randint(5, 400)}.{r.randint(0, 99):02d}",
                f"{r.randint(5, 900)} USD",
                f"${r.randint(5, 900)}",
            ]
        )

    def date(self) -> str:
        r = self.rng
        month, day = r.randint(1, 12), r.randint(1, 28)
        return r.choice(
            [
                f"2026-{month:02d}-{day:02d}",
                f"{month}/{day}/2026",
                f"{day}.{month}.2026",
                f"{['Jan', 'Feb', 'March', 'April', 'May', 'June', 'July', 'Aug', 'Sept', 'Oct', 'Nov', 'Dec'][month - 1]} {day}",
                f"{day} {['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'][month - 1]}",
            ]
        )


# Sentence shapes. {slot} fills from _Values; slots in LABELS are personal data, the rest is what
# support keeps. A slot may appear twice ({name} and {name2} are two values).
LABELS = {
    "name": "PERSON",
    "name2": "PERSON",
    "first": "PERSON",
    "full": "PERSON",
    "address": "STREET_ADDRESS",
    "us_address": "STREET_ADDRESS",
    "uk_address": "STREET_ADDRESS",
    "eu_address": "STREET_ADDRESS",
    "phone": "PHONE_NUMBER",
    "email": "EMAIL_ADDRESS",
    "card": "CREDIT_CARD",
    "iban": "IBAN_CODE",
    "dl": "US_DRIVER_LICENSE",
    "passport": "PASSPORT",
    "natid": "NATIONAL_ID",
}
SHAPES = [
    # names
    "hi, this is {name}, my order {order} still hasn't shipped",
    "Hello, this is {full} from {city}. Order {order} arrived damaged.",
    "{first} here - can you check {order} for me?",
    "hey its {name} again, any news on the refund of {amount}?",
    "my name is {name} and I ordered the {product} on {date}",
    "Hi there! I'm {full}, I placed order {order} last week",
    "Thanks for your help!\n{full}",
    "ok thanks, that works.\n\nCheers,\n{first}",
    "Kind regards,\n{full}\n{phone}",
    "please cancel {order}. thanks, {name}",
    "can you put the order under my wife's name, {full}?",
    "the parcel was signed for by {full} but I never got it",
    "My son {first} will pick up the {product} at the store",
    "Could you send the invoice for {order} to {full}, our accountant?",
    "I spoke to {first} on the phone yesterday and she said you'd refund {amount}",
    "Best,\n{name}",
    "account holder: {full}",
    "the delivery should be addressed to {full} at reception",
    "{full} ordered {sku} twice by mistake, order {order}",
    "sorry, {first} again. tracking {tracking} hasn't moved since {date}",
    "hello my name is {name} i cant log in",
    "Order {order} is a gift for {full}, please don't include the receipt",
    # addresses
    "hi, I moved to {us_address}, can you update my order {order}",
    "please ship to {address} instead",
    "New address: {address}",
    "my address is {address}\nthanks",
    "Can you change the delivery address for {order} to {uk_address}?",
    "I'm at {eu_address} now, will the {product} still arrive by {date}?",
    "the courier left it at {us_address} which is my old place",
    "send the replacement to\n{full}\n{address}",
    "billing address is {address}, shipping stays the same",
    "We live at {address}. The box for {sku} came open.",
    "deliver to {eu_address} please, my phone is {phone}",
    "hi, i moved to {address} last month and my order {order} went to the old one",
    "Address on file should be {us_address}, not the old one",
    "return label please, pick-up from {uk_address} on {date}",
    # phones
    "call me on {phone} after 5pm",
    "my number is {phone}, text me when {order} ships",
    "you can reach me at {phone} or {email}",
    "my new mobile is {phone}",
    "phone: {phone}\nemail: {email}",
    "Please have someone call {phone} about the {amount} charge",
    "best number is {phone} (cell)",
    # documents
    "my driver's license number is {dl}",
    "For the rental pickup I need to give my drivers license: {dl}",
    "DL# {dl}, exp {date}",
    "here's my driving licence no. {dl} for the age check on order {order}",
    "licence number {dl} - state {state}",
    "The passport number is {passport}, issued {date}",
    "passport no {passport}",
    "customs asked for my passport number, it's {passport}. order {order}",
    "my {natid_words} is {natid}",
    "{natid_words}: {natid}",
    "they want my {natid_words} for the import duty on {order}: {natid}",
    # other contact and payment data
    "email me at {email} please",
    "my email changed to {email}, order {order}",
    "charge card {card} instead, it's the same name {full}",
    "I was charged {amount} twice on {card}",
    "refund to IBAN {iban} please",
    "my bank account is {iban}, name {full}",
    # mixed
    "Hi, {full} here. Order {order} ({sku}) should go to {address}. Call {phone} if needed.",
    "this is {name}, phone {phone}, I moved to {address}",
    "{full}\n{address}\n{phone}",
]
# What support keeps in clear, with no personal data at all: precision is measured on these too.
CLEAN_SHAPES = [
    "Where is order {order}?",
    "order {order} was {amount}, I was charged {amount2}",
    "tracking number {tracking} shows no movement since {date}",
    "Can I return the {product} ({sku})? I bought it on {date}",
    "I ordered {sku} x2 on {date} for {amount}",
    "my order {order} hasn't arrived, it was due {date}",
    "Is the {product} in stock in size 42?",
    "Standard Shipping\n3-5 business days, {amount}",
    "the {product} arrived broken, order {order}, tracking {tracking}",
    "Do you ship to Canada? And how much is express?",
    "Hi, order {order} and order {order2} were both charged on {date}",
    "refund of {amount} for {order} still not on my card",
    "I need an invoice for {order} with VAT please",
    "SKU {sku} is listed at {amount} but cart says {amount2}",
    "Parcel {tracking} was marked delivered on {date} but nothing arrived",
    "hi, quick q: does the {product} come with a warranty?",
]


def _fill(shape: str, values: _Values) -> dict:
    natid_words, natid = values.national_id()
    slots = {
        "name": values.name,
        "name2": values.name,
        "first": values.first_name,
        "full": values.full_name,
        "address": values.address,
        "us_address": values.us_address,
        "uk_address": values.uk_address,
        "eu_address": values.continental_address,
        "phone": values.phone,
        "email": values.email,
        "card": values.card,
        "iban": values.iban,
        "dl": values.driver_license,
        "passport": values.passport,
        "natid": lambda: natid,
        "natid_words": lambda: natid_words,
        "order": values.order,
        "order2": values.order,
        "tracking": values.tracking,
        "sku": values.sku,
        "product": values.product,
        "amount": values.amount,
        "amount2": values.amount,
        "date": values.date,
        "city": lambda: values.fake().city(),
        "state": lambda: values.rng.choice(_US_STATES),
    }
    # Chat style: a share of messages typed all in lower case.
    return shape_fill(shape, slots=slots, labels=LABELS, lowercase=lambda: values.chance(0.2))


def generate(count: int, *, seed: int, held_out_shapes: bool = True) -> list[dict]:
    """`held_out_shapes`: include the shapes kept out of the dev split (every third one), so the
    test split also measures sentence shapes nobody tuned on."""
    rng = random.Random(seed)
    values = _Values(rng, seed)
    shapes = SHAPES if held_out_shapes else [s for n, s in enumerate(SHAPES) if n % 3 != 2]
    clean = CLEAN_SHAPES if held_out_shapes else [s for n, s in enumerate(CLEAN_SHAPES) if n % 3 != 2]
    samples = []
    for _ in range(count):
        shape = rng.choice(clean) if rng.random() < 0.2 else rng.choice(shapes)
        samples.append(_fill(shape, values))
    return samples


def load(split: str) -> list[dict]:
    """A frozen split shipped in the repository: "dev" or "test"."""
    path, _ = SPLITS[split]
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    for split, (path, seed) in SPLITS.items():
        samples = generate(SAMPLES_PER_SPLIT, seed=seed, held_out_shapes=split == "test")
        path.write_text(json.dumps(samples, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        print(f"{split}: {SAMPLES_PER_SPLIT} samples -> {path}")


if __name__ == "__main__":
    main()
