"""Export one row per conversation for a date range, as CSV or JSON Lines (see
conversations/inbox/exports.py for the columns), streamed to a file or stdout.

    python manage.py conversations_export --from 2026-11-01 --to 2026-11-30 --format csv --output nov.csv
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conversations.inbox.exports import ExportForm, export_lines


class Command(BaseCommand):
    help = "Export one row per conversation started in a date range, as CSV or JSON Lines (no customer PII)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (server time zone)")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--site", default="", help="only this site (its key); default: every site")
        parser.add_argument("--output", type=Path, help="write here instead of stdout")

    def handle(self, *args, **options) -> None:
        form = ExportForm(
            {"from": options["start"], "to": options["end"], "format": options["format"], "site": options["site"]}
        )
        if not form.is_valid():
            raise CommandError(f"cannot export: {form.error_text()}")
        export = form.export_request()
        lines = export_lines(export)
        if options["output"] is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        # Written beside the target and renamed when complete: a failed export leaves no half file
        # that looks like a whole one. newline="": the csv module writes its own line ends.
        target: Path = options["output"]
        partial = target.with_name(target.name + ".partial")
        written = 0
        with open(partial, "w", encoding="utf-8", newline="") as out:
            for line in lines:
                out.write(line)
                written += 1
        partial.replace(target)
        rows = written - (export.format == "csv")  # the header line
        self.stderr.write(f"{rows} conversation{'' if rows == 1 else 's'} written to {target}")
