import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from knowledge.importing import ImportFailure, iter_sources, read_articles
from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.services import article_upsert


class Command(BaseCommand):
    help = (
        "Import articles from .md/.txt/.html files, folders of them, http(s) URLs, or JSON lists of "
        "{title, body, slug?, audience?, url?, tags?, questions?} (questions: other ways customers ask what the article "
        "answers). Articles fetched from URLs are imported as drafts for an editor to review and publish. "
        "With --index, articles are indexed in this process (no Celery worker needed)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument(
            "--status",
            choices=Article.Status.values,
            default=Article.Status.PUBLISHED,
            help="status of articles from files (default: published); articles from URLs are always drafts",
        )
        parser.add_argument("--index", action="store_true", help="index the imported articles in this process")

    def handle(self, *args, **options) -> None:
        imported = failed = drafts = 0
        imported_ids: list[int] = []
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
                    progress.write(
                        f"{source}: duplicate slug {entry.slug!r} (also in {seen_slugs[entry.slug]})", file=sys.stderr
                    )
                    failed += 1
                else:
                    seen_slugs[entry.slug] = str(source)
                    # Fetched text is someone else's words: it goes live only after an editor reads it.
                    status = Article.Status.DRAFT if source.is_url else options["status"]
                    imported_ids.append(article_upsert(data=entry, status=status).pk)
                    imported += 1
                    drafts += source.is_url
        progress.close()
        if drafts:
            self.stdout.write(f"{drafts} article(s) from URLs imported as drafts: review and publish them in the admin")
        if options["index"]:
            outcomes: dict[str, int] = {}
            for article_id in tqdm(imported_ids, unit="article", disable=None, file=sys.stderr, leave=False):
                outcome = article_index(article_id=article_id)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            summary = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "nothing to index"
            self.stdout.write(f"imported {imported} article(s), {failed} failed; indexed in this process ({summary})")
        else:
            self.stdout.write(
                f"imported {imported} article(s), {failed} failed; indexing runs in the Celery worker "
                "(no worker running? index them here with `manage.py kb_reindex`, or import with --index)"
            )
        if failed and not imported:
            raise CommandError("nothing was imported")
