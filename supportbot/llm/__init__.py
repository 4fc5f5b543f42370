"""The LLM gateway: the only package that imports `openai`.

Everything that talks to a model endpoint (chat completions for the bot, embeddings when
EMBEDDING_PROVIDER=openai) goes through here, so timeouts, retries, fallbacks and usage records
live in one place and tests replace the endpoint at the protocol level only.
"""
