"""Human handoff: queues, teams, agent capacity and presence, the Celery escalation workflow."""
