"""The demo host page: a fake company site that embeds the widget exactly as a customer would.

A visitor may "sign in" as one of the demo shop's customers: like a real host site, this page
signs the user id and an expiry server-side with the site's identity secret and hands only the signature to
the widget. Anonymous is the default.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static

from conversations.lib.identity import identity_expiry_default, identity_signature
from conversations.models import WidgetSite
from demoshop.models import ShopCustomer


def demo_host_page(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_MODE:
        raise Http404("Demo mode is off")
    widget_src = request.build_absolute_uri(static("conversations/widget.js"))
    customers = list(ShopCustomer.objects.order_by("external_id").values("external_id", "name"))
    signed_in = next((c for c in customers if c["external_id"] == request.GET.get("as")), None)
    signature, expires = "", 0
    if signed_in:
        site = WidgetSite.objects.filter(key=settings.DEMO_SITE_KEY).first()
        if site is None:
            signed_in = None
        else:
            expires = identity_expiry_default()
            signature = identity_signature(
                secret=site.identity_secret, user_id=signed_in["external_id"], expires=expires
            )
    return render(
        request,
        "demo/host.html",
        {
            "widget_src": widget_src,
            "site_key": settings.DEMO_SITE_KEY,
            "customers": customers,
            "signed_in": signed_in,
            "signature": signature,
            "expires": expires,
        },
    )
