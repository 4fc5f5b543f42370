"""Transport: the agent's side: the htmx inbox views, the supervisor pages and exports, and the
inbox websocket consumer. Thin: authenticate, scope to the agent, call services, render fragments.
Never imports the widget (its sibling)."""
