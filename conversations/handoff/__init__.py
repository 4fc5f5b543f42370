"""Human handoff: queues, teams, agent capacity and presence, the Celery escalation workflow.

Layer 5, handoff: takes a conversation from the bot to a person and back; resolving lives here
because it ends ownership. Imports only from chat, core, models, lib.
"""
