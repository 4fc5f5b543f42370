"""`make run`: migrate, load demo data, then supervise WEB_PROCESSES Daphne processes (sharing one
port, a listening socket each), a Celery worker and Celery beat.

Loading settings here validates every variable (a bad value stops the run before anything
starts, including demo mode on a non-loopback bind) and starts the embedded Postgres/Redis when
their URLs are unset; the children inherit the resulting URLs through the environment.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    try:
        import django

        django.setup()
    except Exception as error:  # ImproperlyConfigured names the variable; show just that
        print(f"[supportbot] cannot start: {error}", file=sys.stderr)
        return 2

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from supportbot.runtime.children import beat_child, web_children, web_listener_open, worker_child
    from supportbot.runtime.supervisor import Supervisor, say

    if settings.EMBEDDED_SERVICES:
        say(f"embedded services started: {', '.join(settings.EMBEDDED_SERVICES)} (data in {settings.DATA_DIR})")
    call_command("migrate", interactive=False, verbosity=0)
    say("database migrated")
    demo_password = demo_prepare(settings, call_command)
    connections.close_all()

    try:
        listener = web_listener_open(host=settings.BIND_HOST, port=settings.PORT)
    except OSError as error:
        print(
            f"[supportbot] cannot start: cannot listen on {settings.BIND_HOST}:{settings.PORT} "
            f"(BIND_HOST/PORT): {error}",
            file=sys.stderr,
        )
        return 2
    children = [*web_children(listener=listener, count=settings.WEB_PROCESSES), worker_child(), beat_child()]
    supervisor = Supervisor(children, env=dict(os.environ))
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    supervisor.start_all()

    base = f"http://127.0.0.1:{settings.PORT}"
    health = wait_for_health(f"{base}/healthz", supervisor)
    if health is not None:
        banner(base, health, settings, demo_password=demo_password)
    try:
        return supervisor.watch()
    finally:
        listener.close()


def demo_prepare(settings, call_command) -> str | None:  # noqa: ANN001 - Django's lazy settings and command runner
    """Seed the demo (demo mode) or disable its logins (demo mode off). Returns the demo password
    only when it was generated just now: it is shown once, then only kept in its 0600 file."""
    from supportbot.runtime.supervisor import say

    if not settings.DEMO_MODE:
        from demoshop.demo_accounts import demo_accounts_disable

        disabled = demo_accounts_disable()
        if disabled:
            say(f"DEMO_MODE is off: disabled the demo logins {', '.join(disabled)}")
        return None
    fresh = not settings.DEMO_PASSWORD_FILE.exists()
    with open(os.devnull, "w") as quiet:
        call_command("demo_setup", verbosity=0, stdout=quiet)
    return settings.DEMO_PASSWORD_FILE.read_text().strip() if fresh else None


def wait_for_health(url: str, supervisor, timeout: float = 90.0) -> dict | None:
    deadline = time.monotonic() + timeout
    last: dict | None = None
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 while the worker is still starting
            last = json.loads(error.read() or b"{}")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    if not supervisor.stopping.is_set():
        print(f"[supportbot] !!! not healthy after {timeout:.0f}s: {last}", flush=True)
        return last
    return None


def banner(base: str, health: dict, settings, *, demo_password: str | None = None) -> None:  # noqa: ANN001
    if demo_password:
        logins = (
            f"  Demo logins: agent, admin · password {demo_password}  "
            f"(shown once; kept in {settings.DEMO_PASSWORD_FILE})"
        )
    else:
        logins = f"  Demo logins: agent, admin · password in {settings.DEMO_PASSWORD_FILE}"
    lines = [
        "",
        "  supportbot is running",
        f"  Demo site with the widget:  {base}/" if settings.DEMO_MODE else "",
        f"  Agent inbox:                {base}/inbox/",
        f"  Admin:                      {base}/admin/",
        f"  Health:                     {base}/healthz  ({health.get('status')})",
        f"  Web processes:              {settings.WEB_PROCESSES} Daphne on port {settings.PORT} (WEB_PROCESSES)",
        logins if settings.DEMO_MODE else "",
        "  Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(line for line in lines if line is not None), flush=True)


if __name__ == "__main__":
    sys.exit(main())
