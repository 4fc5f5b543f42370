"""Layer 4, chat: the conversation record and its messages: opening, language, rating, widget
sessions, access checks, feedback, attachments, transcripts, what a verification unlocked.
Layer rule (pyproject.toml, import-linter): imports only from the layers below it: core, models, lib."""
