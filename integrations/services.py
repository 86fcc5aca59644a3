"""Platform webhooks in, through the inbox, onto the loyalty services.

``inbox_receive`` stores a verified delivery (once per platform delivery id) and enqueues
its processing on commit; the view answers at once. ``delivery_process`` claims the row
(skipping one another worker holds), reads the payload with the platform's module, and
calls the same services the store API calls: ``member_upsert``, ``order_record``,
``refund_record``, ``member_anonymise``. Every effect is keyed by the platform's own ids
(the order's id is the order's ``external_id``, a refund's id its refund's), so processing
a delivery twice, or an order the store also sent through the API, earns nothing twice.

Outcomes: processed (with what it did), ignored (with why: an order not paid yet, a topic
we do not use, a member already anonymised), failed (with the error; staff can replay it
once the cause is fixed, such as a program that was not active).
"""

import datetime
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from customercare.member_data import member_data_json
from customercare.models import TicketCategory, TicketChannel, TicketPriority
from customercare.services import TicketInput, ticket_open
from integrations import shopify, woocommerce
from integrations.mapping import PayloadError, PlatformOrder, StoreTerms, scaled
from integrations.models import InboxDelivery, InboxStatus
from loyalty.exceptions import IdempotencyConflict, MemberNotActive
from loyalty.models import Member, MemberStatus, NonMemberOrder, Order, Refund
from loyalty.services.members import member_anonymise, member_upsert
from loyalty.services.orders import LineInput, OrderInput, non_member_order_record, order_record
from loyalty.services.refunds import RefundInput, refund_record
from merchants.models import Platform, Store
from merchants.services.stores import store_event_record, store_save

logger = logging.getLogger(__name__)

# The platforms we take webhooks from, with their module.
PLATFORMS = {Platform.SHOPIFY: shopify, Platform.WOOCOMMERCE: woocommerce}
# A delivery still waiting this long after it arrived is enqueued again by the sweeper
# (its on-commit enqueue was lost: a broker outage, a crash between commit and send).
STALE_AFTER = datetime.timedelta(minutes=2)


def store_terms(store: Store) -> StoreTerms:
    return StoreTerms(
        earn_on=store.earn_on,
        tax_earns=store.earn_on_tax,
        shipping_earns=store.earn_on_shipping,
    )


def _actor(store: Store) -> Actor:
    return Actor.system(f"{store.platform} webhook")


# -- receiving ---------------------------------------------------------------------------


def inbox_receive(
    *, store: Store, topic: str, delivery_id: str, headers: dict[str, str], body: str
) -> tuple[InboxDelivery, bool]:
    """Store a verified delivery; returns (delivery, created). A delivery id seen before
    for this store returns the stored row and enqueues nothing. Either way the store is
    alive: its rhythm learns from it (``merchants.silence``)."""
    from integrations import tasks

    store_event_record(store=store)

    delivery = InboxDelivery(
        merchant_id=store.merchant_id,
        store=store,
        platform=store.platform,
        topic=topic,
        delivery_id=delivery_id,
        headers=headers,
        body=body,
    )
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:
        return InboxDelivery.objects.get(store=store, delivery_id=delivery_id), False
    transaction.on_commit(lambda: tasks.process_delivery.delay(delivery.pk))
    return delivery, True


def body_text(body: bytes) -> str | None:
    """The body as stored, when it is a JSON object in UTF-8; None otherwise."""
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_float=Decimal)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        return None
    if not isinstance(payload, dict) or "\x00" in text:
        return None
    return text


# -- processing --------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    text: str
    result: dict[str, Any] = field(default_factory=dict)


def _ignored(text: str, **result: Any) -> Outcome:
    return Outcome(InboxStatus.IGNORED, text, result)


def _claim(delivery_id: int, *, waiting: bool = False) -> InboxDelivery | None:
    rows = InboxDelivery.objects.select_related("store", "merchant").filter(pk=delivery_id)
    if waiting:
        rows = rows.filter(status=InboxStatus.RECEIVED)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def delivery_process(*, delivery_id: int, waiting: bool = False) -> InboxDelivery | None:
    """Process a delivery (again, for a replay); None when another worker holds it or it
    is gone, and with ``waiting`` when it is no longer waiting (a sweep running at the same
    time processed it first). The row stays locked while it is processed, so one worker at
    a time does."""
    with transaction.atomic():
        delivery = _claim(delivery_id, waiting=waiting)
        if delivery is None:
            return None
        try:
            with transaction.atomic():
                outcome = _process(delivery)
        except (DomainError, PayloadError, ValidationError) as error:
            outcome = Outcome(InboxStatus.FAILED, _error_text(error))
        except Exception as error:  # recorded for staff to see and replay
            logger.exception("Inbox delivery %s failed", delivery.pk)
            outcome = Outcome(InboxStatus.FAILED, f"{type(error).__name__}: {error}"[:2000])
        delivery.status = outcome.status
        delivery.outcome = outcome.text
        delivery.result = {**delivery.result, **outcome.result}
        delivery.attempts += 1
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "outcome", "result", "attempts", "processed_at"])
    return delivery


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
    where = getattr(error, "field", None)
    return f"{where}: {error}" if where else str(error)


def _payload(delivery: InboxDelivery) -> dict[str, Any]:
    try:
        payload = json.loads(delivery.body, parse_float=Decimal)
    except ValueError:
        raise PayloadError("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise PayloadError("The body is not a JSON object.")
    return payload


def _process(delivery: InboxDelivery) -> Outcome:
    module = PLATFORMS.get(delivery.platform)
    if module is None or delivery.topic not in module.TOPICS:
        return _ignored(f"The topic {delivery.topic!r} is not one we use.")
    store = delivery.store
    payload = _payload(delivery)
    terms = store_terms(store)
    topic = delivery.topic
    if topic in module.ORDER_TOPICS or topic == "orders/cancelled":
        return _order(store, module.order(payload, terms))
    if topic in ("customers/create", "customers/update", "customer.created", "customer.updated"):
        return _customer(store, module.customer(payload))
    if topic == "refunds/create":
        return _shopify_refund(store, payload, terms)
    if topic == "customers/data_request":
        return _data_request(delivery, payload)
    if topic == "customers/redact":
        return _redact(store, shopify.privacy_customer(payload))
    if topic == "shop/redact":
        return _shop_redact(store)
    return _ignored(f"The topic {topic!r} is not one we use.")  # pragma: no cover


def _customer(store: Store, customer) -> Outcome:
    try:
        member, created = member_upsert(
            merchant=store.merchant, external_id=customer.external_id, fields=customer.fields
        )
    except MemberNotActive:
        return _ignored("The member was anonymised: not updated.", member=customer.external_id)
    verb = "created" if created else "updated"
    return Outcome(InboxStatus.PROCESSED, f"Member {verb}.", {"member": member.external_id})


def _order(store: Store, placed: PlatformOrder) -> Outcome:
    result: dict[str, Any] = {
        "order": placed.external_id,
        "gross": str(placed.gross),
        "earnable": str(placed.earnable),
    }
    merchant = store.merchant
    order = Order.objects.filter(merchant=merchant, external_id=placed.external_id).first()
    notes: list[str] = []
    if order is None and placed.customer is None:
        if not placed.earns:
            return _ignored(f"A non-member order, {placed.status}: not recorded yet.", **result)
        _, created = non_member_order_record(
            merchant=merchant,
            external_id=placed.external_id,
            total=placed.gross,
            currency=placed.currency,
            placed_at=placed.placed_at,
            store=store,
        )
        text = "Non-member order recorded." if created else "Non-member order already recorded."
        return Outcome(InboxStatus.PROCESSED, text, result)
    if order is None:
        if not placed.earns or placed.cancelled:
            wanted = "fulfilled" if store.earn_on == "fulfilled" else "paid"
            return _ignored(f"{placed.status.capitalize()}: earns once {wanted}.", **result)
        order, text = _order_earn(store, placed)
        notes.append(text)
    else:
        notes.append("The order was recorded before.")
    result["member"] = order.member.external_id
    result["refunds"] = []
    for refund in placed.refunds:
        if refund.amount is not None:
            notes.append(_take_back(store, order, refund.external_id, refund.amount, result))
    if placed.cancelled:
        order.refresh_from_db(fields=["refunded_total"])
        notes.append(
            _take_back(
                store,
                order,
                f"{store.platform}-cancel-{placed.external_id}",
                order.total - order.refunded_total,
                result,
            )
        )
    return Outcome(InboxStatus.PROCESSED, " ".join(n for n in notes if n), result)


def _order_earn(store: Store, placed: PlatformOrder) -> tuple[Order, str]:
    assert placed.customer is not None
    data = OrderInput(
        external_id=placed.external_id,
        member_external_id=placed.customer.external_id,
        total=placed.earnable,
        currency=placed.currency,
        placed_at=placed.placed_at,
        lines=tuple(
            LineInput(sku=line.sku, category="", quantity=line.quantity, unit_price=line.unit_price)
            for line in placed.lines
        ),
        store_public_id=str(store.public_id),
        member_fields=placed.customer.fields,
    )
    try:
        recorded = order_record(merchant=store.merchant, data=data, actor=_actor(store))
    except IdempotencyConflict:
        # Sent before under this id with other details (by the store API, or before an
        # edit): it earned then, and earns nothing more now.
        order = Order.objects.get(merchant=store.merchant, external_id=placed.external_id)
        return order, "The order was recorded before."
    except MemberNotActive as error:
        raise DomainError(f"The customer's member is not active ({error}).") from None
    order = recorded.obj
    if recorded.replayed:
        return order, "The order was recorded before."
    return order, f"Earned {order.points_earned} points."


def _take_back(
    store: Store, order: Order, external_id: str, amount: Decimal, result: dict[str, Any]
) -> str:
    """Record a refund of ``amount`` (of what earned) once, by ``external_id``; returns
    what it did, in words."""
    result.setdefault("refunds", []).append(external_id)
    if Refund.objects.filter(merchant=store.merchant, external_id=external_id).exists():
        return f"Refund {external_id} was recorded before."
    order.refresh_from_db(fields=["refunded_total"])
    amount = min(amount, order.total - order.refunded_total)
    if amount <= 0:
        return f"Refund {external_id}: nothing that earned is left to take back."
    try:
        recorded = refund_record(
            merchant=store.merchant,
            order_external_id=order.external_id,
            data=RefundInput(external_id=external_id, amount=amount),
            actor=_actor(store),
        )
    except IdempotencyConflict:
        return f"Refund {external_id} was recorded before."
    refund = recorded.obj
    return (
        f"Refund {external_id} of {amount} {order.currency} took back "
        f"{refund.points_reversed} points."
    )


def _order_gross(store: Store, order_external_id: str) -> tuple[Decimal, Decimal] | None:
    """The platform's gross and earnable totals of an order, as its delivery recorded them."""
    earlier = (
        InboxDelivery.objects.filter(store=store, result__order=order_external_id)
        .exclude(result__gross=None)
        .order_by("id")
        .values_list("result", flat=True)
        .first()
    )
    if not earlier:
        return None
    return Decimal(earlier["gross"]), Decimal(earlier["earnable"])


def _shopify_refund(store: Store, payload: dict[str, Any], terms: StoreTerms) -> Outcome:
    order_id = shopify.refund_order_id(payload)
    result: dict[str, Any] = {"order": order_id}
    order = Order.objects.filter(merchant=store.merchant, external_id=order_id).first()
    if order is None:
        if NonMemberOrder.objects.filter(merchant=store.merchant, external_id=order_id).exists():
            return _ignored("A refund of a non-member order: no points to take back.", **result)
        return _ignored("A refund of an order that earned nothing here.", **result)
    refund = shopify.refund(payload, terms, order.currency)
    amount = refund.amount
    if amount is None:
        totals = _order_gross(store, order_id)
        if totals is None:
            # Only the amount is known, and not how much of the order earned: it is taken
            # as a share of the order's total as recorded.
            amount = refund.gross_amount
        else:
            gross, earnable = totals
            amount = scaled(refund.gross_amount, earnable, gross, order.currency)
    text = _take_back(store, order, refund.external_id, amount, result)
    result["member"] = order.member.external_id
    return Outcome(InboxStatus.PROCESSED, text, result)


def _member(store: Store, external_id: str) -> Member | None:
    return Member.objects.filter(merchant=store.merchant, external_id=external_id).first()


def _data_request(delivery: InboxDelivery, payload: dict[str, Any]) -> Outcome:
    store = delivery.store
    external_id = shopify.privacy_customer(payload)
    if delivery.result.get("ticket"):
        return Outcome(
            InboxStatus.PROCESSED,
            f"Ticket {delivery.result['ticket']} was opened before.",
            {"member": external_id},
        )
    member = _member(store, external_id)
    if member is None:
        return _ignored("We hold no data on this customer.", member=external_id)
    request = payload.get("data_request") if isinstance(payload.get("data_request"), dict) else {}
    orders = payload.get("orders_requested") or []
    ticket = ticket_open(
        merchant=store.merchant,
        member=member,
        data=TicketInput(
            category=TicketCategory.ACCOUNT_AND_DATA,
            subject=f"Data request from {store.name} (Shopify)",
            body=(
                f"Shopify forwarded a customer's request for the data we hold on them "
                f"(request {request.get('id', 'without an id')}, store {store.domain}, "
                f"orders named: {', '.join(str(o) for o in orders[:50]) or 'none'}). "
                "The member's data is attached as JSON: send it to the store owner within "
                "the deadline of the law that applies (30 days under the GDPR), then "
                "resolve this ticket."
            ),
            priority=TicketPriority.HIGH,
        ),
        channel=TicketChannel.SYSTEM,
        attachments=[
            SimpleUploadedFile(
                f"member-data-{member.external_id}.json",
                member_data_json(member=member),
                content_type="application/json",
            )
        ],
        actor=_actor(store),
    )
    return Outcome(
        InboxStatus.PROCESSED,
        f"Ticket {ticket.reference} opened for ops with the member's data.",
        {"member": external_id, "ticket": ticket.reference},
    )


def _redact(store: Store, external_id: str) -> Outcome:
    member = _member(store, external_id)
    if member is None:
        return _ignored("We hold no data on this customer.", member=external_id)
    if member.status == MemberStatus.ANONYMISED:
        return _ignored("The member was anonymised before.", member=external_id)
    member_anonymise(merchant=store.merchant, member=member)
    return Outcome(InboxStatus.PROCESSED, "Member anonymised.", {"member": external_id})


def _shop_redact(store: Store) -> Outcome:
    """The shop uninstalled us 48 hours ago: stop taking its webhooks and erase the
    personal data that came only through it (every member's, when it was the merchant's
    last active store). Ledgers, orders and balances stay, as anonymisation keeps them."""
    if store.is_active:
        store.is_active = False
        store_save(store=store, actor=_actor(store))
    other_stores = Store.objects.filter(merchant=store.merchant, is_active=True).exists()
    members = Member.objects.filter(merchant=store.merchant).exclude(status=MemberStatus.ANONYMISED)
    if other_stores:
        elsewhere = Order.objects.filter(merchant=store.merchant).exclude(store=store)
        members = members.filter(orders__store=store).exclude(pk__in=elsewhere.values("member_id"))
    count = 0
    for member in members.distinct().iterator(chunk_size=500):
        member_anonymise(merchant=store.merchant, member=member)
        count += 1
    return Outcome(
        InboxStatus.PROCESSED,
        f"Store deactivated; {count} member(s) anonymised.",
        {"anonymised": count},
    )


# -- replay and the sweeper -----------------------------------------------------------------


def delivery_replay(*, delivery: InboxDelivery, actor: Actor) -> None:
    """Process a delivery again (after its cause was fixed), on commit, by a worker."""
    from integrations import tasks

    logger.info("Inbox delivery %s replayed by %s", delivery.pk, actor.name or actor.kind)
    transaction.on_commit(lambda: tasks.process_delivery.delay(delivery.pk))


def inbox_sweep(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> int:
    """Process the deliveries still waiting well after they arrived (their enqueue was
    lost), oldest first; returns how many were processed. Safe beside the workers: a
    delivery one of them holds is skipped, and processing is idempotent."""
    waiting = InboxDelivery.objects.filter(
        status=InboxStatus.RECEIVED, received_at__lt=now - STALE_AFTER
    )
    if merchant_id is not None:
        waiting = waiting.filter(merchant_id=merchant_id)
    waiting = list(waiting.order_by("received_at").values_list("pk", flat=True)[:batch_size])
    return sum(delivery_process(delivery_id=pk, waiting=True) is not None for pk in waiting)
