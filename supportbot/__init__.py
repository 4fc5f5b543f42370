"""supportbot: the Django project package.

The Celery app is imported here so that `shared_task`s bind to it in every process (web,
worker, tests), not to Celery's unconfigured default app.
"""

from supportbot.celery import app as celery_app

__all__ = ["celery_app"]
