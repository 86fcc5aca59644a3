"""Drafting a month's invoice from the fee plan and the month's usage records alone."""

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.actors import Actor
from core.hooks import app_hooks
from core.site_time import site_today
from merchants import invoice_rules, locks
from merchants.exceptions import InvalidPeriod, NoFeePlan, UsageCurrencyMismatch
from merchants.invoices.lifecycle import invoice_event_write
from merchants.invoices.parties import billing_profile_find, invoice_totals, tax_terms_for
from merchants.models import (
    FeePlan,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Merchant,
    UsageKind,
    UsageRecord,
)


def fee_plan_for_month(
    *, merchant: Merchant, period_start: datetime.date, period_end: datetime.date
) -> FeePlan | None:
    """The plan in force on the month's first day, else the first one starting in it."""
    plans = merchant.fee_plans.all()
    in_force = plans.filter(valid_from__lte=period_start).order_by("-valid_from").first()
    if in_force is not None:
        return in_force
    return plans.filter(valid_from__lte=period_end).order_by("valid_from").first()


def _period_datetimes(start: datetime.date, end: datetime.date):
    utc = datetime.UTC
    return (
        datetime.datetime.combine(start, datetime.time.min, tzinfo=utc),
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=utc),
    )


def month_usage(
    *, merchant: Merchant, period_start: datetime.date, period_end: datetime.date, currency: str
) -> invoice_rules.MonthUsage:
    """The month's usage records (UTC days), summed by kind. Amounts must be in the plan's
    currency: a record that is not (billed at face value when a rate was missing) stops the
    draft, for Finance to settle, rather than be added to other money."""
    start, end = _period_datetimes(period_start, period_end)
    records = UsageRecord.objects.filter(
        merchant=merchant, occurred_at__gte=start, occurred_at__lt=end
    )
    foreign = list(
        records.filter(kind=UsageKind.REDEMPTION)
        .exclude(currency=currency)
        .values_list("source_ref", flat=True)[:5]
    )
    if foreign:
        raise UsageCurrencyMismatch(
            f"Usage records not in {currency}: {', '.join(foreign)}.", field="currency"
        )
    totals = {
        row["kind"]: row
        for row in records.values("kind").annotate(
            quantity=Sum("quantity"), reward_value=Sum("reward_value")
        )
    }
    redemptions = totals.get(UsageKind.REDEMPTION, {})
    return invoice_rules.MonthUsage(
        active_members=int(totals.get(UsageKind.ACTIVE_MEMBERS, {}).get("quantity") or 0),
        redemptions=int(redemptions.get("quantity") or 0),
        reward_value=Decimal(redemptions.get("reward_value") or 0),
    )


def _plan_terms(plan: FeePlan) -> invoice_rules.PlanTerms:
    return invoice_rules.PlanTerms(
        currency=plan.currency,
        monthly_platform_fee=plan.monthly_platform_fee,
        fee_per_active_member=plan.fee_per_active_member,
        fee_per_redemption=plan.fee_per_redemption,
        reward_margin_percent=plan.reward_margin_percent,
    )


def invoice_lines_write(invoice: Invoice, lines: Sequence[invoice_rules.Line]) -> None:
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            code=line.code,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for position, line in enumerate(lines, start=1)
    )


def _draft_unchanged(invoice: Invoice, fields: dict, lines: Sequence[invoice_rules.Line]) -> bool:
    """Whether the draft already holds these fields and lines (a scheduled run repeated,
    or two at once: the second finds the first's draft under the merchant's lock)."""
    if any(getattr(invoice, name) != value for name, value in fields.items()):
        return False
    stored = invoice.lines.order_by("position").values_list(
        "code", "description", "quantity", "unit_price", "amount"
    )
    wanted = [
        (line.code, line.description, line.quantity, line.unit_price, line.amount) for line in lines
    ]
    return list(stored) == wanted


def usage_collect(
    *, merchant: Merchant, period_start: datetime.date, period_end: datetime.date
) -> None:
    """Ask every app to post the month's usage it owes (``billing_usage_collectors`` on its
    AppConfig: a callable taking ``merchant``, ``period_start`` and ``period_end``, the
    first and last day of the month, that posts through ``usage_record_post``)."""
    for collect in app_hooks("billing_usage_collectors"):
        collect(merchant=merchant, period_start=period_start, period_end=period_end)


def invoice_draft(*, merchant: Merchant, year: int, month: int, actor: Actor) -> Invoice:
    """The merchant's invoice for the month, drafted (or rebuilt while still a draft).
    An issued, paid invoice of the month is returned as it is."""
    try:
        period_start, period_end = invoice_rules.month_bounds(int(year), int(month))
    except (TypeError, ValueError):
        raise InvalidPeriod(f"{year}-{month} is not a month.", field="month") from None
    if period_end >= site_today():
        raise InvalidPeriod("A month is invoiced once it is over.", field="month")
    plan = fee_plan_for_month(merchant=merchant, period_start=period_start, period_end=period_end)
    if plan is None:
        raise NoFeePlan(f"{merchant} has no fee plan for {period_start:%Y-%m}.", field="month")
    usage_collect(merchant=merchant, period_start=period_start, period_end=period_end)
    with transaction.atomic():
        locks.merchant_lock(merchant=merchant)
        invoice = (
            Invoice.objects.filter(
                merchant=merchant, kind=InvoiceKind.INVOICE, period_start=period_start
            )
            .exclude(status=InvoiceStatus.VOID)
            .first()
        )
        if invoice is not None and invoice.status != InvoiceStatus.DRAFT:
            return invoice
        usage = month_usage(
            merchant=merchant,
            period_start=period_start,
            period_end=period_end,
            currency=plan.currency,
        )
        lines = invoice_rules.invoice_lines(plan=_plan_terms(plan), usage=usage)
        totals = invoice_totals(
            subtotal=invoice_rules.lines_subtotal(lines, plan.currency),
            terms=tax_terms_for(profile=billing_profile_find(merchant=merchant)),
            currency=plan.currency,
        )
        fields = {"currency": plan.currency, "fee_plan": plan, **totals}
        if invoice is not None and _draft_unchanged(invoice, fields, lines):
            return invoice  # drafted again to the same figures: nothing to write or record
        if invoice is None:
            invoice = Invoice.objects.create(
                merchant=merchant,
                kind=InvoiceKind.INVOICE,
                period_start=period_start,
                period_end=period_end,
                **fields,
            )
            from_status = ""
            reason = f"Drafted from the fee plan of {plan.valid_from} and the month's usage."
        else:
            Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.DRAFT).update(
                updated_at=timezone.now(), **fields
            )
            invoice.lines.all().delete()
            from_status = InvoiceStatus.DRAFT
            reason = "Drafted again from the fee plan and the month's usage."
        invoice_lines_write(invoice, lines)
        invoice_event_write(
            invoice=invoice,
            from_status=from_status,
            to_status=InvoiceStatus.DRAFT,
            reason=reason,
            actor=actor,
        )
    invoice.refresh_from_db()
    return invoice
