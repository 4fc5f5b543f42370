"""Layer 1, lib: pure helpers with no models and no database: business hours, signed tokens and
identity, attachment file checks and signed links, language negotiation and detection, the widget's
texts, token buckets. Layer rule (pyproject.toml, import-linter): imports only from the layers below it (none)."""
