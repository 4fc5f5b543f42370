"""Plays scripted conversations through the real chat protocol: a widget session opened by the
same service the HTTP endpoint uses, then the chat socket's consumer (in this process, on the
configured channel layer, database and Redis) and whatever responder the app is configured with:
the offline responder, or the model endpoint. Each bot reply is checked against the turn's
expectations.

In-process rather than over a TCP socket so that `bot_eval` needs no running server; the frames
are the ones a widget receives.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from conversations.bot.turn import REFUSAL
from conversations.chat.widget_sessions import SignedUser, widget_session_open
from conversations.evaluation.scenarios import Scenario, slots_fill
from conversations.handoff.resolution import resolve_if
from conversations.lib.identity import identity_expiry_default, identity_signature
from conversations.models import Conversation, Customer, Message, WidgetSite

REPLY_TIMEOUT_SECONDS = 45.0
# After the reply, frames that follow it (the status change of a handoff) get this long to arrive.
_SETTLE_SECONDS = 0.3


@dataclass
class TurnResult:
    conversation: str
    turn: int
    said: str
    reply: str = ""
    citations: list[str] = field(default_factory=list)
    action: dict[str, Any] | None = None
    handoff_reason: str = ""
    failures: list[str] = field(default_factory=list)
    ms: float = 0.0
    judge: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass(frozen=True)
class ShopFacts:
    """Order numbers and emails for filling scenario slots, and article titles -> slugs."""

    orders: dict[tuple[str, str], str]
    emails: dict[str, str]
    slugs_by_title: dict[str, str]


class _Socket:
    def __init__(self, *, path: str, origin: str, client_ip: str) -> None:
        from supportbot.asgi import application

        self.comm = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])
        self.comm.scope["client"] = (client_ip, 40000)
        self.frames: list[dict[str, Any]] = []

    async def _frame(self, deadline: float) -> dict[str, Any] | None:
        """The next frame before `deadline`, or None. Polls with receive_nothing: a timed-out
        receive would cancel the application under test (asgiref's communicator does that)."""
        while time.monotonic() < deadline:
            if not await self.comm.receive_nothing(timeout=min(0.1, max(0.01, deadline - time.monotonic()))):
                frame = await self.comm.receive_json_from(timeout=5)
                self.frames.append(frame)
                return frame
        return None

    async def next_message(self, *, after_seq: int, roles: tuple[str, ...]) -> dict[str, Any] | None:
        deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
        while (frame := await self._frame(deadline)) is not None:
            if frame.get("type") == "message" and frame.get("role") in roles and frame.get("seq", 0) > after_seq:
                return frame
        return None

    async def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while await self._frame(deadline) is not None:
            pass


async def scenario_play(
    scenario: Scenario,
    *,
    site: WidgetSite,
    facts: ShopFacts,
    client_ip: str,
    judge=None,  # noqa: ANN001 (async (question, reply, cited_titles) -> dict)
    opened: list[int] | None = None,
) -> list[TurnResult]:
    """`opened` collects the id of the conversation this scenario opened, so that the cleanup
    deletes exactly the evaluation's own conversations. A signed-in customer's open conversation
    is never resumed: the scenario fails instead."""
    origin = site.allowed_origins[0]
    user = None
    if scenario.customer:
        expires = identity_expiry_default()
        user = SignedUser(
            id=scenario.customer,
            expires=expires,
            signature=identity_signature(secret=site.identity_secret, user_id=scenario.customer, expires=expires),
        )
    session = await sync_to_async(widget_session_open)(site_key=site.key, origin=origin, user=user, client_ip=client_ip)
    if session.resumed:
        # The signed-in customer has a conversation open on the site (a real one, alongside
        # `make run`): a scripted turn must not write into it, nor the end of play resolve it.
        return [
            TurnResult(
                conversation=scenario.name,
                turn=1,
                said="",
                failures=[
                    f"customer {scenario.customer} has an open conversation on this site: not played, so as "
                    "not to write into it (resolve it first)"
                ],
            )
        ]
    if opened is not None:
        opened.append(session.conversation.pk)
    socket = _Socket(
        path=f"/ws/chat/{session.conversation.public_id}/?token={session.token}", origin=origin, client_ip=client_ip
    )
    connected, close_code = await socket.comm.connect(timeout=30)
    if not connected:
        await sync_to_async(_finish)(session.conversation.pk)
        return [
            TurnResult(
                conversation=scenario.name,
                turn=1,
                said="",
                failures=[f"the chat socket was refused (close code {close_code})"],
            )
        ]
    results: list[TurnResult] = []
    try:
        last_seq, last_action = 0, None
        for n, turn in enumerate(scenario.turns, 1):
            expect = slots_fill(turn.expect, orders=facts.orders, emails=facts.emails)
            said = slots_fill(turn.say, orders=facts.orders, emails=facts.emails) if turn.say else f"[{turn.decide}]"
            result = TurnResult(conversation=scenario.name, turn=n, said=said)
            seq_before = last_seq
            started = time.perf_counter()
            if turn.say is not None:
                await socket.comm.send_json_to({"type": "message", "client_id": str(uuid.uuid4()), "text": said})
            elif last_action is None:
                result.failures.append("no action card to decide on")
                results.append(result)
                continue
            else:
                await socket.comm.send_json_to({"type": "action", "action_id": last_action, "decision": turn.decide})
            reply = await socket.next_message(after_seq=last_seq, roles=("bot",))
            result.ms = round((time.perf_counter() - started) * 1000, 1)
            await socket.drain(_SETTLE_SECONDS)
            if reply is None:
                result.failures.append(f"no bot reply within {REPLY_TIMEOUT_SECONDS:.0f}s")
                results.append(result)
                continue
            last_seq = max(f.get("seq", 0) for f in socket.frames if f.get("type") == "message")
            result.reply = reply["text"]
            result.citations = [
                facts.slugs_by_title.get(c.get("title", ""), c.get("title", "")) for c in reply.get("citations", [])
            ]
            result.action = reply.get("action")
            if result.action and result.action.get("status") == "proposed":
                last_action = result.action["action_id"]
            conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
            if conversation.status in (Conversation.Status.QUEUED, Conversation.Status.HUMAN):
                result.handoff_reason = conversation.handoff_reason
            result.failures = _check(expect, result)
            if judge is not None and turn.say is not None:
                # The judge grades the texts as stored, redacted: `said` and the frame hold the
                # customer's real order numbers and emails, and no raw personal data reaches the model.
                stored = await sync_to_async(_stored_turn)(
                    conversation_id=session.conversation.pk, after_seq=seq_before, reply_seq=reply.get("seq", 0)
                )
                result.judge = (
                    await judge(
                        question=stored[0],
                        reply=stored[1],
                        cited_titles=[c.get("title", "") for c in reply.get("citations", [])],
                    )
                    if stored is not None
                    else {"error": "the turn's stored messages were not found"}
                )
            results.append(result)
    finally:
        await socket.comm.disconnect()
        await sync_to_async(_finish)(session.conversation.pk)
    return results


def _finish(conversation_id: int) -> None:
    """Resolved, so that the next scenario of a signed-in customer starts a conversation of its own
    (an open one would be refused as someone else's)."""
    resolve_if(
        conversation_id=conversation_id,
        agent=None,
        reason=Conversation.ResolutionReason.OTHER,
        text="Evaluation finished.",
    )


def _stored_turn(*, conversation_id: int, after_seq: int, reply_seq: int) -> tuple[str, str] | None:
    """The turn's customer message and bot reply as the database holds them: redacted, with
    placeholders such as <EMAIL_ADDRESS_1> for the personal data the customer typed (the widget's
    frames carry the real values back to the customer only)."""
    messages = Message.objects.filter(conversation_id=conversation_id)
    reply = messages.filter(seq=reply_seq, role=Message.Role.BOT).values_list("text", flat=True).first()
    question = (
        messages.filter(role=Message.Role.CUSTOMER, seq__gt=after_seq, seq__lt=reply_seq)
        .order_by("-seq")
        .values_list("text", flat=True)
        .first()
    )
    return None if reply is None or question is None else (question, reply)


def _check(expect: dict[str, Any], result: TurnResult) -> list[str]:
    failures: list[str] = []
    text = result.reply.lower()
    if "cites" in expect:
        wanted = expect["cites"] if isinstance(expect["cites"], list) else [expect["cites"]]
        if not set(wanted) & set(result.citations):
            failures.append(f"cites {result.citations or 'nothing'}, expected {' or '.join(wanted)}")
    if expect.get("cites_nothing") and result.citations:
        failures.append(f"cites {result.citations}, expected nothing")
    if "asks_to_verify" in expect:
        # "the email address you used" or "that order number and email": a quoted article that
        # says "send your order number and photos ... we email you a label" does not ask for them
        asks = "order number" in text and any(
            words in text for words in ("email address", "order number and email", "the email you used")
        )
        asks = asks and not result.action
        if asks != bool(expect["asks_to_verify"]):
            failures.append("asked to verify" if asks else "did not ask to verify")
    if "proposes" in expect:
        wanted = expect["proposes"]
        card = result.action or {}
        if card.get("tool") != wanted.get("action") and card.get("kind") != wanted.get("action"):
            failures.append(
                f"proposed {card.get('tool') or card.get('kind') or 'nothing'}, expected {wanted.get('action')}"
            )
        elif wanted.get("order") and wanted["order"] not in card.get("summary", ""):
            failures.append(f"proposal is not for {wanted['order']}: {card.get('summary', '')!r}")
    if expect.get("proposes_nothing") and result.action and result.action.get("status") == "proposed":
        failures.append(f"proposed {result.action.get('tool')}, expected nothing")
    if "handoff" in expect and result.handoff_reason != expect["handoff"]:
        failures.append(f"handoff {result.handoff_reason or 'none'}, expected {expect['handoff']}")
    if "refused" in expect and (result.reply == REFUSAL) != bool(expect["refused"]):
        failures.append("was refused" if result.reply == REFUSAL else "was not refused")
    for needle in expect.get("contains", []):
        if needle.lower() not in text:
            failures.append(f"does not contain {needle!r}")
    for needle in expect.get("not_contains", []):
        if needle.lower() in text:
            failures.append(f"contains {needle!r}")
    return failures


def scenario_cleanup(*, site: WidgetSite, conversation_ids: list[int]) -> int:
    """Delete the conversations the evaluation opened (and their anonymous customers), and only
    those: conversations that customers start on the site meanwhile (alongside `make run`) stay."""
    created = Conversation.objects.filter(site=site, pk__in=conversation_ids)
    customers = list(created.values_list("customer_id", flat=True))
    count = created.count()
    created.delete()
    Customer.objects.filter(pk__in=customers, external_id__isnull=True, conversations__isnull=True).delete()
    return count
