"""Signed webhooks: per-site endpoints, an outbox of deliveries, Celery delivery (docs/webhooks.md)."""
