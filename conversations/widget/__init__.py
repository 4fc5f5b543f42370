"""Transport: the customer's side: the widget's HTTP endpoints, its upload and file views, and its
websocket consumer. Thin: authenticate, validate shape, call services and flows, forward events.
Never imports the inbox (its sibling)."""
