"""The bot: one turn at a time per conversation, decoupled from the socket (runner.py), through
explicit bounded stages (turn_understanding.py reads the message, turn.py responds), answering
with the model (supportbot.llm) or the offline responder (offline.py, order_replies.py), acting
on the account through tools (tools.py) and confirmed actions (actions.py).

Layer 6, bot: may hand off (imports handoff), never the flows or transports above it.
"""
