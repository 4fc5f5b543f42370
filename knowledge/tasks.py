"""Celery tasks of the knowledge base: thin wrappers around knowledge.indexing."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from knowledge.indexing import article_index, article_index_failed

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def index_article(article_id: int) -> str:
    try:
        return article_index(article_id=article_id)
    except OperationalError:
        raise  # the database blinked: retried with backoff
    except Exception as error:
        logger.exception("indexing article %s failed", article_id)
        article_index_failed(article_id=article_id, error=f"{type(error).__name__}: {error}")
        return "failed"
