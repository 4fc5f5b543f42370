"""The demo host page: a fake company site that embeds the widget exactly as a customer would."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static


def demo_host_page(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_MODE:
        raise Http404("Demo mode is off")
    widget_src = request.build_absolute_uri(static("conversations/widget.js"))
    return render(request, "demo/host.html", {"widget_src": widget_src, "site_key": settings.DEMO_SITE_KEY})
