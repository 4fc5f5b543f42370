"""What `make run` starts: the shared web listener and the command line of every child.

The supervisor binds the web port once and hands the listening socket to each Daphne process
(`--fd`): the kernel spreads new connections over whichever processes are accepting, so all of
them serve one port without a balancer in between, and a process that dies (or restarts) leaves
the port open for the others. The scale-out test builds its hosts from these same functions.
"""

from __future__ import annotations

import socket
import sys

from supportbot.runtime.supervisor import Child

ASGI_APPLICATION = "supportbot.asgi:application"


def web_listener_open(*, host: str, port: int) -> socket.socket:
    """Bind and listen once, in the supervisor; children inherit the descriptor."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind(address)
        listener.listen(socket.SOMAXCONN)
    except OSError:
        listener.close()
        raise
    return listener


def web_children(*, listener: socket.socket, count: int, python: str = sys.executable) -> list[Child]:
    """`count` Daphne processes named web-1..web-N, each accepting on the shared listener."""
    fd = listener.fileno()
    if listener.family == socket.AF_INET6:
        # Daphne's --fd assumes IPv4; Twisted's endpoint string can say the family.
        endpoint = ["-e", f"fd:fileno={fd}:domain=INET6"]
    else:
        endpoint = ["--fd", str(fd)]
    return [
        Child(f"web-{n}", [python, "-m", "daphne", *endpoint, ASGI_APPLICATION], pass_fds=(fd,))
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
