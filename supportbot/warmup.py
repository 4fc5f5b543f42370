"""Loading the local models (and the URL resolvers) before a process serves traffic.

spaCy (PII redaction) and MiniLM (retrieval, injection detection) take seconds to load; loaded
lazily, the first customer of every process would wait for them. With model workers
(PII_REDACTION_PROCESSES > 0) MiniLM loads in them, not here (supportbot/llm/workers.py). Daphne calls this while importing
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
    from guardrails.pii.pool import model_workers_start, model_workers_warm

    # One BLAS thread (spaCy's and the classifiers' numpy): a web process serves many small
    # requests concurrently; OpenBLAS's default (a thread per core, spin-waiting) burns CPU the
    # other turns need. The MiniLM encoder sets its own onnxruntime threads (one).
    threadpool_limits(limits=settings.WEB_TORCH_THREADS, user_api="blas")
    started = time.monotonic()
    # spaCy stays here too: agent replies, notes and tool texts are redacted in-process.
    get_detector().detect("warm up, Jane Doe, 12 Main Street")
    pool = model_workers_start()
    if pool is not None:
        model_workers_warm(pool)  # each worker loads spaCy and MiniLM
    # With workers, this embeds there: MiniLM is never loaded in this process (about 100 MB less).
    get_injection_detector().check("warm up")
    from conversations.bot.understanding.intent import get_intent_classifier

    get_intent_classifier()
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
