"""The inbox shows vault placeholders as labelled marks (conversations/templatetags/redaction_marks.py)
without letting anything around them become markup."""

from __future__ import annotations

from django.template import Context, Template


def render(text: str) -> str:
    return Template("{% load redaction_marks %}{{ text|redaction_marks|linebreaksbr }}").render(Context({"text": text}))


def test_a_placeholder_becomes_a_labelled_mark_saying_the_value_is_hidden():
    html = render("Send it to <STREET_ADDRESS_2>, I'm <PERSON_1>")
    assert html == (
        'Send it to <span class="pii-mark" title="STREET_ADDRESS 2: hidden, kept encrypted in the vault">address 2</span>'
        ', I&#x27;m <span class="pii-mark" title="PERSON 1: hidden, kept encrypted in the vault">name 1</span>'
    )


def test_an_unknown_kind_is_labelled_by_its_name():
    assert '">medical license 3</span>' in render("<MEDICAL_LICENSE_3>")


def test_markup_around_and_inside_placeholders_stays_escaped():
    html = render('<img src=x onerror=alert(1)> <EMAIL_ADDRESS_1"><script>alert(1)</script>\nnext')
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;EMAIL_ADDRESS_1&quot;&gt;&lt;script&gt;" in html  # not a placeholder: left as escaped text
    assert html.endswith("<br>next")
