"""Dispatch of supplier orders: place them, poll them, reconcile unknown outcomes, retry
with exponential back-off and jitter, fail over to the reward's next offer, and refund
the points when no offer is left.

Every supplier order is a row before any call (written with the redemption). A run
claims a batch of due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) with what the calls
need (the redemption, the offer, the supplier: read once, with the claim) and leases them
for ``LEASE``. It calls the supplier for each outside any transaction, then records the
outcomes together in a short transaction that locks the batch's rows and first checks
each is still as it was claimed. Outcomes are recorded at least every ``RECORD_EVERY``
and at the end of the batch, so that a slow supplier's answers are not held back. A
worker that dies between a call and its record leaves the row to come back when the
lease ends, and the call is repeated with the same idempotency key, which never buys
twice. So two runs at once, or a run after a crash, never lose an order or place it
twice.

Recording is set-based where the rows change the same way: the deliveries of a batch
(most of a run's work) are written by ``redemptions_deliver`` in a fixed number of
statements; the other outcomes (a submission, a retry, a fail-over, a refund, a parcel
with its tracking) one by one. When recording a batch fails, each outcome is recorded
again in its own transaction, so one bad row holds back no other.

The scheduled run claims batch after batch while orders are due and its time budget
lasts, so that one run drains a backlog of thousands. It starts an order only while the
order's lease has ``LEASE_MARGIN`` left (time for one supplier call) and while the budget
lasts; the claimed orders it does not get to are released, due again at once.

What an outcome does to the redemption (delivered, failed over, refunded) is recorded by
``fulfillment.services.outcomes``, which the staff actions share; every status move goes
through ``redemption_transition``. The actor is the dispatch job; the event's source
names the supplier that answered.
"""

import datetime
import logging
import random
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from catalog.alerts import alert_raise
from catalog.exceptions import InvalidSupplierSettings
from catalog.models import AlertKind, Supplier
from catalog.supplier_settings import stored_settings
from core.actors import Actor
from fulfillment.adapters.base import (
    AdapterConfigError,
    AdapterError,
    ErrorKind,
    OrderRequest,
    OrderResult,
    OrderStatus,
    SupplierAdapter,
    TerminalError,
)
from fulfillment.adapters.registry import adapter_for
from fulfillment.billing import BillingCache
from fulfillment.locks import redemptions_lock, supplier_orders_claim, supplier_orders_lock
from fulfillment.models import (
    Redemption,
    RedemptionStatus,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services.outcomes import (
    REFUNDED,
    Delivery,
    order_fail_over,
    redemption_deliver,
    redemptions_deliver,
    supplier_order_set,
)
from fulfillment.services.shipments import shipment_from_supplier
from fulfillment.services.transitions import redemption_transition

logger = logging.getLogger("fulfillment.dispatch")

MAX_TRIES = 5  # calls of one offer that fail with a retryable error before failing over
BACKOFF_BASE = datetime.timedelta(seconds=30)
BACKOFF_CAP = datetime.timedelta(hours=1)
POLL_INTERVAL = datetime.timedelta(minutes=1)
LEASE = datetime.timedelta(minutes=2)
# An order is started only while this much of its lease is left: more than one supplier
# call takes (the http_json adapter gives up after 10 s a socket operation), so the call
# and its outcome are in before the lease ends and another run may take the row.
LEASE_MARGIN = datetime.timedelta(minutes=1)
# Outcomes in hand are recorded at least this often (and at the end of each batch): a
# batch of quick answers is one transaction, a slow supplier's answers go in one by one.
RECORD_EVERY = datetime.timedelta(seconds=1)
BREAKER_FAILURES = 5  # a supplier whose last this-many orders failed is paused
# Who moves a redemption when its supplier answers (the event's source names the supplier).
DISPATCH_ACTOR = Actor.system("dispatch")
ACTIVE = (SupplierOrderStatus.QUEUED, SupplierOrderStatus.SUBMITTED, SupplierOrderStatus.UNKNOWN)


@dataclass
class DispatchResult:
    claimed: int = 0
    delivered: int = 0
    submitted: int = 0
    retrying: int = 0
    reconciling: int = 0
    failed_over: int = 0
    refunded: int = 0
    paused_suppliers: list[str] = field(default_factory=list)

    def add(self, other: "DispatchResult") -> None:
        """Count ``other``'s outcomes in (not its claims: the run counts those)."""
        for name in (
            "delivered",
            "submitted",
            "retrying",
            "reconciling",
            "failed_over",
            "refunded",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused_suppliers.extend(other.paused_suppliers)

    def __str__(self) -> str:
        return (
            f"{self.claimed} claimed: {self.delivered} delivered, {self.submitted} submitted, "
            f"{self.retrying} retrying, {self.reconciling} reconciling, {self.failed_over} "
            f"failed over, {self.refunded} refunded"
            + (f"; paused {', '.join(self.paused_suppliers)}" if self.paused_suppliers else "")
        )


def backoff(tries: int, rng: random.Random | None = None) -> datetime.timedelta:
    """Exponential from ``BACKOFF_BASE``, capped, with full jitter (half to all of it)."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, tries - 1)))
    return delay * (0.5 + (rng or random).random() / 2)


def process_due(
    *,
    now: datetime.datetime | None = None,
    batch_size: int = 100,
    redemption_id: int | None = None,
    budget: datetime.timedelta | None = None,
    actor: Actor = DISPATCH_ACTOR,
) -> DispatchResult:
    """Handle the supplier orders that are due (all of them, or one redemption's): one
    batch, or with ``budget`` batch after batch until none is due or the budget is spent.

    ``now`` is the time of the first batch; each later one is ``now`` plus the time the
    run has taken, so that its lease and its outcomes carry their own time. The fee
    plans and rates that billing reads are read once per run."""
    started = time.monotonic()
    first_now = now or timezone.now()
    deadline = started + budget.total_seconds() if budget is not None else None
    usable = (LEASE - LEASE_MARGIN).total_seconds()
    result = DispatchResult()
    billing = BillingCache()
    full: set[int] = set()  # suppliers whose rate limit has no room left in this run
    batch_now = first_now
    while True:
        claimed_at = time.monotonic()
        known_full = len(full)
        orders = _claim(batch_now, batch_size, redemption_id, full)
        finished = _run_batch(
            orders,
            batch_now,
            result,
            stop_at=claimed_at + usable,
            deadline=deadline,
            billing=billing,
            actor=actor,
        )
        if not finished:
            return result
        # A claim that found only orders held back by a rate limit is tried again without
        # them: the orders behind them (other suppliers, polls) are due as well.
        if deadline is None or not (orders or len(full) > known_full):
            return result
        if time.monotonic() >= deadline:
            return result
        batch_now = first_now + datetime.timedelta(seconds=time.monotonic() - started)


def _claim(
    now: datetime.datetime,
    batch_size: int,
    redemption_id: int | None,
    full: set[int] | None = None,
) -> list[SupplierOrder]:
    """Lease up to ``batch_size`` due orders, oldest due first, with their redemption,
    offer and supplier; ``full`` (suppliers with no room left under their rate limit) is
    skipped for new placements, and grows."""
    with transaction.atomic():
        due = SupplierOrder.objects.filter(status__in=ACTIVE, next_try_at__lte=now).order_by(
            "next_try_at", "id"
        )
        if redemption_id is not None:
            due = due.filter(redemption_id=redemption_id)
        if full:
            due = due.exclude(status=SupplierOrderStatus.QUEUED, tries=0, supplier_id__in=full)
        rows = list(
            supplier_orders_claim(due).select_related("redemption", "offer", "supplier")[
                :batch_size
            ]
        )
        rows = _within_rate_limits(rows, now, full)
        lease = now + LEASE
        SupplierOrder.objects.filter(pk__in=[row.pk for row in rows]).update(next_try_at=lease)
        for row in rows:
            row.next_try_at = lease
    return rows


@dataclass
class _Called:
    order: SupplierOrder  # as claimed, with its redemption, offer and supplier
    outcome: OrderResult | None  # None: a lookup found no such order


def _run_batch(
    orders: list[SupplierOrder],
    now: datetime.datetime,
    result: DispatchResult,
    *,
    stop_at: float,
    deadline: float | None,
    billing: BillingCache,
    actor: Actor,
) -> bool:
    """Call the supplier for each claimed order and record the outcomes; False when the
    lease margin (``stop_at``) or the budget (``deadline``) ended the batch early, the
    orders not started released."""
    adapters: dict[int, SupplierAdapter | AdapterConfigError] = {}
    called: list[_Called] = []
    started = 0
    recorded_at = time.monotonic()
    try:
        for order in orders:
            clock = time.monotonic()
            if clock > stop_at or (deadline is not None and clock >= deadline):
                _record_outcomes(called, now, result, billing=billing, actor=actor)
                return False
            started += 1
            result.claimed += 1
            called.append(_Called(order, _outcome(order, adapters)))
            if time.monotonic() - recorded_at >= RECORD_EVERY.total_seconds():
                _record_outcomes(called, now, result, billing=billing, actor=actor)
                called, recorded_at = [], time.monotonic()
        _record_outcomes(called, now, result, billing=billing, actor=actor)
        return True
    finally:
        # Stopped early, the soft time limit, or a failure: the orders not started need
        # not wait out their lease (those called and not recorded do, as after a crash).
        _release([order.pk for order in orders[started:]], now)


def _outcome(
    order: SupplierOrder, adapters: dict[int, SupplierAdapter | AdapterConfigError]
) -> OrderResult | None:
    """The supplier's answer for one claimed order (the adapter set up once a batch)."""
    if order.status == SupplierOrderStatus.QUEUED and not order.supplier.is_active:
        # A paused supplier gets no new orders: the next offer takes it. (What it may have
        # placed already, submitted or unknown, is still looked up.)
        return OrderResult.failure(TerminalError(f"{order.supplier} is paused"))
    if order.supplier_id not in adapters:
        try:
            adapters[order.supplier_id] = supplier_adapter(order.supplier)
        except AdapterConfigError as exc:
            adapters[order.supplier_id] = exc
    adapter = adapters[order.supplier_id]
    if isinstance(adapter, AdapterConfigError):
        return OrderResult.failure(TerminalError(str(adapter)))
    return _call(order, adapter)


def _release(order_ids: list[int], now: datetime.datetime) -> None:
    """Give back claimed orders this run will not get to: due again at once rather than
    when their lease ends (those another run took meanwhile are not touched)."""
    if not order_ids:
        return
    SupplierOrder.objects.filter(pk__in=order_ids, next_try_at=now + LEASE).update(next_try_at=now)


def _within_rate_limits(
    rows: list[SupplierOrder], now: datetime.datetime, full: set[int] | None = None
) -> list[SupplierOrder]:
    """Leave for later the new placements a supplier's per-minute limit has no room for
    (and add that supplier to ``full``)."""
    room: dict[int, int] = {}
    kept = []
    for row in rows:
        if row.status != SupplierOrderStatus.QUEUED or row.tries or not row.supplier.is_active:
            kept.append(row)
            continue
        if row.supplier_id not in room:
            placed = SupplierOrder.objects.filter(
                supplier_id=row.supplier_id,
                submitted_at__gt=now - datetime.timedelta(minutes=1),
            ).count()
            room[row.supplier_id] = row.supplier.rate_limit_per_minute - placed
        if room[row.supplier_id] > 0:
            room[row.supplier_id] -= 1
            kept.append(row)
        elif full is not None:
            full.add(row.supplier_id)
    return kept


def supplier_adapter(supplier: Supplier) -> SupplierAdapter:
    """The adapter of ``supplier``, set up with its stored settings."""
    try:
        config = stored_settings(supplier.adapter_config)
    except InvalidSupplierSettings as exc:
        raise AdapterConfigError(f"{supplier}: {exc.detail}") from None
    return adapter_for(supplier.adapter, config)


def order_request(order: SupplierOrder) -> OrderRequest:
    redemption = order.redemption
    return OrderRequest(
        idempotency_key=order.idempotency_key,
        supplier_sku=order.offer.supplier_sku,
        country=str(redemption.country),
        face_value=redemption.face_value,
        currency=redemption.face_currency,
        quantity=redemption.quantity,
        recipient=redemption.recipient,
        offer_id=order.offer_id,
        reference=str(redemption.public_id),
    )


def _call(order: SupplierOrder, adapter: SupplierAdapter) -> OrderResult | None:
    """One call to the supplier: place a queued order, look up the others."""
    try:
        if order.status == SupplierOrderStatus.QUEUED:
            return adapter.place(order_request(order))
        return adapter.lookup(order.idempotency_key, order.supplier_ref or None)
    except AdapterError as exc:
        return OrderResult.failure(exc)
    except Exception as exc:
        logger.exception("supplier call failed: %s", order.idempotency_key)
        kind = ErrorKind.UNKNOWN if order.status == SupplierOrderStatus.QUEUED else "retryable"
        return OrderResult.failure(AdapterError(f"unexpected error: {exc!r}"[:400], kind))


def _record_outcomes(
    called: list[_Called],
    now: datetime.datetime,
    result: DispatchResult,
    *,
    billing: BillingCache,
    actor: Actor,
) -> None:
    """Record ``called`` in one transaction, or, when that fails, each in its own (the
    first that fails again raises: it comes back when its lease ends, as after a crash)."""
    if not called:
        return
    try:
        with transaction.atomic():
            recorded = _record_batch(called, now, billing=billing, actor=actor)
    except Exception:
        if len(called) == 1:
            raise
        logger.exception("recording %d outcomes together failed; one by one now", len(called))
        for one in called:
            with transaction.atomic():
                result.add(_record_batch([one], now, billing=billing, actor=actor))
        return
    result.add(recorded)


def _record_batch(
    called: list[_Called], now: datetime.datetime, *, billing: BillingCache, actor: Actor
) -> DispatchResult:
    """Lock the batch's orders, then their redemptions; record the outcome of each order
    still as it was claimed (and its redemption open). What was recorded, counted."""
    recorded = DispatchResult()
    lease = now + LEASE  # what this run's claim wrote: the row is ours while it is there
    orders = supplier_orders_lock(one.order.pk for one in called)
    redemptions = redemptions_lock({one.order.redemption_id for one in called})
    deliveries: list[Delivery] = []
    delivering: set[int] = set()  # redemptions: one delivery each
    others: list[tuple[SupplierOrder, Redemption, str, OrderResult | None]] = []
    for one in called:
        claimed = one.order
        order = orders.get(claimed.pk)
        redemption = redemptions.get(claimed.redemption_id)
        if (
            order is None
            or redemption is None
            or order.status != claimed.status
            or order.next_try_at != lease
            or redemption.status not in OPEN_STATUSES
        ):
            continue  # changed meanwhile (staff acted on it, another run took it over)
        order.supplier, order.offer = claimed.supplier, claimed.offer  # read with the claim
        order.tries += 1
        outcome = one.outcome
        if (
            outcome is not None
            and outcome.status == OrderStatus.DELIVERED
            and outcome.tracking is None
            and redemption.pk not in delivering
        ):
            delivering.add(redemption.pk)
            _note_answer(order, outcome, now)
            deliveries.append(
                Delivery(
                    redemption=redemption,
                    supplier_order=order,
                    codes=_codes(outcome),
                    source=order.supplier.slug,
                    note=order.idempotency_key,
                    cost=outcome.cost,
                )
            )
        else:
            others.append((order, redemption, claimed.status, outcome))
    redemptions_deliver(deliveries=deliveries, at=now, billing=billing, actor=actor)
    recorded.delivered += len(deliveries)
    for order, redemption, claimed_status, outcome in others:
        if redemption.status not in OPEN_STATUSES:
            continue  # another order of the batch delivered it
        if outcome is None:
            if claimed_status == SupplierOrderStatus.UNKNOWN:
                # The supplier never saw it: placing it again is safe (same key anyway).
                supplier_order_set(order=order, status=SupplierOrderStatus.QUEUED, next_try_at=now)
                recorded.reconciling += 1
                continue
            outcome = OrderResult.failure(TerminalError("the supplier has no such order"))
        _record(order, redemption, outcome, now, recorded, billing=billing, actor=actor)
    return recorded


def _note_answer(order: SupplierOrder, outcome: OrderResult, now: datetime.datetime) -> None:
    """What any answer tells about the order: the supplier's reference, and when it was
    first accepted."""
    if outcome.supplier_ref:
        order.supplier_ref = outcome.supplier_ref
    if outcome.status != OrderStatus.FAILED and order.submitted_at is None:
        order.submitted_at = now


def _codes(outcome: OrderResult) -> list[dict]:
    return [
        {
            "code": code.code,
            "pin": code.pin,
            "claim_url": code.claim_url,
            "expires_on": code.expires_on,
        }
        for code in outcome.codes
    ]


def _record(
    order: SupplierOrder,
    redemption: Redemption,
    outcome: OrderResult,
    now: datetime.datetime,
    result: DispatchResult,
    *,
    billing: BillingCache | None = None,
    actor: Actor,
) -> None:
    supplier = order.supplier
    source = supplier.slug
    _note_answer(order, outcome, now)
    if outcome.tracking is not None and outcome.status != OrderStatus.FAILED:
        # Once per carrier and number: a later poll reporting it again changes nothing.
        shipment_from_supplier(
            redemption=redemption,
            supplier_order=order,
            tracking=outcome.tracking,
            source=source,
            at=now,
            actor=actor,
        )
    if outcome.status == OrderStatus.DELIVERED:
        redemption_deliver(
            redemption=redemption,
            supplier_order=order,
            codes=_codes(outcome),
            at=now,
            source=source,
            note=order.idempotency_key,
            cost=outcome.cost,
            billing=billing,
            actor=actor,
        )
        result.delivered += 1
        return
    if outcome.status == OrderStatus.SUBMITTED:
        supplier_order_set(
            order=order,
            status=SupplierOrderStatus.SUBMITTED,
            next_try_at=now + POLL_INTERVAL,
            error_kind="",
            last_error="",
        )
        redemption_transition(
            redemption=redemption,
            to_status=RedemptionStatus.SUBMITTED,
            reason="",
            source=source,
            actor=actor,
        )
        result.submitted += 1
        return
    error = outcome.error
    assert error is not None
    order.error_kind, order.last_error = error.kind.value, error.message[:500]
    if error.kind == ErrorKind.UNKNOWN or (
        error.kind == ErrorKind.RETRYABLE and order.status != SupplierOrderStatus.QUEUED
    ):
        # Sent and not known to be placed, or a lookup that did not answer: ask again.
        status = (
            SupplierOrderStatus.UNKNOWN
            if order.status == SupplierOrderStatus.QUEUED
            else order.status
        )
        supplier_order_set(order=order, status=status, next_try_at=now + backoff(order.tries))
        result.reconciling += 1
    elif error.kind == ErrorKind.RETRYABLE and order.tries < MAX_TRIES:
        supplier_order_set(
            order=order, status=SupplierOrderStatus.QUEUED, next_try_at=now + backoff(order.tries)
        )
        redemption_transition(
            redemption=redemption,
            to_status=RedemptionStatus.FAILED,
            reason=error.message,
            source=source,
            actor=actor,
        )
        result.retrying += 1
    else:
        ended = order_fail_over(
            order=order,
            redemption=redemption,
            reason=error.message,
            source=source,
            now=now,
            actor=actor,
        )
        if ended == REFUNDED:
            result.refunded += 1
        else:
            result.failed_over += 1
    _breaker(supplier, result)


def _breaker(supplier: Supplier, result: DispatchResult) -> None:
    """Pause a supplier whose last ``BREAKER_FAILURES`` orders all failed, and tell ops."""
    latest = list(
        SupplierOrder.objects.filter(supplier=supplier)
        .order_by("-updated_at", "-id")
        .values_list("error_kind", flat=True)[:BREAKER_FAILURES]
    )
    if len(latest) < BREAKER_FAILURES or not all(latest) or not supplier.is_active:
        return
    # The supplier was read with the claim: another run may have paused it since.
    if not Supplier.objects.filter(pk=supplier.pk, is_active=True).update(is_active=False):
        return
    supplier.is_active = False
    result.paused_suppliers.append(supplier.slug)
    alert_raise(
        kind=AlertKind.SUPPLIER_PAUSED,
        subject=f"supplier:{supplier.pk}",
        message=f"{supplier} was paused after {BREAKER_FAILURES} failed orders in a row; "
        "its orders fail over to other offers. Activate it again once it works.",
    )
