"""Orders: recorded one at a time, or built into a batch's writes (``order_build``, then
``orders_built_after``) by the bulk path; and an order without a member, recorded for the
reports only."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from core.money import quantize_money
from loyalty import earning, ledger, rules, tiers
from loyalty.achievements import services as achievements
from loyalty.batch import WriteBatch
from loyalty.exceptions import NoActiveProgram
from loyalty.models import LedgerEntry, Member, NonMemberOrder, Order, OrderLine, Program
from loyalty.program_config import ProgramConfig, program_config
from loyalty.rates import Conversion, convert
from loyalty.recording import Recorded, replay, request_digest
from loyalty.referrals.services import ReferralInput, referral_input_attach
from loyalty.services.members import member_locked, member_tier_attach
from loyalty.services.programs import lot_expiry
from merchants.models import Merchant, Store
from merchants.services.stores import store_event_record

# Orders and activities older than this are refused as mistakes.
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
# What an amount column holds (14 digits, 4 of them decimals).
MAX_AMOUNT = Decimal("9999999999.9999")


@dataclass(frozen=True)
class LineInput:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    member_external_id: str
    total: Decimal
    currency: str
    placed_at: datetime.datetime
    lines: tuple[LineInput, ...] = ()
    store_public_id: str | None = None
    member_fields: dict[str, Any] = field(default_factory=dict)
    # A referral code (and what the store saw of the customer) sent with the order: not
    # part of what the order is (its digest), it concerns the member.
    referral: ReferralInput | None = None


def order_digest(data: OrderInput) -> str:
    """``request_digest(asdict(data))`` without ``asdict``'s deep copies (the same
    mapping, so the same digest), and without the referral that may come with the order:
    it concerns the member, not what the order is (and orders recorded before it existed
    keep their digest)."""
    return request_digest(
        {
            "external_id": data.external_id,
            "member_external_id": data.member_external_id,
            "total": data.total,
            "currency": data.currency,
            "placed_at": data.placed_at,
            "lines": [
                {
                    "sku": line.sku,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                }
                for line in data.lines
            ],
            "store_public_id": data.store_public_id,
            "member_fields": data.member_fields,
        }
    )


def check_when(at: datetime.datetime, field: str) -> None:
    if at > timezone.now() + datetime.timedelta(days=1):
        raise DomainError(f"{field} is in the future.", field=field)
    if at < EARLIEST:
        raise DomainError(f"{field} is before {EARLIEST:%Y-%m-%d}.", field=field)


def validate_order(data: OrderInput) -> None:
    check_when(data.placed_at, "placed_at")
    if data.total < 0:
        raise DomainError("total cannot be negative.", field="total")
    if quantize_money(data.total, data.currency) != data.total:
        raise DomainError(f"{data.currency} has fewer decimal places than that.", field="total")


def order_store(merchant: Merchant, data: OrderInput) -> Store | None:
    if not data.store_public_id:
        return None
    store = Store.objects.filter(merchant=merchant, public_id=data.store_public_id).first()
    if store is None:
        raise DomainError("No such store.", field="store")
    return store


def order_record(*, merchant: Merchant, data: OrderInput, actor: Actor) -> Recorded:
    """Record an order and credit what it earns (pending for the program's return window).
    A referral sent with it is attached to the order's member in the same transaction (an
    unknown code refuses the whole order); with a replay, the member's referral is
    attached, or found, as it would be without an order."""
    digest = order_digest(data)
    validate_order(data)
    store = order_store(merchant, data)
    if store is not None:
        store_event_record(store=store)
    try:
        with transaction.atomic():
            order = _order_create(merchant, data, digest, store, actor)
            if data.referral is not None:
                referral_input_attach(
                    merchant=merchant,
                    member=order.member,
                    data=data.referral,
                    order=order,
                    actor=actor,
                )
        return Recorded(obj=order, replayed=False)
    except (IntegrityError, NoActiveProgram):
        # Recorded before (a replay needs no active program), or by a concurrent request.
        existing = Order.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        recorded = replay(existing, digest, "Order")
        if data.referral is not None:
            referral_input_attach(
                merchant=merchant, member=existing.member, data=data.referral, actor=actor
            )
        return recorded


def order_facts(
    program: Program, data: OrderInput, store: Store | None
) -> tuple[Conversion, rules.OrderFacts]:
    """The order in the program's currency, as ``rules`` reads it."""
    conversion = convert(
        amount=data.total,
        from_currency=data.currency,
        to_currency=program.currency,
        at=data.placed_at,
    )
    if conversion.amount > MAX_AMOUNT:
        raise DomainError(
            f"The total is too large once converted to {program.currency}.", field="total"
        )
    facts = rules.OrderFacts(
        total=conversion.amount,
        placed_at=data.placed_at,
        store_id=store.pk if store else None,
        lines=tuple(
            rules.Line(
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price * conversion.rate,
            )
            for line in data.lines
        ),
    )
    return conversion, facts


def _order_create(
    merchant: Merchant, data: OrderInput, digest: str, store: Store | None, actor: Actor
) -> Order:
    # An existing order's id makes the INSERT below fail on the unique constraint, and
    # order_record replays it: no lookup first on the common path.
    now = timezone.now()
    member = member_locked(merchant, data.member_external_id, data.member_fields)
    config = program_config(merchant_id=merchant.pk, version=member.config_version)
    member_tier_attach(member, config)
    # The order, its lines, the member's balances, the ledger entry, its lot and the rule
    # awards: one statement on PostgreSQL.
    batch = WriteBatch()
    built = order_build(
        merchant=merchant,
        member=member,
        config=config,
        data=data,
        digest=digest,
        store=store,
        now=now,
        batch=batch,
        actor=actor,
    )
    batch.execute()
    order_built_after(built=built, config=config, now=now, actor=actor)
    return built.order


@dataclass(frozen=True)
class BuiltOrder:
    order: Order
    member: Member
    earned: earning.Earned
    entry: LedgerEntry | None
    lines: list[OrderLine]


def order_build(
    *,
    merchant: Merchant,
    member: Member,
    config: ProgramConfig,
    data: OrderInput,
    digest: str,
    store: Store | None,
    now: datetime.datetime,
    batch: WriteBatch,
    actor: Actor,
) -> BuiltOrder:
    """Evaluate an order of a locked member (its tier attached) and queue its writes in
    ``batch``: the order, its lines, the ledger entry and lot, the awards. The campaigns'
    budgets are taken now, in this transaction. The caller executes the batch, then calls
    ``order_built_after``."""
    program = config.program
    conversion, facts = order_facts(program, data, store)
    order = Order(merchant=merchant, member=member, store=store, external_id=data.external_id)
    earned = earning.earn(merchant=merchant, member=member, config=config, event=facts, now=now)
    evaluation = earned.evaluation
    order.placed_at = data.placed_at
    order.currency = data.currency
    order.total = data.total
    order.program_currency = program.currency
    order.program_total = conversion.amount
    order.exchange_rate = conversion.rate_row
    order.rate_used = conversion.rate if conversion.rate_row else None
    order.points_earned = evaluation.points
    order.explanation = evaluation.explanation()
    order.request_hash = digest
    batch.insert(order)
    lines = batch.insert_many(
        OrderLine(
            order=order,
            sku=line.sku,
            category=line.category,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in data.lines
    )
    available_at = max(now, data.placed_at + datetime.timedelta(days=program.pending_days))
    entry = ledger.points_earn(
        member=member,
        member_locked=True,
        batch=batch,
        points=evaluation.points,
        at=now,
        available_at=available_at,
        expires_at=lot_expiry(program, now),
        source_type=LedgerEntry.Source.ORDER,
        source_ref=data.external_id,
        order=order,
        reason=f"order {data.external_id}",
        actor=actor,
    )
    earning.awards_record(
        evaluation=evaluation,
        member=member,
        entry=entry,
        at=data.placed_at,
        batch=batch,
        order=order,
    )
    return BuiltOrder(order=order, member=member, earned=earned, entry=entry, lines=lines)


def order_built_after(
    *, built: BuiltOrder, config: ProgramConfig, now: datetime.datetime, actor: Actor
) -> None:
    """What follows an order's written batch: spent campaign budgets reported, and the
    member's tier upgraded when the order lifts it."""
    orders_built_after(built=[built], config=config, now=now, actor=actor)


def orders_built_after(
    *, built: list[BuiltOrder], config: ProgramConfig, now: datetime.datetime, actor: Actor
) -> None:
    """``order_built_after`` for the orders of one written batch, each of another member:
    the tier upgrades in one query and one statement, the achievements the orders count
    toward in three (none when the program has none)."""
    for one in built:
        earning.on_exhausted(one.earned.exhausted)
        one.order.first_lot = one.entry.lot if one.entry else None
        one.order.achievement_outcomes = []
    if config.achievements:
        _achievements_advance(built=built, config=config, now=now, actor=actor)
    tiers.members_tier_upgrade(
        members=[(one.member, f"order {one.order.external_id}") for one in built],
        program=config.program,
        tiers=config.tiers,
        at=now,
        actor=actor,
    )


def _achievements_advance(
    *, built: list[BuiltOrder], config: ProgramConfig, now: datetime.datetime, actor: Actor
) -> None:
    merchant = built[0].order.merchant
    batch = WriteBatch()
    advances = achievements.achievements_queue(
        members=[
            (
                one.member,
                achievements.order_happening(one.order, one.lines),
                f"order:{one.order.pk}",
                f"order {one.order.external_id}",
            )
            for one in built
        ],
        achievements=config.achievements,
        segment_ids_of=earning.member_segment_ids,
        tz=merchant.timezone,
        now=now,
        batch=batch,
    )
    if not advances:
        return
    batch.execute()
    achievements.achievements_advance(
        advances=advances,
        tz=merchant.timezone,
        expiry_of=lambda at: lot_expiry(config.program, at),
        now=now,
        actor=actor,
    )
    orders = {one.member.pk: one.order for one in built}
    for advance in advances:
        orders[advance.member.pk].achievement_outcomes = advance.outcomes or []


def non_member_order_record(
    *,
    merchant: Merchant,
    external_id: str,
    total: Decimal,
    currency: str,
    placed_at: datetime.datetime,
    store: Store | None = None,
) -> tuple[NonMemberOrder, bool]:
    """Record a shopper's order that earns nothing (no customer on it), for the reports;
    returns (order, created). Idempotent by ``external_id``: the first record stays."""
    check_when(placed_at, "placed_at")
    if total < 0:
        raise DomainError("total cannot be negative.", field="total")
    if quantize_money(total, currency) != total:
        raise DomainError(f"{currency} has fewer decimal places than that.", field="total")
    recorded = NonMemberOrder.objects.filter(merchant=merchant, external_id=external_id)
    if (existing := recorded.first()) is not None:
        return existing, False
    order = NonMemberOrder(
        merchant=merchant,
        store=store,
        external_id=external_id,
        total=total,
        currency=currency,
        placed_at=placed_at,
    )
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:  # recorded meanwhile by a concurrent delivery
        return recorded.get(), False
    return order, True
