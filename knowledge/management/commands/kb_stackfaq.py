"""Convert the StackExchange FAQ dev set into an article file for kb_import and a question file for kb_eval."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "stackfaq.json -> ARTICLES.json (kb_import) and QUESTIONS.json (kb_eval): threads become articles, paraphrases questions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", type=Path)
        parser.add_argument("articles", type=Path)
        parser.add_argument("questions", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            pairs = json.loads(options["source"].read_text(encoding="utf-8"))["root"]["qapair"]
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise CommandError(f"{options['source']}: not a stackfaq file ({error})") from None
        articles, questions = [], []
        for n, pair in enumerate(pairs):
            slug = f"stackfaq-{n:03d}"
            articles.append(
                {"title": pair["question"], "slug": slug, "body": "\n\n".join(pair["answer"]), "tags": ["stackfaq"]}
            )
            questions += [
                {"question": q, "expected": [slug]}
                for q in pair["rephr"]
                if isinstance(q, str) and q.strip() not in ("", "*")
            ]
        options["articles"].write_text(json.dumps(articles, indent=1))
        options["questions"].write_text(json.dumps(questions, indent=1))
        self.stdout.write(f"{len(articles)} articles, {len(questions)} questions")
