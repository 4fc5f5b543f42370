"""Where Celery's autodiscovery looks (it imports `<app>.tasks` only): each layer keeps its tasks
next to the services they run, and importing them here registers them with the worker."""

from conversations.bot import tasks as bot_tasks
from conversations.chat import tasks as chat_tasks
from conversations.handoff import idle_tasks
from conversations.handoff import tasks as handoff_tasks
from conversations.privacy import tasks as privacy_tasks

__all__ = ["bot_tasks", "chat_tasks", "handoff_tasks", "idle_tasks", "privacy_tasks"]
