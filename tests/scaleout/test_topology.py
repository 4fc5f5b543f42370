"""The documented production topology, run for real: two app hosts (supervisor, two Daphne processes
on a shared port, a Celery worker each), one beat, Postgres and Redis over TCP, HAProxy in front
with deploy/haproxy.cfg and no sticky sessions. Every client talks only to the balancer."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations.handoff.tasks import handoff_assign
from conversations.models import Conversation, Handoff, HandoffEvent, Message, Queue, Team
from supportbot.celery import app as celery_app
from tests.handoff.conftest import online
from tests.scaleout.clients import Agent, Customer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]


def _session_key(user) -> str:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _customer(topology, site) -> Customer:  # noqa: ANN001
    customer = Customer(http=topology.http, ws=topology.ws, site_key=site.key)
    await customer.open()
    return customer


async def _located(topology, customer: Customer) -> int:  # noqa: ANN001
    """Connect the customer and return the pid of the web process holding its socket: the one
    connection into the app hosts that appeared with it and stays."""
    before = {(name, port) for name, host in topology.hosts.items() for port in host.established()}
    await customer.start()
    host = topology.hosts[customer.served_by[-1]]
    await asyncio.sleep(0.3)
    first = host.established()
    # The balancer's health checks (every 2 s, at most 2 s each) also come and go: keep only
    # connections still there after one check period.
    await asyncio.sleep(2.2)
    new = {
        port: pid
        for port, pid in host.established().items()
        if (host.name, port) not in before and first.get(port) == pid
    }
    assert len(set(new.values())) == 1, f"cannot tell which process holds the socket: {new}"
    return next(iter(new.values()))


async def _agent_on_another_host(topology, user, conversation_id: str, *, avoid: str) -> Agent:  # noqa: ANN001
    """Open the agent's inbox through the balancer until it lands on a host other than `avoid`
    (leastconn sends it there first; the loop only guards against a tie)."""
    session_key = await sync_to_async(_session_key)(user)
    for _ in range(6):
        agent = Agent(http=topology.http, ws=topology.ws, session_key=session_key)
        await agent.watch(conversation_id)
        if agent.served_by != avoid:
            return agent
        await agent.close()
    raise AssertionError(f"the balancer sent every inbox socket to {avoid}")


def _stored(conversation_id: str) -> dict[int, str]:
    return dict(Message.objects.filter(conversation__public_id=conversation_id).values_list("seq", "text"))


def _assert_nothing_lost_or_duplicated(customer: Customer) -> None:
    stored = _stored(customer.conversation_id)
    assert sorted(stored) == list(range(1, len(stored) + 1))  # contiguous seqs
    assert customer.transcript == stored  # everything stored reached the client, as stored
    assert not customer.pending  # every message the client sent was acknowledged
    assert all(n == 1 for n in customer.deliveries.values()), customer.deliveries  # no seq twice
    own = list(
        Message.objects.filter(conversation__public_id=customer.conversation_id, client_id__isnull=False).values_list(
            "client_id", flat=True
        )
    )
    assert len(own) == len(set(own)) == len(customer.texts)  # each sent message stored exactly once


async def test_a_customer_and_an_agent_on_different_hosts_see_each_others_messages_live(topology, site, alice):
    customer = await _customer(topology, site)
    customer_pid = await _located(topology, customer)
    agent = await _agent_on_another_host(topology, alice, customer.conversation_id, avoid=customer.served_by[-1])
    try:
        assert customer.served_by[-1] != agent.served_by  # two hosts, hence two processes
        assert topology.host_of_pid(customer_pid).name == customer.served_by[-1]

        await customer.say("Do you ship to Norway?")
        await agent.sees("Do you ship to Norway?")  # customer's host -> Redis -> agent's host

        # Replies are HTTP posts the balancer may send anywhere: reply until one is served by a
        # host other than the customer's, so the reply surely crossed hosts to reach its socket.
        served = []
        for n in range(1, 7):
            served.append(await agent.reply(customer.conversation_id, f"Yes, reply {n}"))
            if served[-1] != customer.served_by[-1]:
                break
        assert served[-1] != customer.served_by[-1], served
        await customer.until(lambda: f"Yes, reply {len(served)}" in customer.transcript.values())
        await customer.until(lambda: not customer.pending)
        await sync_to_async(_assert_nothing_lost_or_duplicated)(customer)
    finally:
        await customer.close()
        await agent.close()


async def test_a_web_process_killed_mid_conversation_loses_and_duplicates_nothing(topology, site, alice):
    customer = await _customer(topology, site)
    customer_pid = await _located(topology, customer)
    host = topology.host_of_pid(customer_pid)
    victim = next(c for c in host.webs if c.process and c.process.pid == customer_pid)
    agent = await _agent_on_another_host(topology, alice, customer.conversation_id, avoid=host.name)
    try:
        await customer.say("My parcel has not arrived")
        await customer.until(lambda: not customer.pending)
        await agent.reply(customer.conversation_id, "Let me check that for you")
        await customer.until(lambda: "Let me check that for you" in customer.transcript.values())

        # In flight when the process dies: stored or not, the client resends it under its client_id.
        await customer.say("It was due on Monday")
        os.kill(customer_pid, signal.SIGKILL)
        # Sent while the customer is reconnecting: resume delivers it.
        await agent.reply(customer.conversation_id, "I see it is delayed at the depot")
        await customer.until(lambda: len(customer.served_by) >= 2 and customer.connected.is_set(), timeout=60)
        await customer.say("Thanks, I will wait")

        await customer.until(lambda: not customer.pending, timeout=60)
        await customer.until(lambda: "I see it is delayed at the depot" in customer.transcript.values())
        for text in ("It was due on Monday", "Thanks, I will wait"):
            await agent.sees(text)
        await sync_to_async(_assert_nothing_lost_or_duplicated)(customer)
        assert sorted(customer.transcript.values()) == sorted(
            [
                "Alice joined the conversation.",
                "My parcel has not arrived",
                "Let me check that for you",
                "It was due on Monday",
                "I see it is delayed at the depot",
                "Thanks, I will wait",
            ]
        )

        # The host's supervisor restarted that one process (under the same name); the customer
        # came back through the balancer meanwhile, to the sibling or the other host.
        deadline = time.monotonic() + 10
        while victim.process.pid == customer_pid and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert victim.process.pid != customer_pid and victim.process.poll() is None
    finally:
        await customer.close()
        await agent.close()


def _support_team(alice, bob) -> Queue:  # noqa: ANN001
    team = Team.objects.create(name="Front line")
    team.members.add(alice, bob)
    queue = Queue.objects.create(name="General", is_default=True)
    queue.teams.add(team)
    for agent in (alice, bob):
        online(agent, capacity=3)
    return queue


ASSIGN_TASK = "conversations.handoff.tasks.handoff_assign"


def _assign_tasks_run() -> dict[str, int]:
    """{worker host name: handoff_assign tasks it has run}, from each worker's own stats."""
    stats = celery_app.control.inspect(timeout=3.0).stats() or {}
    return {name.split("@")[0]: worker.get("total", {}).get(ASSIGN_TASK, 0) for name, worker in stats.items()}


async def test_concurrent_handoffs_are_assigned_exactly_once_by_two_workers(topology, site, alice, bob):
    await sync_to_async(_support_team)(alice, bob)
    before = await asyncio.to_thread(_assign_tasks_run)
    assert set(before) == {"app1", "app2"}
    customers = await asyncio.gather(*(_customer(topology, site) for _ in range(6)))
    await asyncio.gather(*(c.start() for c in customers))
    try:
        await asyncio.gather(*(c.say(f"I need a person about order {n}") for n, c in enumerate(customers)))
        await asyncio.gather(*(c.until(lambda c=c: not c.pending) for c in customers))
        await asyncio.gather(*(c.send({"type": "request_human"}) for c in customers))

        ids = [c.conversation_id for c in customers]
        deadline = time.monotonic() + 30
        handoffs: list[int] = []
        while len(handoffs) < len(ids):
            assert time.monotonic() < deadline, topology.diagnostics()
            await asyncio.sleep(0.1)
            handoffs = await sync_to_async(
                lambda: list(Handoff.objects.filter(conversation__public_id__in=ids).values_list("pk", flat=True))
            )()
        # Race the workers: every handoff gets two more assignment tasks besides its own, which
        # the two workers take concurrently. Exactly one may win each.
        for handoff_id in handoffs:
            handoff_assign.delay(handoff_id)
            handoff_assign.delay(handoff_id)

        def all_assigned() -> bool:
            return Handoff.objects.filter(pk__in=handoffs, assignee__isnull=False).count() == len(handoffs)

        deadline = time.monotonic() + 60
        while not await sync_to_async(all_assigned)():
            assert time.monotonic() < deadline, topology.diagnostics()
            await asyncio.sleep(0.2)
        await asyncio.gather(
            *(
                c.until(lambda c=c: any(t.endswith("joined the conversation.") for t in c.transcript.values()))
                for c in customers
            )
        )
        # Every racing task has run (so any second assignment would be in the database now).
        deadline = time.monotonic() + 30
        while True:
            ran = {name: n - before[name] for name, n in (await asyncio.to_thread(_assign_tasks_run)).items()}
            if sum(ran.values()) >= 3 * len(handoffs):
                break
            assert time.monotonic() < deadline, ran
            await asyncio.sleep(0.3)

        def outcome() -> tuple[list[int], dict[str, int], list[int]]:
            events = [HandoffEvent.objects.filter(handoff_id=h, kind="assigned").count() for h in handoffs]
            loads: dict[str, int] = {}
            for handoff in Handoff.objects.filter(pk__in=handoffs).select_related("assignee"):
                loads[handoff.assignee.username] = loads.get(handoff.assignee.username, 0) + 1
            joined = [
                Message.objects.filter(
                    conversation__public_id=i, role=Message.Role.SYSTEM, text__endswith="joined the conversation."
                ).count()
                for i in ids
            ]
            return events, loads, joined

        events, loads, joined = await sync_to_async(outcome)()
        assert events == [1] * len(handoffs)  # one "assigned" event per handoff
        assert joined == [1] * len(ids)  # one "joined" message per conversation
        assert loads == {"alice": 3, "bob": 3}  # capacity held under concurrent assignment
        statuses = await sync_to_async(lambda: [Conversation.objects.get(public_id=i).status for i in ids])()
        assert statuses == [Conversation.Status.HUMAN] * len(ids)
        assert all(n > 0 for n in ran.values()), ran  # both workers assigned
    finally:
        await asyncio.gather(*(c.close() for c in customers))
