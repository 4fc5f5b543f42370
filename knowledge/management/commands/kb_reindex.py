import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.selectors import chunks_from_other_models


class Command(BaseCommand):
    help = "Index articles in this process: those not indexed yet (pending or failed), or --all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="re-index every article")

    def handle(self, *args, **options) -> None:
        stale = chunks_from_other_models()
        if stale and not options["all"]:
            described = ", ".join(f"{n} by {model}" for model, n in stale.items())
            self.stderr.write(
                f"{sum(stale.values())} chunks were embedded by another model ({described}); retrieval ignores "
                "them. Run `manage.py kb_reindex --all` to re-embed them with the configured model."
            )
        articles = (
            Article.objects.all() if options["all"] else Article.objects.exclude(index_state=Article.IndexState.INDEXED)
        )
        ids = list(articles.order_by("pk").values_list("pk", flat=True))
        outcomes: dict[str, int] = {}
        # The bar goes to stderr and only on a terminal (disable=None); the summary line is always printed.
        for article_id in tqdm(ids, unit="article", disable=None, file=sys.stderr, leave=False):
            outcome = article_index(article_id=article_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if not ids:
            self.stdout.write("nothing to index")
        else:
            self.stdout.write(f"{len(ids)} article(s): {', '.join(f'{k}: {v}' for k, v in sorted(outcomes.items()))}")
