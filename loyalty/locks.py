"""Every row lock the loyalty app takes, in one place, so the lock order can be read here.

- A member's row is the lock that serialises every change to their points: it is taken
  first, and their lots and an entry's movements are only locked under it (so the order
  those are locked in, oldest lot first, cannot deadlock).
- An order is locked before its member (refunds of one order queue on the order).
- An order of a known member is first evaluated and built on the member's row as last
  committed, unlocked (``member_read``), and written in one statement that locks the row
  as it moves it, and only if what the order earns could not have changed meanwhile
  (``orders._order_at_once``); the lock is held inside that statement alone.
- Otherwise, an order whose member another transaction holds reads the member's row as
  last committed, unlocked, to evaluate and build itself while it waits, then waits for
  the lock like any other (``member_lock_or_read``); nothing is locked in between.
- The program is locked alone (its configuration changes).
- Several members are locked in primary-key order (the scheduled jobs), skipping rows
  another worker holds on PostgreSQL: that worker is already handling them. A batch of
  orders first takes the members no one holds, skipping the others, and commits; then it
  waits for the rest in primary-key order, holding nothing else.
"""

from collections.abc import Iterable

from django.db import connection, router
from django.db.models import F, QuerySet

from loyalty.models import LedgerEntry, LotMovement, Member, Order, PointLot, Program
from loyalty.segments.query import current_segment_ids
from merchants.models import Merchant


def program_lock_active(*, merchant: Merchant) -> Program | None:
    return Program.objects.select_for_update().filter(merchant=merchant, is_active=True).first()


def member_lock(member_id: int) -> Member:
    """The member row, locked until the transaction ends."""
    return Member.objects.select_for_update().get(pk=member_id)


def member_lock_of(*, merchant: Merchant, member_id: int) -> Member:
    return Member.objects.select_for_update().get(pk=member_id, merchant=merchant)


def member_lock_by_external_id(*, merchant: Merchant, external_id: str) -> Member | None:
    return (
        Member.objects.select_for_update().filter(merchant=merchant, external_id=external_id)
    ).first()


def _member_annotated() -> QuerySet[Member]:
    return Member.objects.annotate(
        config_version=F("merchant__config_version"), segment_list=current_segment_ids()
    )


def _member_with_config_version() -> QuerySet[Member]:
    # No select_related("tier"): when this query waits for the lock, PostgreSQL re-reads
    # the member row it waited for but keeps the joined tier row from before the wait, so
    # a concurrent upgrade would leave tier_id pointing past a stale or empty tier.
    return _member_annotated().select_for_update(of=("self",))


# Every order builds the same statement; building it through the ORM (the subquery, the
# joins, the compilation) costs more CPU than PostgreSQL spends running it. It is built
# once a database, with marks where the merchant and the external_id go, and run as a raw
# query of the same model (the same columns, converters and annotations).
_MERCHANT_MARK = -7_317_000_001
_EXTERNAL_ID_MARK = "\x01member-lock-external-id\x01"
_member_lock_sql: dict[tuple[str, str], tuple[str, tuple[int, ...], tuple[int, ...]]] = {}


def _compiled(queryset: QuerySet[Member], using: str) -> tuple[str, list[object]]:
    queryset = (
        queryset.using(using)
        .filter(merchant_id=_MERCHANT_MARK, external_id=_EXTERNAL_ID_MARK)
        .order_by()
    )
    statement, params = queryset.query.get_compiler(using=using).as_sql()
    params = list(params)
    if sorted(map(repr, params)) != sorted(map(repr, (_MERCHANT_MARK, _EXTERNAL_ID_MARK))):
        raise RuntimeError(f"unexpected parameters of the member lock: {params!r}")
    return statement, params


def _member_lock_statement(
    using: str, variant: str = "lock"
) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The statement of ``variant`` and where its merchant and external_id marks go:
    "lock" waits for the member's lock; "lock_or_read" takes it when no one holds it and
    otherwise reads the row as last committed (see ``member_lock_or_read``); "read" reads
    it as last committed."""
    compiled = _member_lock_sql.get((using, variant))
    if compiled is None:
        if variant == "lock":
            statement, params = _compiled(_member_with_config_version(), using)
        elif variant == "read":
            statement, params = _compiled(_member_annotated(), using)
        else:
            taking, taking_params = _compiled(
                _member_annotated().select_for_update(of=("self",), skip_locked=True), using
            )
            reading, reading_params = _compiled(_member_annotated(), using)
            # Both parts are the ORM's own compiled SQL; the values are parameters.
            statement = (
                f"WITH locked AS ({taking}) SELECT locked.*, true AS held FROM locked "  # noqa: S608
                f"UNION ALL SELECT unlocked.*, false AS held FROM ({reading}) AS unlocked "
                "WHERE NOT EXISTS (SELECT 1 FROM locked)"
            )
            params = taking_params + reading_params
        compiled = (
            statement,
            tuple(i for i, value in enumerate(params) if value == _MERCHANT_MARK),
            tuple(i for i, value in enumerate(params) if value == _EXTERNAL_ID_MARK),
        )
        _member_lock_sql[(using, variant)] = compiled
    return compiled


def _member_run(merchant: Merchant, external_id: str, variant: str) -> Member | None:
    using = router.db_for_write(Member)
    statement, merchant_at, external_id_at = _member_lock_statement(using, variant)
    params: list[object] = [None] * (len(merchant_at) + len(external_id_at))
    for index in merchant_at:
        params[index] = merchant.pk
    for index in external_id_at:
        params[index] = external_id
    rows = list(Member.objects.raw(statement, params).using(using))
    return rows[0] if rows else None


def member_lock_with_config_version(*, merchant: Merchant, external_id: str) -> Member:
    """The member an order or activity is for, annotated with the merchant's
    ``config_version`` as of this transaction and the segments they are in now
    (``segment_list``); raises ``Member.DoesNotExist``."""
    member = _member_run(merchant, external_id, "lock")
    if member is None:
        raise Member.DoesNotExist("Member matching query does not exist.")
    return member


def member_read(*, merchant: Merchant, external_id: str) -> Member | None:
    """The member an order is for, as last committed, unlocked, annotated as
    ``member_lock_with_config_version`` annotates them; None for an unknown member."""
    return _member_run(merchant, external_id, "read")


def member_lock_or_read(*, merchant: Merchant, external_id: str) -> tuple[Member, bool] | None:
    """The member an order is for, annotated as ``member_lock_with_config_version``
    annotates them, and whether they are locked now: when another transaction holds
    their row (PostgreSQL), the row as last committed, unlocked, without waiting; None
    for an unknown member. One statement, as the lock alone."""
    if not connection.features.has_select_for_update_skip_locked:
        try:
            return member_lock_with_config_version(merchant=merchant, external_id=external_id), True
        except Member.DoesNotExist:
            return None
    member = _member_run(merchant, external_id, "lock_or_read")
    return None if member is None else (member, member.held)


def members_lock_with_config_version(
    *, merchant: Merchant, external_ids: Iterable[str], skip_locked: bool = False
) -> dict[str, Member]:
    """The members of an order batch by ``external_id``, locked in primary-key order,
    annotated as ``member_lock_with_config_version`` annotates one; the unknown are
    absent, and with ``skip_locked`` (PostgreSQL) so are those another transaction
    holds."""
    queryset = _member_with_config_version()
    if skip_locked:
        queryset = queryset.select_for_update(of=("self",), skip_locked=True)
    rows = queryset.filter(merchant=merchant, external_id__in=list(external_ids)).order_by("pk")
    return {member.external_id: member for member in rows}


def members_lock_batch(member_ids: Iterable[int]) -> list[Member]:
    """A job's batch of members, in primary-key order; on PostgreSQL the rows another
    transaction holds are skipped."""
    queryset = Member.objects.filter(pk__in=list(member_ids)).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        return list(queryset.select_for_update(skip_locked=True))
    return list(queryset.select_for_update())


def lots_lock(lots: QuerySet[PointLot]) -> QuerySet[PointLot]:
    """``lots`` locked, a member's oldest first (the order they are consumed in)."""
    return lots.select_for_update().order_by("member_id", "earned_at", "id")


def lots_spendable_lock(member: Member) -> QuerySet[PointLot]:
    """A locked member's available lots, oldest first."""
    return lots_lock(
        PointLot.objects.filter(member=member, remaining__gt=0, released_at__isnull=False)
    )


def lots_pending_of_order_lock(order: Order) -> QuerySet[PointLot]:
    return lots_lock(
        PointLot.objects.filter(order=order, remaining__gt=0, released_at__isnull=True)
    )


def movements_of_entry_lock(entry: LedgerEntry) -> list[LotMovement]:
    """The lots a spend took, with them, locked (its member is)."""
    return list(entry.movements.select_related("lot").select_for_update().order_by("pk"))


def order_lock(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)
