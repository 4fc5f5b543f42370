"""Erase one person's personal data (a data-subject erasure request; docs/privacy.md).

    python manage.py customer_erase SITE USER_ID_OR_EMAIL [--dry-run]

Vault entries are deleted, every text of their conversations is replaced by a marker, their
identity is cleared; the rows stay as counted shells so the metrics keep their numbers.
Idempotent; each run is recorded as a GuardrailEvent (data_subject_erase) without any value.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from conversations.privacy.erasure import customer_data_erase
from conversations.privacy.subjects import DataRequestError, data_request_site, data_subject_find


class Command(BaseCommand):
    help = "Erase everything stored about one customer (by user id or email), keeping counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("site", help="site key or name")
        parser.add_argument("identifier", help="the host site's user id, or an email address the customer gave")
        parser.add_argument("--dry-run", action="store_true", help="say what would be erased, change nothing")

    def handle(self, *args, **options) -> None:
        try:
            site = data_request_site(site=options["site"])
            subject = data_subject_find(site=site, identifier=options["identifier"])
        except DataRequestError as error:
            raise CommandError(error.message) from error
        if options["dry_run"]:
            self.stdout.write(
                f"would erase {len(subject.customer_ids)} customer(s) with "
                f"{len(subject.conversation_ids())} conversation(s) (matched by "
                f"{', '.join(subject.matched_by) or 'nothing'})"
            )
            return
        result = customer_data_erase(subject=subject)
        if not subject.found:
            self.stdout.write("nothing is stored about this person on this site (already erased?)")
            return
        self.stdout.write(
            f"erased {result.customers} customer(s): {result.conversations} conversation(s), "
            f"{result.messages} message text(s), {result.vault_entries} vault value(s), "
            f"{result.files} file(s)"
        )
