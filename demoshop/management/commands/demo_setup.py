from django.conf import settings
from django.core.management.base import BaseCommand

from demoshop.demo_accounts import demo_data_ensure
from demoshop.demo_articles import demo_articles_ensure
from demoshop.seed import demoshop_seed


class Command(BaseCommand):
    help = "Create (or update) the demo widget site, the demo agent/admin accounts and the demo articles. Idempotent."

    def handle(self, *args, **options) -> None:
        origins = [f"http://127.0.0.1:{settings.PORT}", f"http://localhost:{settings.PORT}"]
        demo = demo_data_ensure(origins=origins)
        articles = demo_articles_ensure()
        orders = demoshop_seed()
        self.stdout.write(
            f"demo site key: {demo.site_key}; agent login: {demo.agent_username}; admin login: {demo.admin_username}; "
            f"{articles} new demo article(s) queued for indexing; {orders} demo shop order(s) created"
        )
        if demo.password.created:
            self.stdout.write(f"demo password (shown once; kept in {demo.password.path}): {demo.password.value}")
        else:
            self.stdout.write(f"demo password: in {demo.password.path}")
