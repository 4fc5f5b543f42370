"""A labelled PII corpus built from presidio-research's templates (../shared/data/pii_templates.txt,
or SUPPORTBOT_SHARED_DATA) filled with Faker values, in presidio-research's JSON format. Used by the leak test and by
`benchmarks/guardrails.py` for latency; the dev set itself is never copied into the repository. Without
the templates it fails (naming the path) rather than falling back to easier text of our own: a
corpus that needs no shared data ships in guardrails/pii/devsets/."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

SHARED_DATA = Path(os.environ.get("SUPPORTBOT_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
TEMPLATES = SHARED_DATA / "pii_templates.txt"

# placeholder -> (label, Faker method); labels follow presidio-research's generator.
_FIELDS: dict[str, tuple[str, str]] = {
    "person": ("PERSON", "name"),
    "name": ("PERSON", "name"),
    "first_name": ("PERSON", "first_name"),
    "last_name": ("PERSON", "last_name"),
    "name_female": ("PERSON", "name_female"),
    "name_male": ("PERSON", "name_male"),
    "first_name_male": ("PERSON", "first_name_male"),
    "first_name_female": ("PERSON", "first_name_female"),
    "first_name_nonbinary": ("PERSON", "first_name_nonbinary"),
    "last_name_male": ("PERSON", "last_name_male"),
    "last_name_female": ("PERSON", "last_name_female"),
    "address": ("ADDRESS", "address"),
    "street_name": ("ADDRESS", "street_name"),
    "building_number": ("ADDRESS", "building_number"),
    "secondary_address": ("ADDRESS", "secondary_address"),
    "postcode": ("ADDRESS", "postcode"),
    "zipcode": ("ADDRESS", "zipcode"),
    "state_abbr": ("ADDRESS", "state_abbr"),
    "city": ("LOCATION", "city"),
    "country": ("LOCATION", "country"),
    "credit_card_number": ("CREDIT_CARD", "credit_card_number"),
    "phone_number": ("PHONE_NUMBER", "phone_number"),
    "email": ("EMAIL_ADDRESS", "email"),
    "iban": ("IBAN_CODE", "iban"),
    "ssn": ("US_SSN", "ssn"),
    "ip_address": ("IP_ADDRESS", "ipv4"),
    "url": ("URL", "url"),
    "organization": ("ORGANIZATION", "company"),
    "date_time": ("DATE_TIME", "date"),
    "date_of_birth": ("DATE_TIME", "date_of_birth"),
    "year": ("DATE_TIME", "year"),
    "day_of_week": ("DATE_TIME", "day_of_week"),
    "age": ("AGE", "pyint"),
    "job": ("TITLE", "job"),
    "prefix": ("TITLE", "prefix"),
    "prefix_male": ("TITLE", "prefix_male"),
    "prefix_female": ("TITLE", "prefix_female"),
    "nationality": ("NRP", "country"),
    "nation_woman": ("NRP", "country"),
    "nation_plural": ("NRP", "country"),
    "us_driver_license": ("US_DRIVER_LICENSE", "bothify"),
}


def generate(count: int, *, seed: int = 7) -> list[dict]:
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    if not TEMPLATES.exists():
        raise FileNotFoundError(
            f"{TEMPLATES}: the shared PII templates are missing (set SUPPORTBOT_SHARED_DATA to "
            "the folder that holds pii_templates.txt)"
        )
    templates = [line.strip() for line in TEMPLATES.read_text().splitlines() if line.strip()]
    samples = []
    for _ in range(count):
        template = rng.choice(templates)
        text, spans, cursor = "", [], 0
        for match in re.finditer(r"{{\s*(\w+)\s*}}", template):
            text += template[cursor : match.start()]
            label, method = _FIELDS.get(match.group(1), ("OTHER", "word"))
            value = str(fake.bothify("?####") if method == "bothify" else getattr(fake, method)())
            if method == "credit_card_number" and rng.random() < 0.5:
                value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
            spans.append(
                {
                    "entity_type": label,
                    "entity_value": value,
                    "start_position": len(text),
                    "end_position": len(text) + len(value),
                }
            )
            text += value
            cursor = match.end()
        text += template[cursor:]
        samples.append({"full_text": text, "spans": spans, "template_id": templates.index(template)})
    return samples


if __name__ == "__main__":
    import sys

    json.dump(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 500), sys.stdout, indent=1)
