"""ASGI entry point: HTTP goes to Django, websockets to the chat and inbox consumers."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
# Django must be set up before the routing module imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from conversations.routing import websocket_urlpatterns  # noqa: E402
from supportbot.warmup import models_preload  # noqa: E402

models_preload()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# Everything imported and loaded so far (Django, spaCy, the SDKs, the preloaded models: ~300,000
# tracked objects) lives as long as the process. Frozen, it is left out of every collection: a full
# collection walked it all, 0.2-0.3 s with the GIL held, stalling every socket of the process
# (docs/performance.md, "the latency tail").
gc.freeze()
