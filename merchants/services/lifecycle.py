"""A merchant from application to offboarding: created with its onboarding checklist,
the checklist ticked and reopened, its status moved, its details and portal brand edited.

Status changes are compare-and-swap updates (``filter(status=old).update(status=new)``): two
staff members acting at once cannot both move the same merchant from the same status.
"""

from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from merchants import locks
from merchants.exceptions import OnboardingIncomplete
from merchants.models import (
    MERCHANT_TRANSITIONS,
    ChecklistItem,
    Merchant,
    MerchantAPIKey,
    MerchantBrand,
    MerchantEvent,
    MerchantStatus,
    OnboardingChecklistItem,
    Store,
)
from merchants.selectors import api_key_cache_invalidate, checklist_missing
from merchants.services.api_keys import api_key_revoke
from merchants.services.history import merchant_event_record


@transaction.atomic
def merchant_create(
    *,
    name: str,
    slug: str,
    country: str,
    default_currency: str,
    legal_name: str = "",
    timezone_name: str = "UTC",
    contact_email: str = "",
    actor: Actor,
) -> Merchant:
    """A new merchant in ``applied`` status, with its onboarding checklist all open."""
    merchant = Merchant(
        name=name,
        slug=slug,
        country=country,
        default_currency=default_currency,
        legal_name=legal_name,
        timezone=timezone_name,
        contact_email=contact_email,
    )
    merchant.full_clean()
    merchant.save()
    OnboardingChecklistItem.objects.bulk_create(
        OnboardingChecklistItem(merchant=merchant, item=item) for item in ChecklistItem.values
    )
    merchant_event_record(merchant=merchant, kind=MerchantEvent.Kind.CREATED, actor=actor)
    return merchant


def merchant_transition(
    *, merchant: Merchant, to_status: str, reason: str, actor: Actor
) -> Merchant:
    """Move a merchant to ``to_status`` if the move is allowed; the only way status changes.

    Going live needs the whole onboarding checklist. Offboarding revokes every API key and
    deactivates every store, so nothing keeps talking to the API on the merchant's behalf.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the status changes.", field="reason")
    if to_status not in MerchantStatus.values:
        raise InvalidTransition(f"Unknown status {to_status!r}.", field="to_status")
    with transaction.atomic():
        current = Merchant.objects.get(pk=merchant.pk)
        from_status = current.status
        if to_status not in MERCHANT_TRANSITIONS[from_status]:
            raise InvalidTransition(
                f"A merchant cannot move from {from_status} to {to_status}.",
                field="to_status",
                from_status=from_status,
                to_status=to_status,
            )
        if to_status == MerchantStatus.LIVE:
            missing = checklist_missing(merchant=current)
            if missing:
                raise OnboardingIncomplete(
                    "Complete the onboarding checklist first: " + ", ".join(missing) + ".",
                    missing=missing,
                )
        now = timezone.now()
        moved = Merchant.objects.filter(pk=merchant.pk, status=from_status).update(
            status=to_status, status_changed_at=now, updated_at=now
        )
        if not moved:
            raise InvalidTransition("The merchant's status changed meanwhile; try again.")
        merchant_event_record(
            merchant=current,
            kind=MerchantEvent.Kind.STATUS_CHANGED,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
        )
        if to_status == MerchantStatus.OFFBOARDED:
            for key in MerchantAPIKey.objects.filter(merchant=current, revoked=False):
                api_key_revoke(api_key=key, reason="merchant offboarded", actor=actor)
            Store.objects.filter(merchant=current).update(is_active=False)
        # The API reads the merchant's status from its keys' cached verification: every
        # process verifies them again on their next request (now, and once committed, as
        # a revocation does), so a suspension stops the API at once.
        prefixes = list(
            MerchantAPIKey.objects.filter(merchant=current, revoked=False).values_list(
                "prefix", flat=True
            )
        )
        for prefix in prefixes:
            api_key_cache_invalidate(prefix=prefix)
        transaction.on_commit(
            lambda: [api_key_cache_invalidate(prefix=prefix) for prefix in prefixes]
        )
    merchant.status = to_status
    merchant.status_changed_at = now
    return merchant


@transaction.atomic
def checklist_item_complete(
    *, merchant: Merchant, item: str, note: str = "", actor: Actor
) -> OnboardingChecklistItem:
    """Tick a checklist item. Ticking a ticked item changes nothing."""
    if item not in ChecklistItem.values:
        raise DomainError(f"Unknown checklist item {item!r}.", field="item")
    row, _ = locks.checklist_item_lock_or_create(merchant=merchant, item=item)
    if row.done:
        return row
    row.completed_at = timezone.now()
    row.completed_by = actor_user(actor)
    row.note = note[:500]
    row.save(update_fields=["completed_at", "completed_by", "note"])
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.CHECKLIST_COMPLETED,
        checklist_item=item,
        reason=note,
        actor=actor,
    )
    return row


@transaction.atomic
def checklist_item_reopen(
    *, merchant: Merchant, item: str, reason: str, actor: Actor
) -> OnboardingChecklistItem:
    if item not in ChecklistItem.values:
        raise DomainError(f"Unknown checklist item {item!r}.", field="item")
    if not (reason or "").strip():
        raise ReasonRequired("Say why the item is reopened.", field="reason")
    row = locks.checklist_item_lock(merchant=merchant, item=item)
    if not row.done:
        return row
    row.completed_at = None
    row.completed_by = None
    row.save(update_fields=["completed_at", "completed_by"])
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.CHECKLIST_REOPENED,
        checklist_item=item,
        reason=reason.strip(),
        actor=actor,
    )
    return row


@transaction.atomic
def merchant_update(*, merchant: Merchant, changed: list[str], actor: Actor) -> Merchant:
    """Save staff's edit of the merchant's details (``merchant`` carries the new values,
    ``changed`` names the fields edited), with an event naming them. The status is never
    among them: it moves through ``merchant_transition`` only."""
    if "status" in changed:
        raise InvalidTransition("The status moves through its transitions.", field="status")
    merchant.save()
    if changed:
        merchant_event_record(
            merchant=merchant,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            actor=actor,
            reason="Changed: " + ", ".join(changed),
        )
    return merchant


@transaction.atomic
def merchant_brand_save(*, brand: MerchantBrand, changed: list[str], actor: Actor) -> MerchantBrand:
    """Save the merchant's portal brand (colour, logo), with an event naming what changed."""
    brand.full_clean()
    brand.save()
    if changed:
        merchant_event_record(
            merchant=brand.merchant,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            actor=actor,
            reason="Brand changed: " + ", ".join(changed),
        )
    return brand
