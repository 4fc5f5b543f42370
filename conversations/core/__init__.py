"""Layer 3, core: what every use case shares: the wire protocol (it never queries), the event
publisher, the message store, the commerce API client, who counts as a support agent, running
services from async code, the socket base class and the channel layer's recovery.
Layer rule (pyproject.toml, import-linter): imports only from the layers below it: models, lib."""
