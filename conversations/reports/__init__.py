"""Layer 8, reports: the metrics' definitions, one per figure, over live rows and the daily
aggregates that outlive retention. Layer rule (pyproject.toml, import-linter): imports only from the layers below it."""
