"""Provider staff viewing a merchant's portal as the merchant: read-only, audited, for
``PORTAL_VIEW_AS_MINUTES`` at most.

A view is a ``PortalViewAs`` row, written when it starts (and a line in the merchant's
history), closed once with how it ended. The staff user's session names the row
(``SESSION_KEY``); the portal resolves its merchant from that row alone, through
``portal_view_as_current``, which re-checks on every request that the row is the user's,
still open, within its time, and that the user still holds the right. The portal refuses
every write while a view is open (``portals.view_as``).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.actors import Actor
from merchants.exceptions import ViewAsNotAllowed
from merchants.models import Merchant, MerchantEvent, PortalViewAs, ViewAsEnd
from merchants.services.history import merchant_event_record

PERMISSION = "merchants.view_portal_as_merchant"
SESSION_KEY = "portal_view_as_id"


def may_view_portal_as(user: object) -> bool:
    """Whether ``user`` may open a merchant's portal as the merchant: active staff with the
    right (Operations and Customer care)."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(PERMISSION)
    )


@transaction.atomic
def portal_view_as_start(*, merchant: Merchant, actor: Actor) -> PortalViewAs:
    """Open a view of ``merchant``'s portal for the staff user ``actor``; a view they still
    had open ends ("replaced"): one at a time."""
    user = actor.user
    if actor.kind != "staff" or user is None or not may_view_portal_as(user):
        raise ViewAsNotAllowed
    now = timezone.now()
    PortalViewAs.objects.filter(staff=user, ended_at__isnull=True).update(
        ended_at=now, end_reason=ViewAsEnd.REPLACED
    )
    view_as = PortalViewAs.objects.create(
        merchant=merchant,
        staff=user,
        staff_label=actor.label,
        started_at=now,
        expires_at=now + timedelta(minutes=settings.PORTAL_VIEW_AS_MINUTES),
    )
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.PORTAL_VIEWED_AS,
        reason=f"Read-only, until {view_as.expires_at:%H:%M} UTC at the latest",
        actor=actor,
    )
    return view_as


def portal_view_as_end(*, view_as: PortalViewAs, reason: str, at: datetime | None = None) -> bool:
    """Close the view once (a second close changes nothing); returns whether this closed it."""
    closed = PortalViewAs.objects.filter(pk=view_as.pk, ended_at__isnull=True).update(
        ended_at=at or timezone.now(), end_reason=reason
    )
    return bool(closed)


def portal_view_as_current(*, pk: object, user: object) -> PortalViewAs | None:
    """The open view ``pk`` of ``user``, or None. A view past its time is closed as expired
    (at the time it lapsed), and one whose user lost the right as revoked."""
    try:
        view_as = (
            PortalViewAs.objects.select_related("merchant")
            .filter(pk=int(pk), staff_id=getattr(user, "pk", None), ended_at__isnull=True)
            .first()
        )
    except (TypeError, ValueError):
        return None
    if view_as is None:
        return None
    if view_as.expires_at <= timezone.now():
        portal_view_as_end(view_as=view_as, reason=ViewAsEnd.EXPIRED, at=view_as.expires_at)
        return None
    if not may_view_portal_as(user):
        portal_view_as_end(view_as=view_as, reason=ViewAsEnd.REVOKED)
        return None
    return view_as


def portal_view_as_download_note(*, view_as: PortalViewAs) -> None:
    """Count a file opened during the view: a read, allowed, and kept in the audit."""
    PortalViewAs.objects.filter(pk=view_as.pk).update(downloads=F("downloads") + 1)
