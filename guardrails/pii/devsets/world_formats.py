"""A second labelled PII dev set, aimed at the shapes the first one (support_chat.py) and the shared
templates under-sample: street addresses with and without commas, unit numbers and PO boxes in
US, UK, Canadian, German and Australian formats; lower-case names, initials and names in e-mail
signatures; international phone numbers written the way each country writes them; US driver's
licence numbers in the formats of a dozen states, each with its context words.

Its value generators are its own (street names built from surnames and per-country street types,
postcodes per country, licence formats per state), and so are its sentence shapes; Faker supplies
only names, surnames and city names. Output is presidio-research's JSON, read by
`manage.py pii_eval`. Two frozen splits ship next to this file:

  world_formats_dev.json   tune detection on this one (two thirds of the shapes)
  world_formats_test.json  never tuned on: other values, and all the shapes, a third of which the
                           dev split never has

Regenerate (only when this generator changes; the splits are then new data):

    python -m guardrails.pii.devsets.world_formats
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from guardrails.pii.devsets.shapes import shape_fill

HERE = Path(__file__).resolve().parent
SPLITS = {"dev": (HERE / "world_formats_dev.json", 4241), "test": (HERE / "world_formats_test.json", 90017)}
SAMPLES_PER_SPLIT = 400

_US_STATES = {
    "CA": "California",
    "NY": "New York",
    "FL": "Florida",
    "IL": "Illinois",
    "TX": "Texas",
    "PA": "Pennsylvania",
    "WA": "Washington",
    "MI": "Michigan",
    "NJ": "New Jersey",
    "OH": "Ohio",
    "MA": "Massachusetts",
    "CO": "Colorado",
    "AZ": "Arizona",
    "GA": "Georgia",
    "NC": "North Carolina",
    "VA": "Virginia",
    "MN": "Minnesota",
    "MD": "Maryland",
    "WI": "Wisconsin",
    "OR": "Oregon",
}
_US_TYPES = [
    "St",
    "Street",
    "Ave",
    "Avenue",
    "Rd",
    "Road",
    "Blvd",
    "Boulevard",
    "Ln",
    "Lane",
    "Dr",
    "Drive",
    "Ct",
    "Court",
    "Way",
    "Pl",
    "Place",
    "Ter",
    "Terrace",
    "Pkwy",
    "Cir",
    "Circle",
    "Hwy",
    "Trail",
    "Loop",
]
_UK_TYPES = [
    "Road",
    "Street",
    "Lane",
    "Close",
    "Crescent",
    "Avenue",
    "Gardens",
    "Grove",
    "Mews",
    "Terrace",
    "Way",
    "Drive",
    "Place",
    "Row",
    "Hill",
    "Walk",
    "Court",
    "Square",
]
_AU_TYPES = [
    "St",
    "Street",
    "Rd",
    "Road",
    "Ave",
    "Parade",
    "Crescent",
    "Cres",
    "Highway",
    "Place",
    "Court",
    "Drive",
    "Esplanade",
    "Terrace",
    "Tce",
    "Close",
    "Boulevard",
]
_DE_SUFFIXES = ["straße", "str.", "weg", "allee", "platz", "ring", "gasse", "damm", "ufer", "steig"]
_CA_PROVINCES = ["ON", "QC", "BC", "AB", "MB", "NS", "SK", "NB"]
_AU_STATES = ["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"]


class _Values:
    def __init__(self, rng: random.Random, seed: int) -> None:
        from faker import Faker

        self.rng = rng
        self.fakers = {}
        for n, locale in enumerate(["en_US", "en_GB", "en_CA", "de_DE", "en_AU", "fr_CA", "es_MX", "en_IE"]):
            fake = Faker(locale)
            fake.seed_instance(seed * 10 + n)
            self.fakers[locale] = fake

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def letter(self) -> str:
        return self.rng.choice("ABCDEFGHJKLMNPRSTVWXYZ")

    # --- people
    def person(self, locale: str | None = None) -> tuple[str, str]:
        fake = self.fakers[locale or self.rng.choice(list(self.fakers))]
        return fake.first_name(), fake.last_name()

    def full(self) -> str:
        first, last = self.person()
        r = self.rng.random()
        if r < 0.15:
            return f"{first[0]}. {last}"
        if r < 0.25:
            middle = self.person()[0]
            return f"{first} {middle[0]}. {last}"
        return f"{first} {last}"

    def lower_full(self) -> str:
        first, last = self.person()
        return f"{first} {last}".lower()

    def first(self) -> str:
        return self.person()[0]

    # --- addresses
    def _us_street(self) -> str:
        r = self.rng
        number = str(r.randint(1, 29999))
        kind = r.random()
        if kind < 0.15:
            n = r.randint(1, 140)
            suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            name = f"{r.choice(['N', 'S', 'E', 'W', 'North', 'West'])} {n}{suffix}"
        elif kind < 0.3:
            name = f"{r.choice(['N', 'S', 'E', 'W', 'NE', 'SW'])} {self.person('en_US')[1]}"
        else:
            name = (
                self.person("en_US")[1]
                if self.chance(0.6)
                else r.choice(
                    [
                        "Maple",
                        "Oak Hollow",
                        "Cedar Ridge",
                        "Mill Creek",
                        "Lakeview",
                        "Sunset",
                        "Pine Valley",
                        "Elm",
                        "Willow Bend",
                        "Highland",
                        "Church",
                        "Spring Garden",
                        "Prospect",
                        "Riverside",
                        "Meadowbrook",
                    ]
                )
            )
        return f"{number} {name} {r.choice(_US_TYPES)}"

    def _us_unit(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"Apt {r.randint(1, 40)}{r.choice(['', 'B', 'C'])}",
                f"Apt. {r.randint(100, 2400)}",
                f"Ste {r.randint(100, 900)}",
                f"Suite {r.randint(2, 40)}",
                f"Unit {r.randint(1, 99)}",
                f"#{r.randint(1, 999)}",
                f"Fl {r.randint(2, 30)}",
            ]
        )

    def us_address(self) -> str:
        r = self.rng
        fake = self.fakers["en_US"]
        street = self._us_street()
        state = r.choice(list(_US_STATES))
        zipcode = self.digits(5) if self.chance(0.8) else f"{self.digits(5)}-{self.digits(4)}"
        city = fake.city()
        unit = self._us_unit() if self.chance(0.35) else ""
        if r.random() < 0.5:  # no commas at all, as typed on a phone
            parts = [street, unit, city, state, zipcode] if self.chance(0.7) else [street, unit, city, state]
            return " ".join(p for p in parts if p)
        street_line = f"{street}{', ' if self.chance(0.5) else ' '}{unit}" if unit else street
        return r.choice(
            [
                f"{street_line}, {city}, {state} {zipcode}",
                f"{street_line}, {city} {state}",
                f"{street_line}\n{city}, {state} {zipcode}",
                f"{street_line}, {city}, {_US_STATES[state]}",
            ]
        )

    def po_box(self) -> str:
        r = self.rng
        box = r.choice(["PO Box", "P.O. Box", "P O Box", "po box", "Post Office Box", "PO BOX"])
        city = self.fakers["en_US"].city()
        state = r.choice(list(_US_STATES))
        return r.choice(
            [
                f"{box} {r.randint(1, 99999)}, {city}, {state} {self.digits(5)}",
                f"{box} {r.randint(1, 9999)} {city} {state} {self.digits(5)}",
                f"{box} {r.randint(1, 9999)}",
            ]
        )

    def uk_address(self) -> str:
        r = self.rng
        fake = self.fakers["en_GB"]
        street = f"{r.randint(1, 240)} {self.person('en_GB')[1]} {r.choice(_UK_TYPES)}"
        if self.chance(0.3):
            street = f"{r.choice(['Flat', 'Apartment', 'Flat'])} {r.randint(1, 60)}{', ' if self.chance(0.5) else ' '}{street}"
        postcode = fake.postcode()
        city = fake.city()
        return r.choice(
            [
                f"{street}, {city} {postcode}",
                f"{street} {city} {postcode}",
                f"{street}\n{city}\n{postcode}",
                f"{street}, {city}, {postcode}, UK",
                f"{street}, {postcode}",
            ]
        )

    def ca_address(self) -> str:
        r = self.rng
        street = f"{r.randint(1, 9999)} {self.person('en_CA')[1]} {r.choice(['St', 'Ave', 'Rd', 'Blvd', 'Cres', 'Dr'])}"
        if self.chance(0.3):
            street += f" {r.choice(['W', 'E', 'N', 'S'])}"
        if self.chance(0.25):
            street = f"{r.randint(1, 2500)}-{street}"  # unit-civic: "1204-88 Queen St W"
        elif self.chance(0.2):
            street = f"{r.randint(1, 9999)} rue {self.person('fr_CA')[1]}"
        province = r.choice(_CA_PROVINCES)
        code = f"{self.letter()}{r.randint(0, 9)}{self.letter()} {r.randint(0, 9)}{self.letter()}{r.randint(0, 9)}"
        city = self.fakers["en_CA"].city()
        return r.choice(
            [
                f"{street}, {city}, {province} {code}",
                f"{street} {city} {province} {code}",
                f"{street}\n{city} {province}  {code}",
                f"{street}, {city} {province}, Canada",
            ]
        )

    def de_address(self) -> str:
        r = self.rng
        fake = self.fakers["de_DE"]
        base = self.person("de_DE")[1]
        suffix = r.choice(_DE_SUFFIXES)
        street = (
            f"{base}{suffix}"
            if not suffix.startswith(("platz", "ring")) or self.chance(0.5)
            else f"{base} {suffix.title()}"
        )
        if self.chance(0.15):
            street = f"Am {base}{r.choice(['hang', 'feld', 'bach'])}"
        number = f"{r.randint(1, 180)}{r.choice(['', '', '', 'a', 'b'])}"
        city = fake.city()
        postcode = self.digits(5)
        return r.choice(
            [
                f"{street} {number}, {postcode} {city}",
                f"{street} {number}\n{postcode} {city}",
                f"{street} {number} {postcode} {city}",
                f"{street} {number}, {postcode} {city}, Deutschland",
                f"{street} {number}, D-{postcode} {city}",
            ]
        )

    def au_address(self) -> str:
        r = self.rng
        fake = self.fakers["en_AU"]
        street = f"{r.randint(1, 400)} {self.person('en_AU')[1]} {r.choice(_AU_TYPES)}"
        if self.chance(0.3):
            street = f"{r.randint(1, 40)}/{street}"  # unit/number: "4/17 Smith Street"
        elif self.chance(0.2):
            street = f"Unit {r.randint(1, 40)}, {street}"
        state = r.choice(_AU_STATES)
        return r.choice(
            [
                f"{street}, {fake.city()} {state} {self.digits(4)}",
                f"{street} {fake.city()} {state} {self.digits(4)}",
                f"{street}\n{fake.city()} {state} {self.digits(4)}",
                f"{street}, {fake.city()}, Australia",
            ]
        )

    def address(self) -> str:
        value = self.rng.choice(
            [
                self.us_address,
                self.us_address,
                self.po_box,
                self.uk_address,
                self.ca_address,
                self.de_address,
                self.au_address,
            ]
        )()
        return value.lower() if self.chance(0.12) else value

    # --- phones, written per country
    def phone(self) -> str:
        r, d = self.rng, self.digits
        return r.choice(
            [
                f"+44 20 {d(4)} {d(4)}",
                f"+44 (0)7{d(3)} {d(6)}",
                f"0044 7{d(3)} {d(6)}",
                f"020 {d(4)} {d(4)}",
                f"+49 (0)30 {d(7)}",
                f"+49 151 {d(8)}",
                f"030/{d(7)}",
                f"0171 {d(7)}",
                f"+61 4{d(2)} {d(3)} {d(3)}",
                f"(02) {d(4)} {d(4)}",
                f"04{d(2)} {d(3)} {d(3)}",
                f"+1 (604) {d(3)}-{d(4)}",
                f"+1 416 {d(3)} {d(4)}",
                f"1 (800) {d(3)}-{d(4)}",
                f"+353 87 {d(3)} {d(4)}",
                f"+27 82 {d(3)} {d(4)}",
                f"+81 90-{d(4)}-{d(4)}",
                f"+65 {d(4)} {d(4)}",
                f"+52 55 {d(4)} {d(4)}",
                f"+33 (0)1 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"+39 3{d(2)} {d(3)} {d(4)}",
                f"+34 6{d(2)} {d(3)} {d(3)}",
                f"+46 70-{d(3)} {d(2)} {d(2)}",
                f"+91-{d(5)}-{d(5)}",
                f"{r.randint(201, 989)}.{d(3)}.{d(4)} x{d(3)}",
                f"({r.randint(201, 989)}){d(3)}-{d(4)}",
            ]
        )

    def email(self) -> str:
        first, last = self.person("en_US")
        return f"{first[0].lower()}{last.lower().replace(' ', '')}@{self.rng.choice(['mail.com', 'outlook.de', 'web.de', 'yahoo.co.uk', 'bigpond.com', 'shaw.ca'])}"

    # --- US driver's licences, per state (format, state)
    def driver_license(self) -> tuple[str, str]:
        r, d, L = self.rng, self.digits, self.letter
        state = r.choice(
            ["CA", "NY", "FL", "IL", "TX", "PA", "WA", "MI", "NJ", "OH", "MA", "CO", "AZ", "GA", "NC", "MN", "MD", "WI"]
        )
        value = {
            "CA": lambda: f"{L()}{d(7)}",
            "NY": lambda: r.choice([f"{d(3)} {d(3)} {d(3)}", d(9)]),
            "FL": lambda: r.choice([f"{L()}{d(3)}-{d(3)}-{d(2)}-{d(3)}-{d(1)}", f"{L()}{d(12)}"]),
            "IL": lambda: r.choice([f"{L()}{d(3)}-{d(4)}-{d(4)}", f"{L()}{d(11)}"]),
            "TX": lambda: d(8),
            "PA": lambda: r.choice([f"{d(2)} {d(3)} {d(3)}", d(8)]),
            "WA": lambda: f"WDL{''.join(r.choice('ABCDEFGHJKLMNPQRSTVWXYZ0123456789') for _ in range(9))}",
            "MI": lambda: f"{L()} {d(3)} {d(3)} {d(3)} {d(3)}",
            "NJ": lambda: f"{L()}{d(4)} {d(5)} {d(5)}",
            "OH": lambda: f"{L()}{L()}{d(6)}",
            "MA": lambda: f"S{d(8)}",
            "CO": lambda: f"{d(2)}-{d(3)}-{d(4)}",
            "AZ": lambda: f"{L()}{d(8)}",
            "GA": lambda: d(9),
            "NC": lambda: d(12),
            "MN": lambda: f"{L()}{d(12)}",
            "MD": lambda: f"{L()}-{d(3)}-{d(3)}-{d(3)}-{d(3)}",
            "WI": lambda: f"{L()}{d(3)}-{d(4)}-{d(4)}-{d(2)}",
        }[state]()
        return value, state

    # --- what support keeps
    def order(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"SB-{r.randint(100000, 109999)}",
                f"#{r.randint(100000, 999999)}",
                f"A{r.randint(1000, 9999)}",
                f"sb-{r.randint(100000, 109999)}",
            ]
        )

    def price(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"${r.randint(3, 600)}.{r.randint(0, 99):02d}",
                f"{r.randint(3, 600)},{r.randint(0, 99):02d} €",
                f"AU${r.randint(10, 300)}",
                f"CA$ {r.randint(10, 300)}.00",
                f"£{r.randint(3, 300)}",
            ]
        )

    def date(self) -> str:
        r = self.rng
        month, day = r.randint(1, 12), r.randint(1, 28)
        return r.choice(
            [
                f"{day:02d}/{month:02d}/2026",
                f"2026-{month:02d}-{day:02d}",
                f"{['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][month - 1]}. {day}",
                f"the {day}{'th' if 10 <= day <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}",
            ]
        )

    def product(self) -> str:
        return self.rng.choice(
            [
                "Trailhead 45L pack",
                "Coastline windbreaker",
                "Basecamp 4-season tent",
                "Sierra fleece",
                "the Fjord kayak paddle",
                "Polar 0°C sleeping bag",
                "Canyon hydration bladder",
                "Rover 2 stove",
                "the Kestrel binoculars 10x42",
                "Tundra mitts (size L)",
            ]
        )


# Sentence shapes. {slot}s in LABELS are personal data; every other slot is what support keeps.
LABELS = {
    "full": "PERSON",
    "lower_full": "PERSON",
    "first": "PERSON",
    "address": "STREET_ADDRESS",
    "us_address": "STREET_ADDRESS",
    "po_box": "STREET_ADDRESS",
    "uk_address": "STREET_ADDRESS",
    "ca_address": "STREET_ADDRESS",
    "de_address": "STREET_ADDRESS",
    "au_address": "STREET_ADDRESS",
    "phone": "PHONE_NUMBER",
    "email": "EMAIL_ADDRESS",
    "dl": "US_DRIVER_LICENSE",
}
SHAPES = [
    # addresses
    "new shipping addr {us_address} thx",
    "Could the {product} go to {address}? I'm away from home until {date}.",
    "the address on order {order} is wrong, it should read {us_address}",
    "pls redirect parcel to {po_box}",
    "Mailing address: {po_box}",
    "I'm in the UK now, {uk_address}, do you still deliver there?",
    "my postal address changed to {ca_address} last week",
    "Lieferadresse / delivery address: {de_address}",
    "could you update it to {au_address} before it ships",
    "{full}\n{address}",
    "Ship to: {full}, {address}",
    "it went to {address} but I don't live there anymore",
    "My billing address is {address} and the card ends in 4242",
    "the courier says {us_address} does not exist, but it does",
    "I've just moved, so please use {address} from now on",
    "Please deliver order {order} to my office at {us_address}",
    "correct address for {order}:\n{address}\nphone {phone}",
    "where do I change my address from {address} to {address2}?",
    # names
    "hey, {lower_full} here. the {product} zipper broke",
    "Order is under {full}.",
    "Thanks so much!\n\n--\n{full}\nSent from my iPhone",
    "regards\n\n{first}",
    "The package should be addressed to {full} c/o the front desk",
    "my daughter {first} placed order {order} on my account",
    "I'm writing on behalf of my mother, {full}, who can't use a computer",
    "Dear support,\nI never got {order}.\nBest wishes,\n{full}",
    "from: {full}\nsubject: refund for {order}",
    "name on the account is {lower_full}",
    "spoke with your colleague {first} yesterday, she promised a refund of {price}",
    "cheers\n- {first}",
    "{full} (account owner) authorised me to ask about {order}",
    "this is {lower_full} and i want to cancel",
    "Please mark it for the attention of {full}, Accounts Payable",
    # phones
    "You can ring me on {phone} any time after 6",
    "whatsapp me at {phone} when it's out for delivery",
    "my mobile changed: {phone}",
    "Tel {phone} / email {email}",
    "I'm abroad, reach me at {phone} please",
    "the driver can call {phone} when he arrives at the gate",
    "best contact number {phone}, thanks",
    "{full}\n{phone}\n{email}",
    # driver's licences with context
    "my {state_name} driver's license number is {dl}",
    "DL: {dl} ({state})",
    "for the rental I need to verify age, license # {dl}, issued in {state_name}",
    "{state} drivers lic {dl}",
    "Driver License No. {dl}",
    "I uploaded a photo of my driver license, the number is {dl}",
    "dl no {dl} exp {date}",
    "here's my drivers license {dl} for the pick-up",
    "my {state} DL {dl}",
    "Driver's licence: {dl}",
]
CLEAN_SHAPES = [
    "what's the status of {order}?",
    "Order {order} was {price} but I see {price2} on my statement",
    "Can I still change the size on {order}? It was placed on {date}.",
    "is the {product} waterproof?",
    "Do you ship to PO boxes in Alaska?",
    "how do I update my address on my account?",
    "my license key for the app doesn't work, order {order}",
    "Box 2 of 3 for {order} never arrived",
    "Unit price was {price}, I ordered 4 units",
    "I'd like to return the {product}, bought {date} for {price}",
    "Does the {product} fit in a 45L pack? Suite of tests says yes lol",
    "Order {order} - can you split it into two shipments?",
    "hi, my order {order} arrived with the wrong colour",
    "can I pay on delivery in Canada?",
    "Street shoes or trail runners for a 20 km hike?",
    "the driver left a note but no parcel, order {order}",
]


def _fill(shape: str, values: _Values) -> dict:
    dl, state = values.driver_license()
    slots = {
        "full": values.full,
        "lower_full": values.lower_full,
        "first": values.first,
        "address": values.address,
        "address2": values.address,
        "us_address": values.us_address,
        "po_box": values.po_box,
        "uk_address": values.uk_address,
        "ca_address": values.ca_address,
        "de_address": values.de_address,
        "au_address": values.au_address,
        "phone": values.phone,
        "email": values.email,
        "dl": lambda: dl,
        "state": lambda: state,
        "state_name": lambda: _US_STATES[state],
        "order": values.order,
        "price": values.price,
        "price2": values.price,
        "date": values.date,
        "product": values.product,
    }
    # "address2" is an address like "address"; "price2" is a price like "price" (no label).
    labels = {slot: LABELS.get(slot) or LABELS.get(slot.rstrip("2")) for slot in slots}
    return shape_fill(
        shape,
        slots=slots,
        labels={slot: label for slot, label in labels.items() if label},
        lowercase=lambda: values.chance(0.15),
    )


def generate(count: int, *, seed: int, held_out_shapes: bool = True) -> list[dict]:
    """`held_out_shapes`: include the shapes kept out of the dev split (every third one)."""
    rng = random.Random(seed)
    values = _Values(rng, seed)
    shapes = SHAPES if held_out_shapes else [s for n, s in enumerate(SHAPES) if n % 3 != 2]
    clean = CLEAN_SHAPES if held_out_shapes else [s for n, s in enumerate(CLEAN_SHAPES) if n % 3 != 2]
    return [_fill(rng.choice(clean) if rng.random() < 0.2 else rng.choice(shapes), values) for _ in range(count)]


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
