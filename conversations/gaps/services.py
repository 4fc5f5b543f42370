"""The report's writes: closing a gap by teaching an existing article another way to be asked, and
marking a gap's replies as handled so that it leaves the report."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from conversations.gaps.clustering import gaps_group
from conversations.gaps.selectors import REPORT_WINDOWS, gap_questions
from conversations.models import GapReplyHandled
from knowledge.models import Article, ArticleQuestion
from knowledge.tasks import index_article


def _question_max_chars() -> int:
    """The column's length, so a too-long question gets a clear error instead of a database error."""
    max_length = ArticleQuestion._meta.get_field("text").max_length
    if max_length is None:
        raise ImproperlyConfigured("ArticleQuestion.text has no max_length to check questions against")
    return max_length


QUESTION_MAX_CHARS = _question_max_chars()


class GapActionError(ValueError):
    """A question that cannot be added as asked (empty or too long)."""


def article_question_add(*, article: Article, text: str) -> tuple[ArticleQuestion, bool]:
    """Add `text` as an alternative question of `article` and re-index the article after commit,
    so that retrieval finds it by this wording. Adding the same question twice changes nothing
    (and does not re-index). Returns the question and whether it was created."""
    text = " ".join(text.split())
    if not text:
        raise GapActionError("the question is empty")
    if len(text) > QUESTION_MAX_CHARS:
        raise GapActionError(f"the question is longer than {QUESTION_MAX_CHARS} characters")
    with transaction.atomic():
        question, created = ArticleQuestion.objects.get_or_create(article=article, text=text)
        if created and article.is_retrievable:
            Article.objects.filter(pk=article.pk).update(index_state=Article.IndexState.PENDING)
            transaction.on_commit(lambda: index_article.delay(article.pk))
    return question, created


def gap_replies_handle(*, reply_ids: list[int], how: str, user: object = None) -> int:
    """Mark the groups these bot replies belong to as handled: every reply of each group (grouped
    over the report's longest window, so that a group marked in the 7-day view does not come back
    in the 90-day one) leaves the report. Ids that are no reply on the report are ignored. Returns
    how many replies were marked."""
    posted = set(reply_ids)
    if not posted:
        return 0
    groups = gaps_group(questions=gap_questions(days=max(REPORT_WINDOWS)))
    replies = [pk for gap in groups if posted & set(gap.reply_ids) for pk in gap.reply_ids]
    handled_by = user if isinstance(user, get_user_model()) else None
    created = GapReplyHandled.objects.bulk_create(
        [GapReplyHandled(reply_id=pk, how=how, handled_by=handled_by) for pk in replies], ignore_conflicts=True
    )
    return len(created)


def gap_close_with_question(
    *, article: Article, text: str, reply_ids: list[int], user: object = None
) -> tuple[bool, bool]:
    """Add the gap's question to `article` (`article_question_add`) and, when the article is
    published (the bot can answer it now), take the gap's group off the report. Returns whether
    the question was created and whether the gap was closed."""
    _, created = article_question_add(article=article, text=text)
    if not article.is_retrievable:
        return created, False  # a draft answers no one yet: the gap stays listed
    gap_replies_handle(reply_ids=reply_ids, how=GapReplyHandled.How.QUESTION_ADDED, user=user)
    return created, True
