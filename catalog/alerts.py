"""Alerts to the Catalog team: one open alert per kind and subject."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import CatalogAlert
from core.actors import Actor, actor_user

logger = logging.getLogger("catalog.alerts")


def alert_raise(*, kind: str, subject: str, message: str) -> CatalogAlert:
    """Open an alert, or refresh the open one about the same thing."""
    now = timezone.now()
    for _ in range(2):
        alert = CatalogAlert.objects.filter(kind=kind, subject=subject, resolved_at=None).first()
        if alert is not None:
            alert.message = message
            alert.last_seen_at = now
            alert.save(update_fields=["message", "last_seen_at"])
            return alert
        try:
            with transaction.atomic():
                alert = CatalogAlert.objects.create(
                    kind=kind, subject=subject, message=message, last_seen_at=now
                )
        except IntegrityError:
            continue  # raised concurrently: refresh that one
        logger.warning("catalog alert %s %s: %s", kind, subject, message)
        return alert
    raise RuntimeError("alert_raise: could not open or find the alert")


def alert_clear(*, kind: str, subject: str, actor: Actor) -> int:
    """Resolve the open alert about ``subject`` (when what it reported went away)."""
    return CatalogAlert.objects.filter(kind=kind, subject=subject, resolved_at=None).update(
        resolved_at=timezone.now(), resolved_by=actor_user(actor)
    )
