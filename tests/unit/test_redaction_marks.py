"""The inbox shows vault placeholders as labelled marks (conversations/templatetags/redaction_marks.py)
without letting anything around them become markup."""

from __future__ import annotations

from django.template import Context, Template
from django.utils.safestring import mark_safe

from conversations.templatetags.redaction_marks import _LABELS
from guardrails.pii.engine import REDACTED_TYPES


def render(text: str) -> str:
    return Template("{% load redaction_marks %}{{ text|redaction_marks|linebreaksbr }}").render(Context({"text": text}))


def test_a_placeholder_becomes_a_labelled_mark_saying_the_value_is_hidden():
    html = render("Send it to <STREET_ADDRESS_2>, I'm <PERSON_1>")
    assert html == (
        'Send it to <span class="pii-mark" title="&lt;STREET_ADDRESS_2&gt; hidden, kept encrypted in the vault">'
        "address 2</span>, I&#x27;m "
        '<span class="pii-mark" title="&lt;PERSON_1&gt; hidden, kept encrypted in the vault">name 1</span>'
    )


def test_only_the_kinds_redaction_writes_are_marked_and_each_has_a_label():
    assert render("<ORDER_1> <MEDICAL_LICENSE_3>") == "&lt;ORDER_1&gt; &lt;MEDICAL_LICENSE_3&gt;"
    assert set(_LABELS) == set(REDACTED_TYPES)


def test_markup_around_and_inside_placeholders_stays_escaped():
    html = render('<img src=x onerror=alert(1)> <EMAIL_ADDRESS_1"><script>alert(1)</script>\nnext')
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;EMAIL_ADDRESS_1&quot;&gt;&lt;script&gt;" in html  # not a placeholder: left as escaped text
    assert html.endswith("<br>next")


def test_text_is_escaped_even_where_autoescape_is_off_and_safe_text_is_left_alone():
    off = Template("{% load redaction_marks %}{% autoescape off %}{{ text|redaction_marks }}{% endautoescape %}")
    html = off.render(Context({"text": "<b>hi</b> <PHONE_NUMBER_1>"}))
    assert html.startswith('&lt;b&gt;hi&lt;/b&gt; <span class="pii-mark"') and html.endswith(">phone 1</span>")
    assert render(mark_safe("<em>ok</em>")) == "<em>ok</em>"
