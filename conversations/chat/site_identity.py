"""Rotating a widget site's identity secret.

The new secret is returned once, to be shown once; it is never logged. The secret it replaces keeps
verifying signatures for IDENTITY_SECRET_GRACE_HOURS, so host pages already rendered (and host
servers not yet redeployed) keep working while the host site switches to the new one.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from conversations.models import WidgetSite

logger = logging.getLogger(__name__)

ROTATE_PERMISSION = "conversations.rotate_identity_secret"


def site_identity_secret_rotate(*, site_id: int, actor: Any) -> str:
    """Replace the site's identity secret with a new random one and return it."""
    if not actor.has_perm(ROTATE_PERMISSION):
        raise PermissionDenied("rotating an identity secret needs the rotate_identity_secret permission")
    new_secret = secrets.token_hex(32)
    with transaction.atomic():
        site = WidgetSite.objects.select_for_update().get(pk=site_id)
        site.previous_identity_secret = site.identity_secret
        grace = timedelta(hours=settings.IDENTITY_SECRET_GRACE_HOURS)
        site.previous_identity_secret_valid_until = timezone.now() + grace
        site.identity_secret = new_secret
        site.save(update_fields=["identity_secret", "previous_identity_secret", "previous_identity_secret_valid_until"])
    logger.info("identity secret of site %s rotated by user %s", site.key, actor.pk)
    return new_secret
