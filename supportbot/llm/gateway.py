"""Chat completions from any OpenAI-compatible endpoint, streamed, with tool calls.

Resilience, in order: the SDK's own bounded retries (LLM_MAX_RETRIES, for connection errors,
429 and 5xx before the stream starts) under a per-attempt timeout (LLM_TIMEOUT_SECONDS); then one
try on LLM_FALLBACK_MODEL; then the caller's offline responder. A circuit breaker counts
consecutive failures per process: after LLM_CIRCUIT_FAILURES it stays open for
LLM_CIRCUIT_COOLDOWN_SECONDS and calls fail at once, so a dead endpoint costs customers nothing
but the first failures.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import aiohttp
import httpx
import openai
from django.conf import settings
from httpx_aiohttp import AiohttpTransport
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from openai._constants import DEFAULT_CONNECTION_LIMITS

# Imported with this module, not at the first call: `openai.types` is ~740 modules (about 2 s of
# CPU), and imported lazily it ran on the event loop of every web process's first bot turn,
# stalling every socket of that process meanwhile (docs/performance.md, "the latency tail").
from openai.types.chat import ChatCompletion

from supportbot.runtime.trace import trace_mark


class ModelUnavailable(Exception):
    """The model endpoint could not answer (after retries and the fallback), or the circuit is open."""


@dataclass
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # raw JSON text from the model; validated by the tool layer


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCallRequest]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: float | None = None
    total_ms: float = 0.0
    cost_usd: float = 0.0


class CircuitBreaker:
    def __init__(self, *, failures: int, cooldown_seconds: float) -> None:
        self.failures_to_open = failures
        self.cooldown = cooldown_seconds
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if time.monotonic() - self._opened_at >= self.cooldown:
                self._opened_at = None  # half-open: let one call try
                self._failures = self.failures_to_open - 1
                return True
            return False

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures, self._opened_at = 0, None
            else:
                self._failures += 1
                if self._failures >= self.failures_to_open:
                    self._opened_at = time.monotonic()


def model_configured() -> bool:
    return bool(settings.LLM_BASE_URL)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    prompt_rate, completion_rate = settings.LLM_PRICES.get(model, (0.0, 0.0))
    return (prompt_tokens * prompt_rate + completion_tokens * completion_rate) / 1_000_000


def _http_client() -> Any:
    """The SDK's aiohttp client (`openai[aiohttp]`): the same client interface, so the SDK's
    retries, timeouts and error mapping stay, at less CPU per streamed completion than httpx
    (docs/performance.md), with the transport below."""

    class Transport(AiohttpTransport):
        """httpx-aiohttp 0.2 maps every aiohttp connection error (refused, reset, DNS) to
        httpx.ConnectTimeout, which the SDK reports as APITimeoutError: a model endpoint that is
        down would be recorded as a slow one. Only aiohttp's timeouts stay timeouts here (the same
        gap was found in the SDK's vendored copy, openai-python#3594). Hand-written: no release
        fixes it."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectTimeout as error:
                cause = error.__cause__
                if cause is None or isinstance(cause, aiohttp.ServerTimeoutError):
                    raise
                raise httpx.ConnectError(str(error), request=request) from cause

    # A transport passed in replaces the one the client would build from its own limits.
    return DefaultAioHttpClient(transport=Transport(limits=DEFAULT_CONNECTION_LIMITS))


class LlmGateway:
    def __init__(self) -> None:
        self.client = AsyncOpenAI(
            base_url=settings.LLM_BASE_URL,
            api_key=settings.LLM_API_KEY or "unused",
            timeout=settings.LLM_TIMEOUT_SECONDS,
            max_retries=settings.LLM_MAX_RETRIES,
            http_client=_http_client(),
        )
        self.breaker = _breaker()
        self.closer: asyncio.Task[None] | None = None  # holds the task that closes the client (get_gateway)

    async def stream_chat(
        self,
        *,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        on_text: Callable[[str], Awaitable[None]],
    ) -> ChatResult:
        """Stream one completion; `on_text` gets each text piece as it arrives. Raises
        ModelUnavailable when neither the model nor the fallback answered."""
        if not self.breaker.allow():
            raise ModelUnavailable("circuit open: the model endpoint failed repeatedly")
        attempts: list[dict[str, Any]] = []
        models = [settings.LLM_MODEL] + ([settings.LLM_FALLBACK_MODEL] if settings.LLM_FALLBACK_MODEL else [])
        for model in models:
            streamed_any = False

            async def forward(piece: str) -> None:
                nonlocal streamed_any
                streamed_any = True
                await on_text(piece)

            try:
                result = await self._stream_once(model=model, messages=messages, tools=tools, on_text=forward)
            except (openai.APIError, TimeoutError) as error:
                attempts.append({"model": model, "error": type(error).__name__})
                if streamed_any:
                    # Text already reached the customer: switching models now would repeat it.
                    break
                continue
            self.breaker.record(True)
            return result
        self.breaker.record(False)
        raise ModelUnavailable(", ".join(f"{a['model']}: {a['error']}" for a in attempts))

    async def _stream_once(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        on_text: Callable[[str], Awaitable[None]],
    ) -> ChatResult:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            kwargs["tools"] = tools
        # The SDK's low-level post: the same retries, timeouts, error mapping and SSE parsing as
        # `chat.completions.create`, without its recursive re-validation of the request body
        # (~8 ms of event-loop CPU per call for our prompt and tool schemas, measured), and with
        # each chunk left as the parsed JSON dict: building a pydantic model per streamed token
        # cost more than everything else this loop does.
        trace_mark("model_request")
        stream = await self.client.post(
            "/chat/completions", body=kwargs, cast_to=ChatCompletion, stream=True, stream_cls=AsyncStream[object]
        )
        text_parts: list[str] = []
        calls: dict[int, ToolCallRequest] = {}
        ttft = None
        prompt_tokens = completion_tokens = 0
        trace_mark("model_response")
        async for raw_chunk in stream:
            # AsyncStream[object] hands over each chunk as the parsed JSON object, unvalidated (above).
            chunk = cast(dict[str, Any], raw_chunk)
            usage = chunk.get("usage")
            if usage:
                prompt_tokens, completion_tokens = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if content:
                    if ttft is None:
                        ttft = (time.perf_counter() - started) * 1000
                        trace_mark("model_first_chunk")
                    text_parts.append(content)
                    await on_text(content)
                for call in delta.get("tool_calls") or ():
                    if ttft is None:
                        ttft = (time.perf_counter() - started) * 1000
                    slot = calls.setdefault(call.get("index", 0), ToolCallRequest(id="", name="", arguments=""))
                    if call.get("id"):
                        slot.id = call["id"]
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot.name += function["name"]
                    if function.get("arguments"):
                        slot.arguments += function["arguments"]
        total = (time.perf_counter() - started) * 1000
        trace_mark("model_done")
        return ChatResult(
            text="".join(text_parts),
            tool_calls=[calls[i] for i in sorted(calls)],
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_ms=ttft,
            total_ms=total,
            cost_usd=cost_usd(model, prompt_tokens, completion_tokens),
        )


@lru_cache(maxsize=1)
def _breaker() -> CircuitBreaker:
    # One per process, shared by every event loop in it.
    return CircuitBreaker(
        failures=settings.LLM_CIRCUIT_FAILURES, cooldown_seconds=settings.LLM_CIRCUIT_COOLDOWN_SECONDS
    )


_gateways: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LlmGateway] = weakref.WeakKeyDictionary()


def get_gateway() -> LlmGateway:
    """The gateway of the running event loop: the SDK's HTTP connection pool belongs to one loop
    (Daphne has one; the Celery recovery task runs each turn in a fresh one)."""
    loop = asyncio.get_running_loop()
    gateway = _gateways.get(loop)
    if gateway is None:
        gateway = _gateways[loop] = LlmGateway()
        gateway.closer = loop.create_task(_close_with_loop(gateway))
    return gateway


async def _close_with_loop(gateway: LlmGateway) -> None:
    """Close the gateway's HTTP client when its event loop ends: `asyncio.run` cancels every task
    before it closes the loop (the Celery tasks run a turn or a summary that way). aiohttp logs an
    error for every session it finds unclosed; httpx did not."""
    try:
        await asyncio.get_running_loop().create_future()  # never set: waits for the cancellation
    finally:
        await gateway.client.close()
