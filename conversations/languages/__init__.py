"""The customer's language: what the widget asks for, what their messages are written in, and the
texts the widget shows in it."""
