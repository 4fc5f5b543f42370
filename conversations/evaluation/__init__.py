"""Conversation tests (`manage.py bot_eval`): scripted customers played through the whole app's
websocket, so this sits above the transports."""
