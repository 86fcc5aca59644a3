"""Orders: recorded one at a time, or built into a batch's writes (``order_build``, then
``orders_built_after``) by the bulk path; and an order without a member, recorded for the
reports only.

The common order, of a known and active member, is evaluated and built on the member as
last committed, unlocked, and written in one statement, outside any transaction, that
locks the member's row as it moves their balances: the lock is held inside PostgreSQL
alone, for the time of that statement and its commit, however busy the member is. It is
written only if what the order earns could not have changed meanwhile (the program's
configuration, the member's status and tier, a tier threshold it would reach); otherwise
nothing is written and it goes the locked way below. The segments it is in are those of
that read: a refresh of segments never waits for the member's lock either. An order that
a capped rule, a campaign, an achievement or a referral concerns goes the locked way from
the start (their counts, budgets and codes are taken under the member's lock).

The locked way: an order whose member another order holds is evaluated and built while it
waits for the member's lock, on the member as last committed; under the lock it is written
on the balances the lock gives it, unless what it earns could have changed meanwhile (the
program's configuration, the tier, the segments or a capped rule's awards: then it is
evaluated again, as it would have been). With campaigns running, or a referral, it is
evaluated under the lock only (their budgets and codes are taken as it is)."""

import datetime
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from core.money import quantize_money
from loyalty import earning, ledger, rules, tiers
from loyalty.achievements import services as achievements
from loyalty.batch import WriteBatch
from loyalty.batch_values import Returned
from loyalty.exceptions import NoActiveProgram
from loyalty.locks import member_read
from loyalty.models import (
    LedgerEntry,
    Member,
    MemberStatus,
    NonMemberOrder,
    Order,
    OrderLine,
    Program,
    TierBasis,
)
from loyalty.program_config import ProgramConfig, program_config, program_config_last
from loyalty.rates import Conversion, convert
from loyalty.recording import Recorded, replay, request_digest
from loyalty.referrals.services import ReferralInput, referral_input_attach
from loyalty.services.members import (
    member_locked,
    member_locked_or_read,
    member_new_locked,
    member_tier_attach,
)
from loyalty.services.programs import lot_expiry
from merchants.models import Merchant, OutboxEvent, Store
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
        tried = _AtOnce()
        if data.referral is None:
            tried = _order_at_once(merchant, data, digest, store, actor)
        order = tried.order
        if order is None:
            with transaction.atomic():
                order = _order_create(merchant, data, digest, store, actor, tried=tried)
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


def _tier_ceiling(member: Member, config: ProgramConfig) -> int | None:
    """The lifetime points from which the member reaches a higher tier, when only an
    order's lifetime points can lift them (0 when something else can: a spend-based
    program); None when no higher tier exists."""
    program = config.program
    if not program.tiers_enabled:
        return None
    current = member.tier.threshold if member.tier_id else None
    higher = [t.threshold for t in config.tiers if current is None or t.threshold > current]
    if not higher:
        return None
    if program.tier_basis != TierBasis.POINTS:
        return 0
    # Points earned in the window never exceed lifetime points (``members_tier_upgrade``).
    return math.ceil(higher[0])


@dataclass(frozen=True)
class _AtOnce:
    """What trying an order in one statement gave: the order written, or None; whether
    the member was found unknown (the locked way creates them); the order as built on
    the member read, when it was built but goes the locked way."""

    order: Order | None = None
    unknown: bool = False
    prepared: "_Prepared | None" = None


def _order_at_once(
    merchant: Merchant, data: OrderInput, digest: str, store: Store | None, actor: Actor
) -> _AtOnce:
    """Record the order of a known, active member in one statement (see the module), or
    write nothing and say why it goes the locked way."""
    if connection.vendor != "postgresql":
        return _AtOnce()  # one writer at a time: nothing to gain
    # Campaigns or achievements in the configuration this process used last for the
    # merchant send the order the locked way before any read (a hint: the member's read
    # gives the version that counts).
    last = program_config_last(merchant_id=merchant.pk)
    if last is not None and (last.campaigns or last.achievements):
        return _AtOnce()
    member = member_read(merchant=merchant, external_id=data.member_external_id)
    if member is None:
        return _AtOnce(unknown=True)
    now = timezone.now()
    prepared = _order_prepare(merchant, member, data, digest, store, now, actor)
    if prepared is None:
        return _AtOnce()  # not active, or campaigns: evaluated under the lock
    config, built, batch = prepared.config, prepared.built, prepared.batch
    ceiling = _tier_ceiling(member, config)
    entry, facts = built.entry, built.earned.facts
    lifetime = entry.points + entry.pending if entry is not None else 0
    below = {} if ceiling is None else {"lifetime_points": ceiling - lifetime}
    if (
        entry is None  # no points to move the row with
        or facts is None
        or facts.awards_in_period  # a capped rule's count to take under the lock
        or config.achievements  # their progress is taken under the lock
        or ceiling == 0  # a spend-based tier to reach
        or (ceiling is not None and below["lifetime_points"] <= member.lifetime_points)
    ):
        # Written as built unless what it earns changed meanwhile (``_Prepared``), and
        # a tier it reaches given under the lock.
        return _AtOnce(prepared=prepared)
    batch.gate(
        member,
        add={
            "points_balance": entry.points,
            "pending_points": entry.pending,
            "lifetime_points": lifetime,
        },
        latest={"last_activity_at": entry.created_at},
        assign={"updated_at": now},
        equal={"status": MemberStatus.ACTIVE, "tier": member.tier_id},
        below=below,
        exists=[(Merchant, {"id": merchant.pk, "config_version": member.config_version})],
    )
    entry.balance_after = Returned("points_balance")
    entry.pending_after = Returned("pending_points")
    batch.figures_set(
        balance=entry.balance_after,
        pending=entry.pending_after,
        lifetime=Returned("lifetime_points"),
    )
    if connection.in_atomic_block:
        with transaction.atomic():  # a savepoint: a duplicate fails this order alone
            written = batch.execute()
    else:
        written = batch.execute()
    if not written:
        return _AtOnce()  # what it earns may have changed: evaluated again, locked
    order_built_after(built=built, config=config, now=now, actor=actor)
    return _AtOnce(order=built.order)


def _order_create(
    merchant: Merchant,
    data: OrderInput,
    digest: str,
    store: Store | None,
    actor: Actor,
    *,
    tried: "_AtOnce",
) -> Order:
    # An existing order's id makes the INSERT below fail on the unique constraint, and
    # order_record replays it: no lookup first on the common path. ``tried``: what the
    # one-statement way found (a member unknown, or the order built on their read).
    now = timezone.now()
    prepared = tried.prepared
    if tried.unknown:
        found = None  # creating them waits for a concurrent creation
    elif prepared is not None:
        found = (prepared.member, False)  # waits for their lock below
    else:
        found = member_locked_or_read(merchant, data.member_external_id)
    if found is None:
        member = member_new_locked(merchant, data.member_external_id, data.member_fields)
    elif found[1]:
        member = found[0]
    else:
        if data.referral is None and prepared is None:
            # Another order of theirs holds the member: evaluate and build this one now,
            # while waiting would be idle, and hold their lock only to write it.
            prepared = _order_prepare(merchant, found[0], data, digest, store, now, actor)
        member = member_locked(merchant, data.member_external_id, data.member_fields)
    config = program_config(merchant_id=merchant.pk, version=member.config_version)
    member_tier_attach(member, config)
    # The order, its lines, the member's balances, the ledger entry, its lot and the rule
    # awards: one statement on PostgreSQL.
    if prepared is not None and prepared.holds_for(member, config):
        built, batch = prepared.moved_onto(member), prepared.batch
    else:
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


class _EventsKept(WriteBatch):
    """A write batch that keeps the outbox events queued in it at hand."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[OutboxEvent] = []

    def insert(self, obj: Any) -> Any:
        if isinstance(obj, OutboxEvent):
            self.events.append(obj)
        return super().insert(obj)

    def insert_many(self, objs: Any) -> list[Any]:
        objs = super().insert_many(objs)
        self.events.extend(obj for obj in objs if isinstance(obj, OutboxEvent))
        return objs

    def figures_set(self, *, balance: Any, pending: Any, lifetime: Any) -> None:
        """Put the member's balances after the order (numbers, or what a gate returns) in
        the points event queued here, where the member as built had them."""
        for event in self.events:
            event.payload = {
                **event.payload,
                "member": {
                    **event.payload["member"],
                    "points_balance": balance,
                    "pending_points": pending,
                    "lifetime_points": lifetime,
                },
                "balance_after": balance,
                "pending_after": pending,
            }


@dataclass(frozen=True)
class _Prepared:
    """An order evaluated and built, its writes queued, on its member as last committed
    (unlocked), while another order of theirs held them."""

    merchant: Merchant
    member: Member
    config: ProgramConfig
    built: "BuiltOrder"
    batch: _EventsKept

    def holds_for(self, locked: Member, config: ProgramConfig) -> bool:
        """Whether the locked member would earn what was evaluated: the same program
        configuration, tier, segments and awards toward capped rules. Their balances may
        have moved (``moved_onto`` writes on the locked ones)."""
        return (
            locked.config_version == self.member.config_version
            and locked.tier_id == self.member.tier_id
            and earning.facts_unchanged(
                earned=self.built.earned,
                merchant=self.merchant,
                member=locked,
                config=config,
                event=self.built.facts,
            )
        )

    def moved_onto(self, locked: Member) -> "BuiltOrder":
        """The built order with its ledger entry on the balances the locked row holds:
        the member's new balances, the entry's running balances, the last activity and
        the points event's figures are those the order would have had if built now."""
        member, entry = self.member, self.built.entry
        member.points_balance = locked.points_balance
        member.pending_points = locked.pending_points
        member.lifetime_points = locked.lifetime_points
        member.has_refund_shortfall = locked.has_refund_shortfall
        member.updated_at = locked.updated_at
        last = locked.last_activity_at
        if entry is None:
            member.last_activity_at = last
            return self.built
        # As ``ledger.points_earn`` moves them (an order's points: pending or not, and
        # all of them lifetime).
        member.points_balance += entry.points
        member.pending_points += entry.pending
        member.lifetime_points += entry.points + entry.pending
        entry.balance_after = member.points_balance
        entry.pending_after = member.pending_points
        if last is None or entry.created_at > last:
            member.last_activity_at = entry.created_at
            self.batch.update(member, ["last_activity_at"])
        else:
            member.last_activity_at = last
        self.batch.figures_set(
            balance=entry.balance_after,
            pending=entry.pending_after,
            lifetime=member.lifetime_points,
        )
        return self.built


def _order_prepare(
    merchant: Merchant,
    member: Member,
    data: OrderInput,
    digest: str,
    store: Store | None,
    now: datetime.datetime,
    actor: Actor,
) -> _Prepared | None:
    """The order evaluated and built on ``member`` as last committed, or None when it
    cannot be before the lock: the member is not active, or campaigns run (their budgets
    are taken as the order is evaluated, under the member's lock)."""
    if member.status != MemberStatus.ACTIVE:
        return None
    config = program_config(merchant_id=merchant.pk, version=member.config_version)
    if config.campaigns:
        return None
    member_tier_attach(member, config)
    batch = _EventsKept()
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
    return _Prepared(merchant=merchant, member=member, config=config, built=built, batch=batch)


@dataclass(frozen=True)
class BuiltOrder:
    order: Order
    member: Member
    earned: earning.Earned
    entry: LedgerEntry | None
    lines: list[OrderLine]
    facts: rules.OrderFacts


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
    return BuiltOrder(
        order=order, member=member, earned=earned, entry=entry, lines=lines, facts=facts
    )


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
