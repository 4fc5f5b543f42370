"""The content-gap report in the admin, through the Django test client as a staff user: what it
lists, how it groups paraphrases, who may see it, and its two actions (a prefilled draft article;
an alternative question on an existing article, re-indexed by a real Celery worker)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from conversations.chat.messages import message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import customer_message_post
from conversations.models import Message, MessageFeedback
from knowledge.indexing import article_index
from knowledge.models import Article, ArticleQuestion
from knowledge.services import article_save
from supportbot.celery import app as celery_app
from tests.conftest import ORIGIN, start_celery_worker, stop

pytestmark = pytest.mark.django_db

REPORT = "/admin/conversations/contentgap/"
ADD_QUESTION = "/admin/conversations/contentgap/add-question/"
MARK_HANDLED = "/admin/conversations/contentgap/mark-handled/"
DONT_KNOW = "I'm sorry, I don't know the answer to that."


def _turn(site, question: str, *, answered: bool, rating: str | None = None, comment: str = "") -> Message:
    """A conversation where the customer asked `question` and the bot replied."""
    conversation = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
    customer_message_post(conversation_id=conversation.pk, text=question, client_id=uuid.uuid4())
    reply = message_post(
        conversation_id=conversation.pk,
        role=Message.Role.BOT,
        text="Here's what our help center says" if answered else DONT_KNOW,
        extras={"answered": answered},
    ).message
    if rating:
        MessageFeedback.objects.create(conversation=conversation, message=reply, rating=rating, comment=comment)
    return reply


def _grant(user, *codenames: str):
    for codename in codenames:
        app_label, codename = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def editor(charlie):
    """Charlie, staff, allowed to read the report and to write knowledge."""
    return _grant(charlie, "conversations.view_contentgap", "knowledge.add_article", "knowledge.add_articlequestion")


def _gap_rows(page: str) -> list[dict]:
    rows = []
    for row in re.findall(r'<tr class="gap">(.*?)</tr>', page, flags=re.S):
        rows.append(
            {
                "question": unescape(
                    re.search(r'<strong class="gap-question">(.*?)</strong>', row, flags=re.S).group(1)
                ),
                "wordings": [unescape(w) for w in re.findall(r'<li class="gap-wording">(.*?)</li>', row)],
                "count": int(re.search(r'<td class="gap-count">(\d+)</td>', row).group(1)),
                "row": row,
            }
        )
    return rows


def test_it_groups_two_paraphrases_of_an_unanswered_question_and_keeps_other_questions_apart(client, site, editor):
    first = _turn(site, "Do you sell gift cards?", answered=False)
    second = _turn(site, "Can I buy a gift card?", answered=False)
    _turn(site, "Can I pay with PayPal?", answered=True, rating="down", comment="It talked about cards only")
    _turn(site, "How long does shipping take?", answered=True)  # answered, not rated down: no gap
    _turn(site, "What is your return policy?", answered=True, rating="up")  # rated helpful: no gap

    client.force_login(editor)
    response = client.get(REPORT)
    assert response.status_code == 200
    page = response.content.decode()
    rows = _gap_rows(page)
    assert [(r["count"], r["question"]) for r in rows] == [(2, "Can I buy a gift card?"), (1, "Can I pay with PayPal?")]
    assert rows[0]["wordings"] == ["Do you sell gift cards?"]
    for reply in (first, second):  # example conversations link to the admin and the inbox
        assert f"/admin/conversations/conversation/{reply.conversation_id}/change/" in rows[0]["row"]
        assert f"/inbox/c/{reply.conversation.public_id}/" in rows[0]["row"]
    assert "It talked about cards only" in rows[1]["row"]
    assert "How long does shipping take?" not in page and "What is your return policy?" not in page


def test_it_lists_only_redacted_text_and_escapes_it(client, site, editor):
    _turn(site, "Can I send <script>alert(1)</script> gifts to jo.smith@example.com?", answered=False)
    client.force_login(editor)
    page = client.get(REPORT).content.decode()
    [row] = _gap_rows(page)
    assert "jo.smith@example.com" not in page and "<EMAIL_ADDRESS_1>" in row["question"]
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_needs_the_view_permission_and_each_action_its_knowledge_permission(client, site, charlie, bob):
    _turn(site, "Do you sell gift cards?", answered=False)
    client.force_login(charlie)  # staff without any permission
    assert client.get(REPORT).status_code == 403
    assert REPORT not in client.get("/admin/").content.decode()
    assert client.post(ADD_QUESTION, {"article": "1", "text": "x"}).status_code == 403

    # Support agents get no admin model permissions by default (their work is the inbox).
    client.force_login(bob)
    assert client.get(REPORT).status_code == 403
    assert client.post(ADD_QUESTION, {"article": "1", "text": "x"}).status_code == 403

    client.logout()
    assert client.get(REPORT).status_code == 302  # to the admin login
    client.force_login(_grant(charlie, "conversations.view_contentgap"))
    assert REPORT in client.get("/admin/").content.decode()
    page = client.get(REPORT).content.decode()
    assert [r["question"] for r in _gap_rows(page)] == ["Do you sell gift cards?"]
    assert "Create an article from this" not in page and ADD_QUESTION not in page  # no knowledge permission
    assert client.post(ADD_QUESTION, {"article": "1", "text": "x"}).status_code == 403


def test_create_an_article_opens_the_add_form_prefilled_as_a_draft(client, site, editor):
    _turn(site, "Do you sell gift cards?", answered=False)
    _turn(site, "Can I buy a gift card?", answered=False)
    client.force_login(editor)
    [row] = _gap_rows(client.get(REPORT).content.decode())
    link = unescape(re.search(r'<a class="button" href="([^"]+)">Create an article from this</a>', row["row"]).group(1))
    url = urlparse(link)
    assert url.path == "/admin/knowledge/article/add/"
    params = parse_qs(url.query)
    assert params["title"] == ["Can I buy a gift card?"] and params["status"] == ["draft"]
    assert "- Do you sell gift cards?" in params["body"][0]

    form = client.get(link).content.decode()
    assert 'value="Can I buy a gift card?"' in form
    assert re.search(r'<option value="draft" selected>', form)
    assert "- Do you sell gift cards?" in unescape(form)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_add_as_an_alternative_question_stores_it_and_a_worker_reindexes_the_article(client, site, editor, tmp_path):
    _turn(site, "Do you sell gift cards?", answered=False)
    article = article_save(
        article=Article(
            slug="gift-cards",
            title="Gift cards",
            status="published",
            body="# Gift cards\n\nGift cards come in 25, 50 and 100 USD.",
        )
    )
    assert article_index(article_id=article.pk) == "indexed"
    indexed_at = Article.objects.get(pk=article.pk).indexed_at

    client.force_login(editor)
    page = client.get(REPORT).content.decode()
    assert f'<option value="{article.pk}">Gift cards</option>' in page
    celery_app.control.purge()
    worker = start_celery_worker(tmp_path / "worker.log", name="gap-reindex")
    try:
        response = client.post(
            ADD_QUESTION, {"article": str(article.pk), "text": "Do you sell gift cards?", "days": "30"}
        )
        assert response.status_code == 302 and response["Location"] == f"{REPORT}?days=30"
        assert list(ArticleQuestion.objects.filter(article=article).values_list("text", flat=True)) == [
            "Do you sell gift cards?"
        ]
        deadline = time.monotonic() + 90
        while True:
            current = Article.objects.get(pk=article.pk)
            if current.index_state == "indexed" and current.indexed_at > indexed_at:
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
    finally:
        stop(worker)
    # The same question again adds nothing.
    client.post(ADD_QUESTION, {"article": str(article.pk), "text": "  Do you sell   gift cards? "})
    assert ArticleQuestion.objects.filter(article=article).count() == 1


def test_a_bad_alternative_question_is_refused_with_a_message_and_stores_nothing(client, site, editor):
    article = Article.objects.create(slug="gift-cards", title="Gift cards", body="Gift cards.", status="draft")
    client.force_login(editor)
    for data in (
        {"article": str(article.pk), "text": "   "},
        {"article": str(article.pk), "text": "x" * 501},
        {"article": "", "text": "Do you sell gift cards?"},
    ):
        response = client.post(ADD_QUESTION, data, follow=True)
        assert response.status_code == 200
        assert any(m.level_tag == "error" for m in response.context["messages"])
    assert client.post(ADD_QUESTION, {"article": "999999", "text": "Do you sell gift cards?"}).status_code == 404
    assert not ArticleQuestion.objects.exists()


def _replies(row: dict) -> str:
    return re.search(r'name="replies" value="([\d,]+)"', row["row"]).group(1)


def test_mark_as_handled_takes_a_gap_off_the_report_until_customers_ask_it_again(client, site, editor):
    first = _turn(site, "Do you sell gift cards?", answered=False)
    second = _turn(site, "Can I buy a gift card?", answered=False)
    _turn(site, "Can I pay with PayPal?", answered=False)
    client.force_login(_grant(editor, "conversations.change_contentgap"))
    rows = _gap_rows(client.get(REPORT).content.decode())
    [gift] = [r for r in rows if "gift" in r["question"]]
    assert sorted(int(pk) for pk in _replies(gift).split(",")) == sorted([first.pk, second.pk])

    response = client.post(MARK_HANDLED, {"replies": _replies(gift), "days": "30"})
    assert response.status_code == 302 and response["Location"] == f"{REPORT}?days=30"
    assert [r["question"] for r in _gap_rows(client.get(REPORT).content.decode())] == ["Can I pay with PayPal?"]

    _turn(site, "do you have gift cards", answered=False)  # asked again after it was handled
    rows = _gap_rows(client.get(REPORT).content.decode())
    assert sorted((r["question"], r["count"]) for r in rows) == [
        ("Can I pay with PayPal?", 1),
        ("do you have gift cards", 1),
    ]


def test_marking_handled_needs_the_change_permission_and_ignores_what_is_no_bot_reply(client, site, editor):
    reply = _turn(site, "Do you sell gift cards?", answered=False)
    client.force_login(editor)  # may read the report, not change it
    page = client.get(REPORT).content.decode()
    assert MARK_HANDLED not in page
    assert client.post(MARK_HANDLED, {"replies": str(reply.pk)}).status_code == 403
    customer_message = Message.objects.get(conversation_id=reply.conversation_id, role=Message.Role.CUSTOMER)
    client.force_login(_grant(editor, "conversations.change_contentgap"))
    client.post(MARK_HANDLED, {"replies": f"{customer_message.pk},abc,"})
    assert [r["question"] for r in _gap_rows(client.get(REPORT).content.decode())] == ["Do you sell gift cards?"]


def test_adding_the_question_to_a_published_article_takes_its_gap_off_the_report_a_draft_does_not(client, site, editor):
    _turn(site, "Do you sell gift cards?", answered=False)
    draft = Article.objects.create(slug="gift-cards-draft", title="Gift cards (draft)", body="Gift cards.")
    client.force_login(editor)
    [row] = _gap_rows(client.get(REPORT).content.decode())
    response = client.post(
        ADD_QUESTION, {"article": str(draft.pk), "text": row["question"], "replies": _replies(row)}, follow=True
    )
    assert any("the gap stays listed" in str(m) for m in response.context["messages"])
    assert len(_gap_rows(client.get(REPORT).content.decode())) == 1  # the bot still cannot answer it

    published = Article.objects.create(slug="gift-cards", title="Gift cards", body="Gift cards.", status="published")
    client.post(ADD_QUESTION, {"article": str(published.pk), "text": row["question"], "replies": _replies(row)})
    assert ArticleQuestion.objects.filter(article=published, text="Do you sell gift cards?").exists()
    assert _gap_rows(client.get(REPORT).content.decode()) == []


def test_a_gap_marked_in_the_7_day_view_stays_off_the_longer_views(client, site, editor):
    older = _turn(site, "Do you sell gift cards?", answered=False)
    Message.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=20))
    _turn(site, "Can I buy a gift card?", answered=False)
    client.force_login(_grant(editor, "conversations.change_contentgap"))
    [row] = _gap_rows(client.get(REPORT, {"days": 7}).content.decode())
    assert row["count"] == 1
    client.post(MARK_HANDLED, {"replies": _replies(row), "days": "7"})
    assert _gap_rows(client.get(REPORT, {"days": 90}).content.decode()) == []
