"""Typed, strict readers for environment variables.

Every reader names the variable in its error, so a bad value stops startup with a message a
deployer can act on ("DEBUG: expected one of true/false/1/0/yes/no/on/off, got 'ture'").
django-environ parses database URLs; its own casts are too lenient for us (any unknown string
is a silent False for booleans, and its int errors do not name the variable), hence these wrappers.
"""

from __future__ import annotations

import builtins
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    # The readers are named after the types they return, and inside this class body those names
    # are the methods, so signatures below the first of them spell the types builtins.X.
    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._source = os.environ if source is None else source

    def raw(self, name: str) -> str | None:
        value = self._source.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    @overload
    def str(self, name: builtins.str, default: builtins.str) -> builtins.str: ...
    @overload
    def str(self, name: builtins.str, default: None = None) -> builtins.str | None: ...
    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self.raw(name)
        return default if value is None else value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}: expected one of true/false/1/0/yes/no/on/off, got {value!r}")

    def int(
        self,
        name: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: expected an integer, got {value!r}") from None
        self._check_range(name, number, minimum, maximum)
        return number

    def float(
        self,
        name: builtins.str,
        default: builtins.float,
        *,
        minimum: builtins.float | None = None,
        maximum: builtins.float | None = None,
    ) -> builtins.float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: expected a number, got {value!r}") from None
        self._check_range(name, number, minimum, maximum)
        return number

    def list(self, name: builtins.str, default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: builtins.str, default: builtins.str, choices: builtins.list[builtins.str]) -> builtins.str:
        value = self.raw(name) or default
        if value not in choices:
            raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    def path(self, name: builtins.str, default: Path) -> Path:
        value = self.raw(name)
        return (Path(value) if value else default).expanduser().resolve()

    def database(self, name: builtins.str) -> dict[builtins.str, Any]:
        value = self.raw(name)
        if value is None:
            raise ImproperlyConfigured(f"{name} is not set")
        try:
            config = environ.Env.db_url_config(value)
        except Exception as error:  # django-environ raises several types for malformed URLs
            raise ImproperlyConfigured(f"{name}: cannot parse database URL ({error})") from None
        if config.get("ENGINE") != "django.db.backends.postgresql":
            raise ImproperlyConfigured(
                f"{name}: supportbot needs PostgreSQL with pgvector "
                f"(postgres:// or postgresql:// URL), got scheme {urlparse(value).scheme!r}"
            )
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name}: the URL names no database")
        return config

    def redis_url(self, name: builtins.str) -> builtins.str:
        value = self.raw(name)
        if value is None:
            raise ImproperlyConfigured(f"{name} is not set")
        scheme = urlparse(value).scheme
        if scheme not in {"redis", "rediss", "unix"}:
            raise ImproperlyConfigured(f"{name}: expected a redis://, rediss:// or unix:// URL, got scheme {scheme!r}")
        return value

    def regex(self, name: builtins.str, default: builtins.str) -> builtins.str:
        value = self.raw(name) or default
        try:
            re.compile(value)
        except re.error as error:
            raise ImproperlyConfigured(f"{name}: invalid regular expression {value!r}: {error}") from None
        return value

    def regex_list(self, name: builtins.str, default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        """A JSON array of regular expressions (commas are common inside regexes, so not a CSV)."""
        value = self.raw(name)
        if value is None:
            return list(default)
        try:
            patterns = json.loads(value)
        except json.JSONDecodeError:
            raise ImproperlyConfigured(f"{name}: expected a JSON array of regular expressions") from None
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ImproperlyConfigured(f"{name}: expected a JSON array of regular expressions")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ImproperlyConfigured(f"{name}: invalid regular expression {pattern!r}: {error}") from None
        return patterns

    def http_url(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.raw(name)
        if value is None:
            return default
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ImproperlyConfigured(f"{name}: expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    def prices(
        self, name: builtins.str, default: builtins.str = ""
    ) -> dict[builtins.str, tuple[builtins.float, builtins.float]]:
        """`model=input_per_million/output_per_million,...` (USD per million tokens)."""
        value = self.raw(name) or default
        table: dict[str, tuple[float, float]] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            model, _, rates = item.partition("=")
            prompt_rate, _, completion_rate = rates.partition("/")
            try:
                table[model.strip()] = (float(prompt_rate), float(completion_rate))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}: expected model=input/output prices per million tokens, got {item!r}"
                ) from None
            if not model.strip():
                raise ImproperlyConfigured(f"{name}: a price entry names no model: {item!r}")
        return table

    @staticmethod
    def _check_range(
        name: builtins.str, number: builtins.float, minimum: builtins.float | None, maximum: builtins.float | None
    ) -> None:
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}: must be >= {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}: must be <= {maximum}, got {number}")


def celery_broker_url(redis_url: str) -> str:
    """Celery (kombu) spells a unix-socket Redis URL as redis+socket://, redis-py as unix://."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url
