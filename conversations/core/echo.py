"""A bare echo socket: the transport benchmark's baseline (only routed when BENCHMARK_ECHO_ENDPOINT=true)."""

from channels.generic.websocket import AsyncWebsocketConsumer


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)

    async def layer_reconnected(self, event: dict) -> None:
        return None  # the channel layer's "Redis is back" notice: an echo socket has nothing to catch up
