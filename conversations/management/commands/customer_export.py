"""Everything stored about one person, as JSON (a data-subject access request; docs/privacy.md).

    python manage.py customer_export SITE USER_ID_OR_EMAIL [--output FILE]

SITE is the site key (or its name). The document has the person's values put back from the vault,
so it is personal data: --output writes it readable by its owner only. Recorded as a
GuardrailEvent (data_subject_export) without any value.
"""

from __future__ import annotations

import json
import os

from django.core.management.base import BaseCommand, CommandError

from conversations.privacy.export import customer_data_export
from conversations.privacy.subjects import DataRequestError, data_request_site, data_subject_find


class Command(BaseCommand):
    help = "Write everything stored about one customer (by user id or email) as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("site", help="site key or name")
        parser.add_argument("identifier", help="the host site's user id, or an email address the customer gave")
        parser.add_argument("--output", help="write to this file (mode 0600) instead of standard output")

    def handle(self, *args, **options) -> None:
        try:
            site = data_request_site(site=options["site"])
            subject = data_subject_find(site=site, identifier=options["identifier"])
        except DataRequestError as error:
            raise CommandError(error.message) from error
        document = customer_data_export(subject=subject)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            descriptor = os.open(options["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as output:
                output.write(text)
        else:
            self.stdout.write(text, ending="")
        found = sum(len(c["conversations"]) for c in document["customers"])
        self.stderr.write(
            f"{len(document['customers'])} customer(s), {found} conversation(s) exported"
            if subject.found
            else "nothing is stored about this person on this site"
        )
