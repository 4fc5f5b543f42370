"""What `make run` starts: the shared web listener and the command line of every child.

The supervisor binds the web port and holds it (a bound socket that does not listen), and gives
each Daphne process a listening socket of its own on that port (`SO_REUSEPORT`, `--fd`): the kernel
spreads new connections evenly over the processes' sockets, by a hash of each connection's
addresses, so all of them serve one port without a balancer in between. One socket shared by all
the processes (as before 2026-12-02) went to whichever accepted first, and Twisted accepts up to
100 connections per wake-up: in a burst of connections one process took most of them (68/232 of
300 sockets seen; docs/performance.md, "the connection burst"). A process's socket is opened
afresh at each (re)start and lives only in that process, so when it dies the kernel stops sending
it connections and the others take them all; the supervisor's bound socket keeps the port meanwhile.
The scale-out test builds its hosts from these same functions.
"""

from __future__ import annotations

import socket
import sys

from supportbot.runtime.supervisor import Child

ASGI_APPLICATION = "supportbot.asgi:application"


def _port_socket(family: int, kind: int, proto: int, address: tuple) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def web_listener_open(*, host: str, port: int) -> socket.socket:
    """Bind the web port once, in the supervisor, without listening: it holds the port (port 0
    picks one) for the web processes' own listening sockets (`web_children`), whatever happens to
    them. Bind errors (a port in use) surface here, before anything starts."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    # First without SO_REUSEPORT: a port another run already serves (same user, SO_REUSEPORT too)
    # must stop this one with "address in use", not quietly share the connections with it.
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(address)
        address = probe.getsockname()
    return _port_socket(family, kind, proto, address)


def web_children(*, listener: socket.socket, count: int, python: str = sys.executable) -> list[Child]:
    """`count` Daphne processes named web-1..web-N, each listening on a socket of its own on the
    port `listener` holds (opened at each start, `{fd}` in the command line)."""
    if listener.family == socket.AF_INET6:
        # Daphne's --fd assumes IPv4; Twisted's endpoint string can say the family.
        endpoint = ["-e", "fd:fileno={fd}:domain=INET6"]
    else:
        endpoint = ["--fd", "{fd}"]

    def listening() -> socket.socket:
        sock = _port_socket(listener.family, listener.type, listener.proto, listener.getsockname())
        try:
            sock.listen(socket.SOMAXCONN)
        except OSError:
            sock.close()
            raise
        return sock

    return [
        Child(f"web-{n}", [python, "-m", "daphne", *endpoint, ASGI_APPLICATION], listen=listening)
        for n in range(1, count + 1)
    ]


def worker_child(
    *, name: str = "worker", concurrency: int = 2, python: str = sys.executable, extra: list[str] | None = None
) -> Child:
    return Child(
        name,
        [
            python,
            "-m",
            "celery",
            "-A",
            "supportbot",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            *(extra or []),
        ],
    )


def beat_child(*, python: str = sys.executable) -> Child:
    return Child("beat", [python, "-m", "celery", "-A", "supportbot", "beat", "--loglevel", "INFO"])
