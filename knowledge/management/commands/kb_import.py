import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from knowledge.importing import ImportFailure, iter_sources, read_articles
from knowledge.models import Article
from knowledge.services import article_upsert


class Command(BaseCommand):
    help = (
        "Import articles from .md/.txt/.html files, folders of them, http(s) URLs, or JSON lists of "
        "{title, body, slug?, audience?, url?, tags?}."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument("--status", choices=Article.Status.values, default=Article.Status.PUBLISHED)

    def handle(self, *args, **options) -> None:
        imported = failed = 0
        seen_slugs: dict[str, str] = {}
        sources = list(iter_sources(options["sources"]))
        if not sources:
            raise CommandError("nothing to import: no .md, .txt, .html or .json files in the given paths")
        # The bar goes to stderr and only on a terminal (disable=None), so piped output stays plain.
        progress = tqdm(sources, unit="file", disable=None, file=sys.stderr, leave=False)
        for source in progress:
            progress.set_postfix_str(str(source)[-40:], refresh=False)
            try:
                entries = read_articles(source)
            except (ImportFailure, OSError) as error:
                progress.write(f"{source}: {error}", file=sys.stderr)
                failed += 1
                continue
            for entry in entries:
                if isinstance(entry, ImportFailure):
                    progress.write(f"{source}: {entry}", file=sys.stderr)
                    failed += 1
                elif entry.slug in seen_slugs:
                    progress.write(f"{source}: duplicate slug {entry.slug!r} (also in {seen_slugs[entry.slug]})", file=sys.stderr)
                    failed += 1
                else:
                    seen_slugs[entry.slug] = str(source)
                    article_upsert(data=entry, status=options["status"])
                    imported += 1
        progress.close()
        self.stdout.write(f"imported {imported} article(s), {failed} failed; indexing runs in the Celery worker")
        if failed and not imported:
            raise CommandError("nothing was imported")
