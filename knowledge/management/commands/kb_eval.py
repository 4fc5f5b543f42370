import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from knowledge.evaluation import (
    EvalQuestion,
    Outcome,
    VectorCache,
    abstention_at,
    abstention_curve,
    balanced_threshold,
    choose_threshold,
    embedding_ms,
    in_split,
    leave_one_out,
    parse_questions,
    recall,
    run,
    tuning_split,
)
from knowledge.kb_cache import answer_threshold
from knowledge.models import Article, Chunk, KnowledgeBaseSettings
from knowledge.retrieval_options import BASELINE, DEFAULT_OPTIONS, PLAIN_COVERAGE, RetrievalOptions
from knowledge.selectors import Mode, chunks_from_other_models

# RetrievalOptions fields each lever sets (on) and unsets (off): dataclasses.replace checks the names.
LEVERS: dict[str, dict[str, Any]] = {
    "questions": {"questions": True},
    "glossary": {"glossary": True},
    "glossary forms": {"glossary": True, "glossary_forms": True},
    "forms embedded": {"glossary": True, "glossary_forms": True, "glossary_forms_embedded": True},
    "any-word rrf": {"any_words": True, "fusion": "rrf"},
    "rerank": {"rerank": True},
    "spelling": {"spelling": True},
    "coverage rank": {"coverage_rank": DEFAULT_OPTIONS.coverage_rank},
    "explained words": {
        "explained_word_weight": DEFAULT_OPTIONS.explained_word_weight,
        "coverage_weight": DEFAULT_OPTIONS.coverage_weight,
    },
    "topic reading": {"topic_reading": True},
    "titles": {"titles": True},
    "pieces": {"pieces": True},
    "coverage words": {"coverage_words": DEFAULT_OPTIONS.coverage_words},
    "capped rank": {
        "capped_rank": True,
        "coverage_rank": DEFAULT_OPTIONS.coverage_rank,
        "coverage_words": DEFAULT_OPTIONS.coverage_words,
    },
    "query adapter": {"query_adapter": True},
    "feedback": {"feedback": 3, "feedback_weight": 0.1},
    "product words": {"product_words": True},
    "product reading": {"product_reading": True},
    "soft coverage": {"soft_coverage": True},
    "soft coverage rank": {"soft_coverage": True, "soft_coverage_rank": True},
}
OFF: dict[str, dict[str, Any]] = {
    "questions": {"questions": False},
    "glossary": {"glossary": False},
    "glossary forms": {"glossary_forms": False},
    "forms embedded": {"glossary_forms_embedded": False},
    "any-word rrf": {"any_words": False, "fusion": "weighted"},
    "rerank": {"rerank": False},
    "spelling": {"spelling": False},
    "coverage rank": {"coverage_rank": 0.0},
    "explained words": PLAIN_COVERAGE,
    "topic reading": {"topic_reading": False},
    "titles": {"titles": False},
    "pieces": {"pieces": False},
    "coverage words": {"coverage_words": 0},
    "capped rank": {"capped_rank": False},
    "query adapter": {"query_adapter": False},
    "feedback": {"feedback": 0},
    "product words": {"product_words": False},
    "product reading": {"product_reading": False},
    "soft coverage": {"soft_coverage": False},
    "soft coverage rank": {"soft_coverage": False, "soft_coverage_rank": False},
}


def _toggled(name: str) -> tuple[str, dict[str, Any]]:
    """The default configuration with one lever flipped, and its label."""
    is_on = all(getattr(DEFAULT_OPTIONS, key) == value for key, value in LEVERS[name].items())
    return (f"hybrid -{name}", OFF[name]) if is_on else (f"hybrid +{name}", LEVERS[name])


class Command(BaseCommand):
    help = (
        "Recall@k, MRR and ms per question of retrieval, for dense-only, text-only, the retrieval before the "
        "levers, each lever alone and all levers (hybrid, what the bot uses); with --calibrate, the answer "
        "rate / false-answer rate curve and the chosen threshold (hybrid ±lever: the default with one lever flipped). The file is a list of {question, expected: "
        "[slug, ...]} or {question, slug | null, also?, kind?, split?: dev|test}."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10])
        parser.add_argument("--audience", choices=["anonymous", "verified", "agent"], default="agent")
        parser.add_argument(
            "--text-weight", type=float, action="append", help="weighted-fusion weights to compare (repeatable)"
        )
        parser.add_argument(
            "--levers",
            nargs="*",
            metavar="LEVER",
            help=f"also run each lever alone and the default with each lever flipped; names limit it to those ({', '.join(LEVERS)})",
        )
        parser.add_argument("--json", type=Path, help="also write the results here")
        parser.add_argument(
            "--calibrate", action="store_true", help="print the abstention curve and choose the answer threshold"
        )
        parser.add_argument(
            "--max-false-answer",
            type=float,
            default=0.10,
            help="with --calibrate: the false-answer rate to stay within, on the unanswerable questions or, when there are "
            "none, on the leave-one-out copies",
        )
        parser.add_argument(
            "--apply", action="store_true", help="with --calibrate: store the chosen threshold for this knowledge base"
        )

    def handle(self, *args, **options) -> None:
        if options["apply"] and not options["calibrate"]:
            raise CommandError("--apply stores what --calibrate chooses: give both")
        try:
            questions = parse_questions(json.loads(options["file"].read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from None
        self._warn_unindexed()
        ks = options["k"]
        configs: list[tuple[str, Mode, RetrievalOptions, float | None]] = [
            ("dense", "dense", BASELINE, None),
            ("text", "text", BASELINE, None),
            ("before", "hybrid", BASELINE, None),
        ]
        for weight in options["text_weight"] or []:
            configs.append((f"before w={weight:g}", "hybrid", BASELINE, weight))
        if options["levers"] is not None:
            names = options["levers"] or list(LEVERS)
            unknown = sorted(set(names) - set(LEVERS))
            if unknown:
                raise CommandError(f"unknown lever(s) {', '.join(unknown)}; the levers are {', '.join(LEVERS)}")
            if "titles" in names and not Chunk.objects.filter(kind=Chunk.Kind.TITLE).exists():
                self.stderr.write(
                    "warning: no title rows are indexed, so the titles lever changes nothing; they are written "
                    "while knowledge.indexing.INDEX_TITLES is on (then `manage.py kb_reindex --all`)"
                )
            configs += [(f"+{name}", "hybrid", replace(BASELINE, **LEVERS[name]), None) for name in names]
            configs += [
                (label, "hybrid", replace(DEFAULT_OPTIONS, **change), None) for label, change in map(_toggled, names)
            ]
        configs.append(("hybrid", "hybrid", DEFAULT_OPTIONS, None))

        splits = sorted({q.split for q in questions})
        report: dict = {
            "questions": len(questions),
            "splits": {s or "all": sum(q.split == s for q in questions) for s in splits},
        }
        outcomes: dict[str, list[Outcome]] = {}
        vectors = VectorCache()
        for label, mode, lever_options, weight in configs:
            outcomes[label] = run(
                questions,
                k=max(ks),
                mode=mode,
                options=lever_options,
                audience=options["audience"],
                text_weight=weight,
                vectors=vectors,
            )
        embed_ms = embedding_ms(questions)
        report["embedding_ms_per_question"] = embed_ms
        tune_split = tuning_split(questions)
        tuned = [q for q in questions if tune_split is None or q.split == tune_split]
        # the answer rate / false answers columns need both kinds among the questions a threshold is chosen on
        mixed = any(q.answerable for q in tuned) and any(not q.answerable for q in tuned)
        results: dict = {}
        for split in splits:
            name = split or "all"
            chosen = [q for q in questions if q.split == split]
            answerable = sum(q.answerable for q in chosen)
            self.stdout.write(f"\n{name}: {len(chosen)} questions ({answerable} answerable)")
            table: dict[str, dict[str, Any]] = {}
            for label in outcomes:
                part = [o for o in outcomes[label] if o.question.split == split]
                table[label] = recall(part, ks=ks)
                if mixed:
                    # each configuration's own signal, at the threshold its dev questions (or all) choose
                    tune = in_split(outcomes[label], tune_split)
                    point = abstention_at(
                        part, choose_threshold(tune, max_false_answer_rate=options["max_false_answer"]).threshold
                    )
                    table[label].update({"answer rate": point.answer_rate, "false answers": point.false_answer_rate})
            metrics = list(next(iter(table.values())))
            self.stdout.write(f"{'configuration':<22}" + "".join(f"{m:>14}" for m in metrics))
            for label, values in table.items():
                self.stdout.write(f"{label:<22}" + "".join(f"{values[m]:>14.3f}" for m in metrics))
            kinds = sorted({q.kind for q in chosen if q.answerable})
            if len(kinds) > 1:
                by_kind = {
                    kind: recall(
                        [o for o in outcomes["hybrid"] if o.question.split == split and o.question.kind == kind], ks=[1]
                    )["recall@1"]
                    for kind in kinds
                }
                self.stdout.write(
                    "hybrid recall@1 by kind: " + ", ".join(f"{kind} {v:.3f}" for kind, v in by_kind.items())
                )
                table["hybrid"]["recall@1 by kind"] = by_kind
            results[name] = table
        report["results"] = results if splits != [""] else results["all"]
        self.stdout.write(
            f"\nms/q and p95 ms: the search alone; embedding the question adds {embed_ms:.1f} ms "
            "(text-only mode does not embed)"
        )
        if mixed:
            self.stdout.write(
                f"\nanswer rate / false answers: each configuration's threshold is chosen on "
                f"{_tuned_on(questions, tune_split)} (false answers <= {options['max_false_answer']:.0%})"
                + (" and applied to every split" if len(splits) > 1 else "")
            )
        refused = None
        if options["calibrate"]:
            report["calibration"] = self._calibrate(questions, outcomes["hybrid"], tune_split, options)
            refused = report["calibration"].get("refused")
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))
        if refused:
            raise CommandError(
                f"--calibrate chose no threshold{', nothing stored' if options['apply'] else ''}: {refused}"
            )

    def _calibrate(
        self, questions: list[EvalQuestion], outcomes: list[Outcome], tune_split: str | None, options
    ) -> dict:
        """The curve on the questions a threshold is chosen on (the dev split, else every question) and
        the lowest threshold whose false-answer rate stays within --max-false-answer. Without
        unanswerable questions among them, leave-one-out makes them: each answerable question is also
        asked with its right article left out of the candidates. A result with "refused" stores nothing."""
        current = answer_threshold()
        where = _tuned_on(questions, tune_split)
        tuned = [q for q in questions if tune_split is None or q.split == tune_split]
        by_leave_one_out = all(q.answerable for q in tuned)
        if by_leave_one_out:
            outcomes = leave_one_out(questions, audience=options["audience"])
        tune = in_split(outcomes, tune_split)
        answerable = sum(o.question.answerable for o in tune)
        unanswerable = len(tune) - answerable
        mode = "leave-one-out" if by_leave_one_out else "unanswerable questions"
        result: dict[str, Any] = {
            "threshold": None,
            "max_false_answer": options["max_false_answer"],
            "tuned_on": where,
            "mode": mode,
            "answerable": answerable,
            "unanswerable": unanswerable,
        }
        if by_leave_one_out:
            self.stdout.write(
                f"\nabstention curve by leave-one-out ({where}: {answerable} answerable questions, each also asked "
                f"with its right article left out of the candidates, {unanswerable} such copies counted as "
                "unanswerable; answered = confidence >= threshold)"
            )
        else:
            self.stdout.write(
                f"\nabstention curve ({where}: {answerable} answerable, {unanswerable} unanswerable; "
                "answered = confidence >= threshold)"
            )
        if not answerable:
            return {**result, "refused": f"there is no answerable question to tune on among {where}"}
        if not unanswerable:
            return {
                **result,
                "refused": f"there is no unanswerable question among {where}, and leave-one-out can make none: no "
                "question has a candidate article other than its right one (index more articles, or add "
                'questions with "slug": null)',
            }
        false_label = "false (left out)" if by_leave_one_out else "false answers"
        self.stdout.write(f"{'threshold':>10}{'answer rate':>14}{'answered right':>16}{false_label:>18}")
        for point in abstention_curve(tune):
            if 0.0 < point.answer_rate or point.false_answer_rate > 0.0:
                self.stdout.write(
                    f"{point.threshold:>10.2f}{point.answer_rate:>14.3f}{point.correct_answer_rate:>16.3f}"
                    f"{point.false_answer_rate:>18.3f}"
                )
        chosen = choose_threshold(tune, max_false_answer_rate=options["max_false_answer"])
        if chosen.answer_rate == 0.0:
            return {
                **result,
                "refused": f"the lowest threshold whose false-answer rate on {where} stays within "
                f"{options['max_false_answer']:.0%} is {chosen.threshold:.3f}, which answers none of the "
                f"{answerable} answerable questions",
            }
        threshold = chosen.threshold
        result.update(threshold=threshold, splits={})
        unanswered = "left-out copies" if by_leave_one_out else "unanswerable"
        notes = []
        for split in sorted({q.split for q in questions}):
            point = abstention_at(in_split(outcomes, split), threshold)
            result["splits"][split or "all"] = {
                "answer_rate": point.answer_rate,
                "answered_right": point.correct_answer_rate,
                "false_answer_rate": point.false_answer_rate,
            }
            notes.append(
                f"{split or 'all'}: answers {point.answer_rate:.1%} of answerable ({point.correct_answer_rate:.1%} "
                f"right), {point.false_answer_rate:.1%} of {unanswered}"
            )
        how = " by leave-one-out" if by_leave_one_out else ""
        note = f"chosen{how} on {where} of {options['file'].name}; " + "; ".join(notes)
        self.stdout.write(f"\nthreshold {threshold:.4f}: {note} (now {current.value:.3f}, {current.source})")
        if by_leave_one_out:
            balanced = balanced_threshold(tune)
            result["balanced"] = {
                "threshold": balanced.threshold,
                "answerable_kept": balanced.answerable_kept,
                "unanswerable_refused": balanced.unanswerable_refused,
            }
            self.stdout.write(
                f"balanced threshold (no false-answer target) {balanced.threshold:.3f}: keeps "
                f"{balanced.answerable_kept:.1%} of answerable questions whose right article ranks first, refuses "
                f"{balanced.unanswerable_refused:.1%} when the right article is left out"
            )
        if options["apply"]:
            KnowledgeBaseSettings.objects.update_or_create(
                pk=1,
                defaults={"answer_threshold": threshold, "calibrated_at": timezone.now(), "calibration_note": note},
            )
            self.stdout.write(
                f"stored: retrieval now answers at confidence >= {threshold:.4f} (was {current.value:.3f})"
            )
        return result

    def _warn_unindexed(self) -> None:
        unindexed = Article.objects.filter(status=Article.Status.PUBLISHED).exclude(
            index_state=Article.IndexState.INDEXED
        )
        count = unindexed.count()
        if count:
            self.stderr.write(
                f"warning: {count} published article(s) are not indexed yet ({', '.join(unindexed.values_list('slug', flat=True)[:5])}"
                f"{', …' if count > 5 else ''}); retrieval cannot find them. Index them in this process with "
                "`manage.py kb_reindex` (or import with `kb_import --index`), or start the Celery worker."
            )
        stale = sum(chunks_from_other_models().values())
        if stale:
            self.stderr.write(
                f"warning: {stale} chunks were embedded by another model and are ignored; run `manage.py kb_reindex --all`."
            )


def _tuned_on(questions: list[EvalQuestion], tune_split: str | None) -> str:
    """Which questions a threshold is chosen on, in words."""
    if tune_split is not None:
        return f"{tune_split} questions"
    splits = sorted({q.split for q in questions} - {""})
    return f"all {len(questions)} questions (no dev split" + (f"; splits {', '.join(splits)}" if splits else "") + ")"
