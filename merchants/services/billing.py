"""What a merchant is billed by: its fee plans, and usage records posted once."""

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connections, router, transaction
from django.db.models import sql
from django.db.models.constants import OnConflict

from core.actors import Actor, actor_user
from merchants.models import ChecklistItem, FeePlan, Merchant, UsageRecord
from merchants.services.lifecycle import checklist_item_complete


@transaction.atomic
def fee_plan_create(
    *,
    merchant: Merchant,
    valid_from: datetime.date,
    monthly_platform_fee: Decimal,
    fee_per_active_member: Decimal,
    fee_per_redemption: Decimal,
    reward_margin_percent: Decimal,
    currency: str | None = None,
    actor: Actor,
) -> FeePlan:
    """A fee plan from ``valid_from`` on; ticks the "fee plan set" checklist item."""
    plan = FeePlan(
        merchant=merchant,
        currency=currency or merchant.default_currency,
        monthly_platform_fee=monthly_platform_fee,
        fee_per_active_member=fee_per_active_member,
        fee_per_redemption=fee_per_redemption,
        reward_margin_percent=reward_margin_percent,
        valid_from=valid_from,
        created_by=actor_user(actor),
    )
    plan.full_clean()
    plan.save()
    checklist_item_complete(
        merchant=merchant,
        item=ChecklistItem.FEE_PLAN_SET,
        note=f"fee plan from {valid_from}",
        actor=actor,
    )
    return plan


def usage_record_post(
    *,
    merchant: Merchant,
    kind: str,
    source_ref: str,
    occurred_at: datetime.datetime,
    currency: str,
    reward_value: Decimal = Decimal(0),
    cost: Decimal | None = None,
    fee: Decimal = Decimal(0),
    quantity: int = 1,
    fee_plan: FeePlan | None = None,
    details: dict | None = None,
) -> UsageRecord:
    """Post a billable event once: posting the same ``kind`` and ``source_ref`` again
    returns the first record unchanged (a retried task never bills twice)."""
    record = UsageRecord(
        merchant=merchant,
        kind=kind,
        source_ref=source_ref,
        occurred_at=occurred_at,
        currency=currency,
        reward_value=reward_value,
        cost=cost,
        fee=fee,
        quantity=quantity,
        fee_plan=fee_plan,
        details=details or {},
    )
    pk = _usage_record_insert(record)
    if pk is None:
        try:
            return UsageRecord.objects.get(merchant=merchant, kind=kind, source_ref=source_ref)
        except UsageRecord.DoesNotExist:
            # Not posted before, so another constraint refused it (SQLite's INSERT OR
            # IGNORE skips a failed CHECK too): the plain insert raises its error.
            record.save(force_insert=True)
            return record
    record.pk = pk
    record._state.adding = False
    record._state.db = router.db_for_write(UsageRecord)
    return record


def usage_records_post(*, records: Sequence[dict[str, Any]]) -> None:
    """Post many billable events, each once: ``records`` holds the keyword arguments of
    ``usage_record_post``, one dict a record. On PostgreSQL one ``INSERT … ON CONFLICT DO
    NOTHING`` for all of them (a record posted before is skipped; any other violation
    raises); elsewhere one ``usage_record_post`` each (SQLite's ``INSERT OR IGNORE`` would
    skip a failed CHECK as well)."""
    if connections[router.db_for_write(UsageRecord)].vendor != "postgresql":
        for fields in records:
            usage_record_post(**fields)
        return
    rows = [UsageRecord(**{**fields, "details": fields.get("details") or {}}) for fields in records]
    if rows:
        UsageRecord.objects.bulk_create(rows, ignore_conflicts=True)


def _usage_record_insert(record: UsageRecord) -> int | None:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id``: the new row's id, or ``None`` when
    ``usage_posted_once`` already holds the record (or the database returns no ids).

    One statement in the usual case, where ``get_or_create`` takes four (a read, then the
    insert inside a savepoint). A conflict is no error, so the caller's transaction goes
    on; two posts at once insert one row (the second waits for the first to commit).
    ``bulk_create(ignore_conflicts=True)`` writes the same statement but cannot say
    whether the row went in, hence Django's insert query with the id asked back."""
    using = router.db_for_write(UsageRecord)
    fields = [f for f in UsageRecord._meta.concrete_fields if not f.primary_key]
    query = sql.InsertQuery(UsageRecord, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [record])
    compiler = query.get_compiler(using=using)
    returning = compiler.connection.features.can_return_columns_from_insert
    if returning:
        compiler.returning_fields = [UsageRecord._meta.pk]
    ((statement, params),) = compiler.as_sql()
    with compiler.connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone() if returning else None
    return row[0] if row else None
