from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge.importing import ImportFailure, iter_sources, read_articles
from knowledge.models import Article
from knowledge.services import article_upsert


class Command(BaseCommand):
    help = "Import articles from .md/.txt/.html files, folders of them, or JSON lists of {title, body, slug?, audience?, url?, tags?}."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--status", choices=Article.Status.values, default=Article.Status.PUBLISHED)

    def handle(self, *args, **options) -> None:
        imported = failed = 0
        seen_slugs: dict[str, str] = {}
        sources = list(iter_sources(options["paths"]))
        if not sources:
            raise CommandError("nothing to import: no .md, .txt, .html or .json files in the given paths")
        for number, path in enumerate(sources, start=1):
            self.stdout.write(f"[{number}/{len(sources)}] {path}")
            try:
                entries = read_articles(path)
            except (ImportFailure, OSError) as error:
                self.stderr.write(f"  {path}: {error}")
                failed += 1
                continue
            for entry in entries:
                if isinstance(entry, ImportFailure):
                    self.stderr.write(f"  {path}: {entry}")
                    failed += 1
                elif entry.slug in seen_slugs:
                    self.stderr.write(f"  {path}: duplicate slug {entry.slug!r} (also in {seen_slugs[entry.slug]})")
                    failed += 1
                else:
                    seen_slugs[entry.slug] = str(path)
                    article_upsert(data=entry, status=options["status"])
                    imported += 1
        self.stdout.write(f"imported {imported} article(s), {failed} failed; indexing runs in the Celery worker")
        if failed and not imported:
            raise CommandError("nothing was imported")
