"""Which supported language a widget's language tag means (`de-AT` -> `de`, `pt` -> English)."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

DEFAULT_LANGUAGE = "en"


def supported_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def language_from_tag(tag: object) -> str:
    """The supported language closest to a BCP 47 tag from the page or the browser; English for
    anything else (a missing, malformed or unsupported tag is not an error: the widget still works)."""
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 35:
        return DEFAULT_LANGUAGE
    try:
        return translation.get_supported_language_variant(tag.strip().replace("_", "-").lower())
    except LookupError:
        return DEFAULT_LANGUAGE
