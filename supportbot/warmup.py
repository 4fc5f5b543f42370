"""Loading the local models (and the URL resolvers) before a process serves traffic.

spaCy (PII redaction) and MiniLM (retrieval, injection detection) take seconds to load; loaded
lazily, the first customer of every process would wait for them. Daphne calls this while importing
the ASGI application, before it listens, so /healthz answers only once the process is ready.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)


def models_preload() -> None:
    if not settings.PRELOAD_MODELS:
        return
    from threadpoolctl import threadpool_limits

    from guardrails.injection.detector import get_injection_detector
    from guardrails.pii.engine import get_detector

    # One BLAS thread (the numpy MiniLM's matmuls): a web process embeds one short question at a
    # time, many concurrently; OpenBLAS's default (a thread per core, spin-waiting) burns CPU the
    # other turns need.
    threadpool_limits(limits=settings.WEB_TORCH_THREADS, user_api="blas")
    started = time.monotonic()
    get_detector().detect("warm up, Jane Doe, 12 Main Street")
    from guardrails.redaction import redaction_pool_start

    pool = redaction_pool_start()
    if pool is not None:
        pool.warm()
    get_injection_detector().check("warm up")
    from conversations.lib.language_detection import language_detect

    language_detect(text="warm up the language model")  # py3langid: about a second
    _url_resolvers_preload()
    logger.info("models loaded in %.1f s", time.monotonic() - started)


def _url_resolvers_preload() -> None:
    """Django builds its URL resolver once per active language, on the first reverse(): a bot turn
    (citations link to help pages and the admin) runs in the customer's language, so the first
    turn in each language of every process paid it (about 0.1 s for the first, 30 ms each next)."""
    from django.urls import reverse
    from django.utils import translation

    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            reverse("help-article", args=["warm-up"])
            reverse("admin:knowledge_article_change", args=[1])
