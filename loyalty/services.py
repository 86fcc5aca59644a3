"""Writes of the loyalty core: programs, members, orders, refunds, activities, adjustments.

Orders, refunds and activities are idempotent by their ``external_id`` per merchant: the
same body again returns the first result and earns nothing more; the same id with another
body is refused (409). Concurrent duplicates meet the unique constraint, and the loser
replays the winner's result.
"""

import datetime
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import sql
from django.db.models.constants import OnConflict
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import DomainError, NotFound
from core.hooks import app_hooks
from core.money import points_share, quantize_money
from loyalty import earning, events, ledger, locks, rules, tiers
from loyalty.attributes import attributes_clean, attributes_kept_on_erasure
from loyalty.batch import WriteBatch
from loyalty.exceptions import (
    MemberNotActive,
    NoActiveProgram,
    RefundExceedsOrder,
)
from loyalty.external_ids import is_external_id
from loyalty.models import (
    Activity,
    ActivityKind,
    ExchangeRate,
    ExpiryPolicy,
    LedgerEntry,
    Member,
    MemberStatus,
    NonMemberOrder,
    Order,
    OrderLine,
    Program,
    Refund,
    Segment,
    Tier,
)
from loyalty.program_config import ProgramConfig, program_config
from loyalty.rates import Conversion, convert, rates_changed
from loyalty.recording import Recorded, replay, request_digest
from loyalty.selectors import attribute_schema
from merchants.models import ChecklistItem, Merchant, Store
from merchants.services import checklist_item_complete

# Orders and activities older than this are refused as mistakes.
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
# What an amount column holds (14 digits, 4 of them decimals).
MAX_AMOUNT = Decimal("9999999999.9999")

MEMBER_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "country",
    "locale",
    "birthday",
    "marketing_consent",
    "attributes",
)


# -- programs ----------------------------------------------------------------------------


def program_get_active(*, merchant: Merchant) -> Program:
    try:
        return Program.objects.get(merchant=merchant, is_active=True)
    except Program.DoesNotExist:
        raise NoActiveProgram("Configure the merchant's program first.") from None


@transaction.atomic
def program_configure(*, merchant: Merchant, actor: Actor, **terms: Any) -> Program:
    """Create or change the merchant's active program; ticks "program configured".

    Changing terms never touches points already earned: those live in the ledger."""
    program = locks.program_lock_active(merchant=merchant)
    if program is None:
        program = Program(merchant=merchant, currency=merchant.default_currency)
    for name, value in terms.items():
        setattr(program, name, value)
    return program_save(program=program, actor=actor)


@transaction.atomic
def program_save(*, program: Program, actor: Actor) -> Program:
    """Validate and save a program (the admin's form builds it); an active one ticks the
    merchant's "program configured" checklist item."""
    if not program.currency:
        program.currency = program.merchant.default_currency
    program.full_clean()
    program.save()
    # Apps that derive something from the program (the catalog's point prices) follow.
    for hook in app_hooks("on_program_saved"):
        hook(program=program)
    if program.is_active:
        checklist_item_complete(
            merchant=program.merchant,
            item=ChecklistItem.PROGRAM_CONFIGURED,
            note=f"program {program.name}",
            actor=actor,
        )
    return program


def lot_expiry(program: Program, earned_at: datetime.datetime) -> datetime.datetime | None:
    if program.expiry_policy == ExpiryPolicy.LOT_AGE:
        return earned_at + relativedelta(months=program.expiry_months)
    return None


# -- members -----------------------------------------------------------------------------


def _clean_member_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name in MEMBER_FIELDS}


def member_is_anonymised(*, member: Member) -> bool:
    """Whether the member's personal data was erased: such a member is never updated
    (by the API, an import) nor anonymised again."""
    return member.status == MemberStatus.ANONYMISED


@transaction.atomic
def member_upsert(
    *, merchant: Merchant, external_id: str, fields: dict[str, Any]
) -> tuple[Member, bool]:
    """Create the member, or update the fields given; returns (member, created). Fields
    are validated before anything is written. No actor: a member's profile keeps no
    history (the store's records are the source of it). A new member is a
    ``member.created`` event, a change of a field's value a ``member.updated`` one."""
    values = _clean_member_fields(fields)
    if values.get("attributes") is not None:
        values["attributes"] = attributes_clean(
            attribute_schema(merchant=merchant), values["attributes"]
        )
    member = locks.member_lock_by_external_id(merchant=merchant, external_id=external_id)
    created = member is None
    if created:
        member = Member(merchant=merchant, external_id=external_id)
    elif values and member_is_anonymised(member=member):
        raise MemberNotActive("An anonymised member cannot be updated.")
    before = {name: getattr(member, name) for name in values}
    for name, value in values.items():
        setattr(member, name, value)
    # Uniqueness was settled by the lookup above and the CHECK constraints concern balances
    # a profile change cannot touch: the database still enforces both.
    member.full_clean(
        exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False
    )
    if created:
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError:
            # Created meanwhile by a concurrent request: update that one instead.
            return member_upsert(merchant=merchant, external_id=external_id, fields=fields)
        events.member_created_publish(member=member)
    elif values:
        member.save(update_fields=[*values, "updated_at"])
        changed = [name for name in values if getattr(member, name) != before[name]]
        if changed:
            events.member_updated_publish(member=member, changed=changed)
    return member, created


@transaction.atomic
def member_anonymise(*, merchant: Merchant, member: Member) -> Member:
    """Erase personal data on request (the CRM attributes the schema does not mark as
    non-personal too); the ledger, orders and balances stay whole. No
    actor: nothing about the request is kept beside the member (``anonymised_at`` only)."""
    member = locks.member_lock_of(merchant=merchant, member_id=member.pk)
    member.email = ""
    member.first_name = ""
    member.last_name = ""
    member.country = ""
    member.locale = ""
    member.birthday = None
    member.marketing_consent = False
    member.attributes = attributes_kept_on_erasure(
        attribute_schema(merchant=merchant), member.attributes or {}
    )
    member.status = MemberStatus.ANONYMISED
    member.anonymised_at = timezone.now()
    member.save()
    return member


def member_adjust_points(
    *, merchant: Merchant, member: Member, points: int, reason: str, actor: Actor
) -> LedgerEntry:
    """A correction, plus or minus, with a reason and who made it (a staff user, or the
    store's key through the API) recorded."""
    program = program_get_active(merchant=merchant)
    now = timezone.now()
    return ledger.points_adjust(
        member=member,
        points=points,
        reason=reason,
        at=now,
        expires_at=lot_expiry(program, now),
        source_ref=user.get_username() if (user := actor_user(actor)) is not None else "",
        actor=actor,
    )


# -- orders ------------------------------------------------------------------------------


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


def order_digest(data: OrderInput) -> str:
    """``request_digest(asdict(data))`` without ``asdict``'s deep copies (the same
    mapping, so the same digest)."""
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


def _check_when(at: datetime.datetime, field: str) -> None:
    if at > timezone.now() + datetime.timedelta(days=1):
        raise DomainError(f"{field} is in the future.", field=field)
    if at < EARLIEST:
        raise DomainError(f"{field} is before {EARLIEST:%Y-%m-%d}.", field=field)


def validate_order(data: OrderInput) -> None:
    _check_when(data.placed_at, "placed_at")
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
    """Record an order and credit what it earns (pending for the program's return window)."""
    digest = order_digest(data)
    validate_order(data)
    store = order_store(merchant, data)
    try:
        with transaction.atomic():
            order = _order_create(merchant, data, digest, store, actor)
        return Recorded(obj=order, replayed=False)
    except (IntegrityError, NoActiveProgram):
        # Recorded before (a replay needs no active program), or by a concurrent request.
        existing = Order.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        return replay(existing, digest, "Order")


def _member_locked(merchant: Merchant, external_id: str, fields: dict[str, Any] | None) -> Member:
    """The member an order or activity is for, row-locked and annotated with the merchant's
    ``config_version`` as of this transaction; an unknown member is created with ``fields``
    (a known member's profile is left as it is), or, when ``fields`` is None, is a 404.
    The caller puts the tier on it with ``member_tier_attach`` once it has the program's
    configuration."""
    try:
        member = locks.member_lock_with_config_version(merchant=merchant, external_id=external_id)
    except Member.DoesNotExist:
        if fields is None:
            raise NotFound("No member with that external_id.", field="member") from None
        new = Member(merchant=merchant, external_id=external_id, **_clean_member_fields(fields))
        new.full_clean(
            exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False
        )
        # INSERT ... ON CONFLICT DO NOTHING: when a concurrent request creates the same
        # member, its row wins (this waits for it) and is the one locked below, and only
        # the request whose row went in reports the new member.
        created = _member_insert(new)
        member = locks.member_lock_with_config_version(merchant=merchant, external_id=external_id)
        if created:
            events.member_created_publish(member=member)
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {member.status}.", field="member")
    return member


def _member_insert(member: Member) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING``: whether the row went in. One
    statement, as ``bulk_create(ignore_conflicts=True)``, which cannot say so."""
    return member.external_id in _members_insert([member])


def _members_insert(members: list[Member]) -> set[str]:
    """Insert ``members`` in one statement, skipping those that exist (a concurrent
    request's row wins); returns the ``external_id`` of those that went in."""
    if not members:
        return set()
    using = router.db_for_write(Member)
    fields = [f for f in Member._meta.concrete_fields if not f.primary_key]
    query = sql.InsertQuery(Member, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, members)
    compiler = query.get_compiler(using=using)
    features = compiler.connection.features
    returning = (
        features.can_return_rows_from_bulk_insert
        if len(members) > 1
        else features.can_return_columns_from_insert
    )
    if returning:
        compiler.returning_fields = [Member._meta.get_field("external_id")]
    inserted: set[str] = set()
    with compiler.connection.cursor() as cursor:
        for statement, params in compiler.as_sql():
            cursor.execute(statement, params)
            if returning:
                inserted.update(row[0] for row in cursor.fetchall())
            elif cursor.rowcount == len(members):
                inserted.update(member.external_id for member in members)
    return inserted


def members_create_quietly(
    *, merchant: Merchant, fields_by_external_id: dict[str, dict[str, Any]]
) -> dict[str, DomainError]:
    """Create the members an order batch names that do not exist yet, each with its
    first order's profile fields, as a single order creates one; a member created
    meanwhile by a concurrent request is left as it is. Returns the members whose fields
    are not valid, with why (they are not created)."""
    new, refused = [], {}
    for external_id, fields in fields_by_external_id.items():
        member = Member(merchant=merchant, external_id=external_id, **_clean_member_fields(fields))
        try:
            member.full_clean(
                exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            name, messages = next(iter(error.message_dict.items()))
            refused[external_id] = DomainError(" ".join(messages), field=f"member.{name}")
            continue
        new.append(member)
    inserted = _members_insert(new)
    batch = WriteBatch()
    for member in new:
        if member.external_id in inserted:
            events.member_created_publish(member=member, batch=batch)
    batch.execute()
    return refused


def member_tier_attach(member: Member, config: ProgramConfig) -> None:
    """Attach the locked member's tier: from the cached configuration when tiers are on
    (no query), otherwise read now, under the lock."""
    if member.tier_id is None:
        member.tier = None
        return
    for tier in config.tiers:
        if tier.pk == member.tier_id:
            member.tier = tier
            return
    member.tier = Tier.objects.get(pk=member.tier_id)


def _order_facts(
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
    member = _member_locked(merchant, data.member_external_id, data.member_fields)
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
    conversion, facts = _order_facts(program, data, store)
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
    batch.insert_many(
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
    return BuiltOrder(order=order, member=member, earned=earned, entry=entry)


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
    the tier upgrades in one query and one statement."""
    for one in built:
        earning.on_exhausted(one.earned.exhausted)
        one.order.first_lot = one.entry.lot if one.entry else None
    tiers.members_tier_upgrade(
        members=[(one.member, f"order {one.order.external_id}") for one in built],
        program=config.program,
        tiers=config.tiers,
        at=now,
        actor=actor,
    )


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
    _check_when(placed_at, "placed_at")
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


# -- the simulator -----------------------------------------------------------------------


@dataclass(frozen=True)
class Assumed:
    """What to assume of a member who does not exist yet: their tier and segments."""

    tier_name: str | None = None
    segment_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Simulation:
    member: Member | None  # None: hypothetical
    tier: Tier | None
    segment_ids: frozenset[int]
    program: Program
    program_total: Decimal
    evaluation: rules.Evaluation
    at: datetime.datetime


def order_simulate(
    *, merchant: Merchant, data: OrderInput, assumed: Assumed | None = None
) -> Simulation:
    """What ``data`` would earn now, with every rule, tier multiplier and campaign that
    would apply, and why the others would not; writes nothing. An unknown member is
    hypothetical: new, with the tier and segments ``assumed`` (or none)."""
    validate_order(data)
    store = order_store(merchant, data)
    now = timezone.now()
    version = Merchant.objects.values_list("config_version", flat=True).get(pk=merchant.pk)
    config = program_config(merchant_id=merchant.pk, version=version)
    member = (
        Member.objects.select_related("tier")
        .filter(merchant=merchant, external_id=data.member_external_id)
        .first()
    )
    if member is not None and assumed is not None:
        raise DomainError(
            "The member exists: their own tier and segments are used.", field="assume"
        )
    if member is not None and member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {member.status}.", field="member")
    tier, segment_ids = None, None
    if member is None:
        tier, segment_ids = _assumed(merchant, config, assumed or Assumed())
    else:
        tier = member.tier
    conversion, facts = _order_facts(config.program, data, store)
    member_facts = earning.member_facts(
        merchant=merchant,
        member=member,
        rule_rows=config.order_rules,
        at=data.placed_at,
        campaigns=config.campaigns,
        segment_ids=segment_ids,
        tier=tier,
    )
    evaluation = earning.evaluate(config, member_facts, facts, now)
    return Simulation(
        member=member,
        tier=tier,
        segment_ids=member_facts.segment_ids,
        program=config.program,
        program_total=conversion.amount,
        evaluation=evaluation,
        at=now,
    )


def _assumed(
    merchant: Merchant, config: ProgramConfig, assumed: Assumed
) -> tuple[Tier | None, frozenset[int]]:
    tier = None
    if assumed.tier_name:
        tier = next((t for t in config.tiers if t.name == assumed.tier_name), None)
        if tier is None:
            raise DomainError(f"No tier {assumed.tier_name!r} in the program.", field="assume.tier")
    segment_ids = frozenset(assumed.segment_ids)
    if segment_ids:
        known = set(
            Segment.objects.filter(merchant=merchant, pk__in=segment_ids).values_list(
                "pk", flat=True
            )
        )
        if unknown := segment_ids - known:
            raise DomainError(
                f"No segment {min(unknown)} for this merchant.", field="assume.segments"
            )
    return tier, segment_ids


# -- refunds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundInput:
    external_id: str
    amount: Decimal
    currency: str | None = None


def refund_record(
    *, merchant: Merchant, order_external_id: str, data: RefundInput, actor: Actor
) -> Recorded:
    """Record a full or partial refund and take back, in proportion, the points the order
    earned. Cumulative: after refunds adding up to the total, exactly what the order
    earned has been taken back."""
    order = None
    if is_external_id(order_external_id):
        order = Order.objects.filter(merchant=merchant, external_id=order_external_id).first()
    if order is None:
        raise NotFound("No order with that external_id.", field="order")
    digest = request_digest({"order": order_external_id, **asdict(data)})
    existing = Refund.objects.filter(merchant=merchant, external_id=data.external_id).first()
    if existing is not None:
        return replay(existing, digest, "Refund")
    if data.currency and data.currency != order.currency:
        raise DomainError(
            f"Refunds of this order are in {order.currency}, not {data.currency}.", field="currency"
        )
    if data.amount <= 0:
        raise DomainError("amount must be positive.", field="amount")
    if quantize_money(data.amount, order.currency) != data.amount:
        raise DomainError(f"{order.currency} has fewer decimal places than that.", field="amount")
    try:
        with transaction.atomic():
            return _refund_create(order, data, digest, actor)
    except IntegrityError:
        existing = Refund.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        return replay(existing, digest, "Refund")


def _refund_create(order: Order, data: RefundInput, digest: str, actor: Actor) -> Recorded:
    # The order row lock serialises refunds of one order; the member lock comes after it,
    # in the ledger, in the same order for every refund.
    order = locks.order_lock(order.pk)
    # A duplicate that waited for the lock finds the first one's refund here.
    existing = Refund.objects.filter(merchant_id=order.merchant_id, external_id=data.external_id)
    if existing.exists():
        return replay(existing.get(), digest, "Refund")
    refunded = order.refunded_total + data.amount
    if refunded > order.total:
        raise RefundExceedsOrder(
            f"Refunds would reach {refunded} of an order of {order.total} {order.currency}.",
            field="amount",
        )
    refund = Refund.objects.create(
        merchant_id=order.merchant_id,
        order=order,
        external_id=data.external_id,
        amount=data.amount,
        request_hash=digest,
    )
    target = points_share(order.points_earned, refunded, order.total)
    points = target - order.points_reversed
    reversal = ledger.points_reverse_for_refund(
        member=order.member,
        order=order,
        refund=refund,
        points=points,
        at=timezone.now(),
        actor=actor,
    )
    order.refunded_total = refunded
    order.points_reversed += max(points, 0)
    order.save(update_fields=["refunded_total", "points_reversed"])
    refund.points_reversed = reversal.reversed
    refund.shortfall = reversal.shortfall
    refund.save(update_fields=["points_reversed", "shortfall"])
    return Recorded(obj=refund, replayed=False)


# -- activities --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityInput:
    external_id: str
    member_external_id: str
    kind: str
    occurred_at: datetime.datetime | None = None  # when the store sent none: now
    custom_kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # The profile of a member the activity may create (the store sent a member object);
    # None when the store named the member by external_id alone: they must exist.
    member_fields: dict[str, Any] | None = None


def activity_record(*, merchant: Merchant, data: ActivityInput, actor: Actor) -> Recorded:
    """Record a non-purchase activity and credit what the program's rules give for it.

    An activity creates its member only from a member object (``member_fields`` given);
    a member named by external_id alone must exist, or it is a 404 on ``member``. (An
    order creates its member either way: a purchase is how a customer becomes one.)"""
    # How the member was named is not part of what the activity is: the same activity
    # sent once with a member object and again with the bare id is a replay.
    digest = request_digest({**asdict(data), "member_fields": data.member_fields or {}})
    if data.kind not in ActivityKind.values:
        raise DomainError(f"Unknown activity kind {data.kind!r}.", field="kind")
    if data.kind == ActivityKind.CUSTOM and not data.custom_kind.strip():
        raise DomainError("A custom activity needs custom_kind.", field="custom_kind")
    if data.occurred_at is not None:
        _check_when(data.occurred_at, "occurred_at")
    try:
        with transaction.atomic():
            activity = _activity_create(merchant, data, digest, actor)
        return Recorded(obj=activity, replayed=False)
    except (IntegrityError, NoActiveProgram):
        existing = Activity.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        return replay(existing, digest, "Activity")


def _activity_create(
    merchant: Merchant, data: ActivityInput, digest: str, actor: Actor
) -> Activity:
    now = timezone.now()
    occurred_at = data.occurred_at or now
    member = _member_locked(merchant, data.member_external_id, data.member_fields)
    config = program_config(merchant_id=merchant.pk, version=member.config_version)
    member_tier_attach(member, config)
    custom_kind = data.custom_kind.strip()
    kind = custom_kind if data.kind == ActivityKind.CUSTOM else data.kind
    facts = rules.ActivityFacts(kind=kind, occurred_at=occurred_at)
    earned = earning.earn(merchant=merchant, member=member, config=config, event=facts, now=now)
    evaluation = earned.evaluation
    batch = WriteBatch()
    activity = Activity(
        merchant=merchant,
        member=member,
        external_id=data.external_id,
        kind=data.kind,
        custom_kind=custom_kind,
        occurred_at=occurred_at,
        data=data.data,
        request_hash=digest,
        points_earned=evaluation.points,
        explanation=evaluation.explanation(),
    )
    batch.insert(activity)
    entry = ledger.points_earn(
        member=member,
        member_locked=True,
        batch=batch,
        points=evaluation.points,
        at=now,
        available_at=now,
        expires_at=lot_expiry(config.program, now),
        source_type=LedgerEntry.Source.ACTIVITY,
        source_ref=data.external_id,
        activity=activity,
        reason=f"{kind} {data.external_id}",
        actor=actor,
    )
    earning.awards_record(
        evaluation=evaluation,
        member=member,
        entry=entry,
        at=occurred_at,
        batch=batch,
        activity=activity,
    )
    batch.execute()
    earning.on_exhausted(earned.exhausted)
    return activity


# -- exchange rates ---------------------------------------------------------------------


def exchange_rate_save(*, rate: ExchangeRate) -> ExchangeRate:
    """Store a rate staff entered or corrected; the apps that price from rates (the
    catalog) hear of its currencies and reprice once the change commits."""
    with transaction.atomic():
        rate.save()
        rates_changed(currencies={rate.base, rate.quote})
    return rate


def exchange_rate_delete(*, rate: ExchangeRate) -> None:
    """Delete a rate staff entered by mistake; the apps that price from rates hear of
    its currencies as for a change."""
    with transaction.atomic():
        rate.delete()
        rates_changed(currencies={rate.base, rate.quote})
