"""Orders in bulk: up to 1,000 a call (back-fills, imports, stores that batch), each
idempotent by its ``external_id`` and answered on its own, written set-based.

How a batch is written:

1. Each item is checked as ``order_record`` checks one; an item that fails is answered
   with its problem and takes no further part.
2. The orders recorded before (one query for all the batch's ids) are replays, or
   conflicts when the body differs; an id given twice in the batch is the same: the
   second is a replay of the first.
3. In two transactions: the first takes the members that exist and that no other
   transaction holds (``SKIP LOCKED``, so that concurrent calls for overlapping members
   run side by side) and records their orders; the second waits for the rest, locked in
   primary-key order while holding nothing else (the unknown ones created first, as a
   single order creates them), and records theirs. In each, the rules are evaluated
   in Python for each order; the orders, their lines, the ledger entries, the lots, the
   awards and the members' balances are written in a few statements for the whole
   batch (one ``WriteBatch``: on PostgreSQL the primary keys of the orders and ledger
   entries are drawn from their sequences first, so that every table is one multi-row
   insert). A member with several orders in the batch has them written in rounds, one
   order of theirs per round, so that each is evaluated on what the one before it
   earned (a capped rule, a tier reached).
   A member's orders are all written in the same transaction, in the batch's order.
4. If a concurrent request recorded one of the batch's ids meanwhile, that transaction
   rolls back and each of its items is recorded on its own, as ``order_record`` does.
"""

import contextlib
import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from loyalty import locks
from loyalty.batch import WriteBatch
from loyalty.exceptions import MemberNotActive, NoActiveProgram
from loyalty.models import LedgerEntry, Member, MemberStatus, Order
from loyalty.program_config import ProgramConfig, program_config
from loyalty.recording import replay
from loyalty.services.members import member_tier_attach, members_create_quietly
from loyalty.services.orders import (
    BuiltOrder,
    OrderInput,
    order_build,
    order_digest,
    order_record,
    order_store,
    orders_built_after,
    validate_order,
)
from merchants.models import Merchant, Store
from merchants.services.stores import store_event_record

MAX_ORDERS = 1000
# Passes that take only the members no other transaction holds, before one that waits.
SKIP_LOCKED_PASSES = 3


@dataclass(frozen=True)
class BulkResult:
    """One item's answer: ``created`` or ``replayed`` with its order, or ``error``."""

    status: str
    order: Order | None = None
    error: DomainError | None = None


@dataclass
class _Item:
    index: int
    data: OrderInput
    digest: str
    store: Store | None


def orders_record_bulk(
    *,
    merchant: Merchant,
    items: Sequence[OrderInput | DomainError],
    actor: Actor,
) -> list[BulkResult]:
    """Record each order (an item that failed to parse is its ``DomainError``); the
    answers come in the items' order."""
    results: list[BulkResult | None] = [None] * len(items)
    stores: dict[str | None, Store | None] = {None: None}
    pending: list[_Item] = []
    first_of: dict[str, _Item] = {}
    repeats: list[_Item] = []
    for index, item in enumerate(items):
        if isinstance(item, DomainError):
            results[index] = BulkResult("error", error=item)
            continue
        try:
            validate_order(item)
            if item.store_public_id not in stores:
                stores[item.store_public_id] = store = order_store(merchant, item)
                if store is not None:
                    store_event_record(store=store)
        except DomainError as error:
            results[index] = BulkResult("error", error=error)
            continue
        entry = _Item(index, item, order_digest(item), stores[item.store_public_id])
        if item.external_id in first_of:
            repeats.append(entry)
        else:
            first_of[item.external_id] = entry
            pending.append(entry)
    recorded = {
        order.external_id: order
        for order in Order.objects.filter(
            merchant=merchant, external_id__in=[item.data.external_id for item in pending]
        )
    }
    fresh: list[_Item] = []
    for item in pending:
        existing = recorded.get(item.data.external_id)
        if existing is None:
            fresh.append(item)
        else:
            results[item.index] = _replayed(existing, item.digest)
    if fresh:
        written = _write_all(merchant, fresh, actor)
        results = [written.get(index, result) for index, result in enumerate(results)]
    for item in repeats:
        first = results[first_of[item.data.external_id].index]
        if first is not None and first.order is not None:
            results[item.index] = _replayed(first.order, item.digest)
        else:
            results[item.index] = first
    return [result if result is not None else BulkResult("error") for result in results]


def _write_all(merchant: Merchant, items: list[_Item], actor: Actor) -> dict[int, BulkResult]:
    """Record the new orders, each pass in its own transaction: first those of the members
    no other transaction holds (concurrent calls for overlapping members then run side by
    side instead of one after the other), again while that finds some (the others commit
    meanwhile), then the rest, waiting for their members."""
    written: dict[int, BulkResult] = {}
    skipping = SKIP_LOCKED_PASSES if connection.features.has_select_for_update_skip_locked else 0
    while left := [item for item in items if item.index not in written]:
        skip_locked = skipping > 0
        skipping -= 1
        try:
            with transaction.atomic():
                found = _write(merchant, left, actor, skip_locked=skip_locked)
        except IntegrityError:
            found = {item.index: _one(merchant, item, actor) for item in left}
        written.update(found)
        if not skip_locked:
            break
        if not found:
            skipping = 0  # nothing free: wait for the rest
    return written


def _replayed(order: Order, digest: str) -> BulkResult:
    try:
        return BulkResult("replayed", order=replay(order, digest, "Order").obj)
    except DomainError as error:
        return BulkResult("error", error=error)


def _one(merchant: Merchant, item: _Item, actor: Actor) -> BulkResult:
    try:
        recorded = order_record(merchant=merchant, data=item.data, actor=actor)
    except DomainError as error:
        return BulkResult("error", error=error)
    return BulkResult("replayed" if recorded.replayed else "created", order=recorded.obj)


def _members_locked(
    merchant: Merchant, items: list[_Item], *, skip_locked: bool
) -> tuple[dict[str, Member], dict[str, DomainError]]:
    """The batch's members, locked in primary-key order; the unknown ones created first
    with the fields of their first order (as a single order creates them). Also the
    members that could not be created, with why. With ``skip_locked``, only the members
    that exist and that no other transaction holds."""
    wanted: dict[str, dict] = {}
    for item in items:
        wanted.setdefault(item.data.member_external_id, item.data.member_fields)
    members = locks.members_lock_with_config_version(
        merchant=merchant, external_ids=wanted, skip_locked=skip_locked
    )
    if skip_locked:
        return members, {}
    missing = {e: fields for e, fields in wanted.items() if e not in members}
    refused: dict[str, DomainError] = {}
    if missing:
        refused = members_create_quietly(merchant=merchant, fields_by_external_id=missing)
        members = locks.members_lock_with_config_version(merchant=merchant, external_ids=wanted)
    return members, refused


def _write(
    merchant: Merchant, items: list[_Item], actor: Actor, *, skip_locked: bool = False
) -> dict[int, BulkResult]:
    """Record ``items``; with ``skip_locked``, only those whose members could be locked
    without waiting (the others are not answered)."""
    now = timezone.now()
    results: dict[int, BulkResult] = {}
    members, refused = _members_locked(merchant, items, skip_locked=skip_locked)
    for item in items:
        if item.data.member_external_id in refused:
            results[item.index] = BulkResult("error", error=refused[item.data.member_external_id])
    items = [
        item
        for item in items
        if item.index not in results and item.data.member_external_id in members
    ]
    if not members:
        return results
    version = max(member.config_version for member in members.values())
    try:
        config = program_config(merchant_id=merchant.pk, version=version)
    except NoActiveProgram as error:
        return {**results, **{item.index: BulkResult("error", error=error) for item in items}}
    for member in members.values():
        member_tier_attach(member, config)
    rounds: dict[int, list[_Item]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)
    for item in items:
        rounds[seen[item.data.member_external_id]].append(item)
        seen[item.data.member_external_id] += 1
    for number in sorted(rounds):
        results.update(_round(merchant, rounds[number], members, config, now, actor))
    return results


def _round(
    merchant: Merchant,
    items: list[_Item],
    members: dict[str, Member],
    config: ProgramConfig,
    now: datetime.datetime,
    actor: Actor,
) -> dict[int, BulkResult]:
    """One order per member: evaluated, then written in one batch."""
    batch = WriteBatch()
    built: list[tuple[_Item, BuiltOrder]] = []
    results: dict[int, BulkResult] = {}
    for item in items:
        member = members[item.data.member_external_id]
        if member.status != MemberStatus.ACTIVE:
            results[item.index] = BulkResult(
                "error",
                error=MemberNotActive(f"The member is {member.status}.", field="member"),
            )
            continue
        # Each order's writes are queued apart and join the round's only when it is
        # built, so an order that fails leaves nothing behind. Campaigns take their
        # budgets as the order is evaluated: then a savepoint per order gives a budget
        # taken for an order that fails back with it (without campaigns nothing is
        # written before the batch, and no savepoint is needed).
        own = WriteBatch()
        try:
            with transaction.atomic() if config.campaigns else contextlib.nullcontext():
                order = order_build(
                    merchant=merchant,
                    member=member,
                    config=config,
                    data=item.data,
                    digest=item.digest,
                    store=item.store,
                    now=now,
                    batch=own,
                    actor=actor,
                )
        except DomainError as error:
            results[item.index] = BulkResult("error", error=error)
            continue
        batch.absorb(own)
        built.append((item, order))
    _draw_keys(batch_orders=[b.order for _, b in built], entries=[b.entry for _, b in built])
    batch.execute()
    orders_built_after(built=[order for _, order in built], config=config, now=now, actor=actor)
    for item, order in built:
        results[item.index] = BulkResult("created", order=order.order)
    return results


def _draw_keys(*, batch_orders: list[Order], entries: list[LedgerEntry | None]) -> None:
    """On PostgreSQL, give the orders and ledger entries their primary keys from their
    sequences in one query each, so that the rows pointing at them (lines, lots, awards)
    are plain multi-row inserts in the batch rather than one insert per order."""
    if connection.vendor != "postgresql" or len(batch_orders) < 2:
        return
    for model, objs in ((Order, batch_orders), (LedgerEntry, [e for e in entries if e])):
        if not objs:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, len(objs)],
            )
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
