"""Layer 7, flows: the use cases that span chat and handoff (a customer's message, an agent's reply,
who may download an attachment). Layer rule (pyproject.toml, import-linter): imports only from the layers below it: bot, handoff, chat, core, models, lib."""
