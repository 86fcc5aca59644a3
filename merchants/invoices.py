"""Invoices and credit notes: every write. The arithmetic is in ``merchants.invoice_rules``.

- **Drafting** (``invoice_draft``) builds the month's invoice from the fee plan valid for
  the month and that month's usage records alone, after asking every app to post its usage
  (``billing_usage_collectors``). One invoice per merchant and month: drafting again
  rebuilds a draft and returns an issued (or paid) one unchanged. The plan is the one in
  force on the month's first day, or for a merchant whose first plan starts within the
  month, that plan; a plan starting later in the month bills from the next month on.
- **Status** moves only through ``invoice_transition``: draft -> issued -> paid, or
  issued -> void; compare-and-swap, ``InvalidTransition`` for any other move, and an
  ``InvoiceEvent`` row naming who, when, from, to and why.
- **Issuing** copies the billing profile (and the provider's details) onto the invoice,
  settles the tax, and gives the number: ``INV-<year>-000123``, credit notes
  ``CN-<year>-000001``, from a counter row per kind and year locked in the issuing
  transaction, so numbers run without gaps. Nothing changes an issued invoice but its
  status; a correction is a credit note.
- **Credit notes** refer to an issued or paid invoice and never credit more than is left
  of it (its subtotal, and its tax, less earlier credit notes). They are issued at once.

Locks are taken in one order: the merchant (drafting), the invoice credited, the invoice
issued, then the counter.
"""

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from core.actors import Actor, actor_fields, actor_label
from core.currency import is_quantized_for
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from core.hooks import app_hooks
from core.money import quantize_money
from merchants import invoice_rules, locks
from merchants.exceptions import (
    BillingProfileMissing,
    CreditExceedsInvoice,
    InvalidPeriod,
    NoFeePlan,
    UsageCurrencyMismatch,
)
from merchants.models import (
    CREDITABLE_STATUSES,
    INVOICE_TRANSITIONS,
    BillingProfile,
    FeePlan,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Merchant,
    MerchantEvent,
    MerchantStatus,
    UsageKind,
    UsageRecord,
)

logger = logging.getLogger(__name__)

NUMBER_PREFIX = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}


def invoice_number(*, kind: str, year: int, sequence: int) -> str:
    return f"{NUMBER_PREFIX[kind]}-{year}-{sequence:06d}"


# -- the state machine ---------------------------------------------------------------------


def _event(*, invoice: Invoice, from_status: str, to_status: str, reason: str, actor: Actor):
    return InvoiceEvent.objects.create(
        invoice=invoice,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        **actor_fields(actor),
        actor_label=actor_label(actor),
    )


def invoice_transition(
    *, invoice: Invoice, to_status: str, reason: str = "", changes: dict | None = None, actor: Actor
) -> Invoice:
    """Move ``invoice`` to ``to_status`` (with the columns of ``changes`` set in the same
    statement) if ``INVOICE_TRANSITIONS`` allows it; the only way its status changes."""
    if to_status not in InvoiceStatus.values:
        raise InvalidTransition(f"Unknown status {to_status!r}.", field="to_status")
    changes = changes or {}
    with transaction.atomic():
        from_status = Invoice.objects.values_list("status", flat=True).get(pk=invoice.pk)
        if to_status not in INVOICE_TRANSITIONS[from_status]:
            raise InvalidTransition(
                f"{invoice} cannot move from {from_status} to {to_status}.",
                field="to_status",
                from_status=from_status,
                to_status=to_status,
            )
        moved = Invoice.objects.filter(pk=invoice.pk, status=from_status).update(
            status=to_status, updated_at=timezone.now(), **changes
        )
        if not moved:
            raise InvalidTransition(f"{invoice}'s status changed meanwhile; try again.")
        _event(
            invoice=invoice,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
        )
    invoice.refresh_from_db()
    return invoice


# -- drafting ------------------------------------------------------------------------------


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


def _tax_terms(profile: BillingProfile | None) -> invoice_rules.TaxTerms:
    if profile is None:
        return invoice_rules.TaxTerms(rate_percent=Decimal(0))
    return invoice_rules.tax_terms(
        customer_country=profile.country.code or "",
        customer_is_business=profile.is_business,
        customer_tax_id=profile.tax_id,
        customer_rate_percent=profile.tax_rate_percent,
        provider_country=settings.PROVIDER_COUNTRY,
    )


def _profile(merchant: Merchant) -> BillingProfile | None:
    return BillingProfile.objects.filter(merchant=merchant).first()


def _totals(subtotal: Decimal, terms: invoice_rules.TaxTerms, currency: str) -> dict:
    tax = invoice_rules.tax_amount(subtotal, terms.rate_percent, currency)
    return {
        "subtotal": subtotal,
        "tax_rate_percent": terms.rate_percent,
        "tax": tax,
        "total": subtotal + tax,
        "tax_note": terms.note,
    }


def _lines_write(invoice: Invoice, lines: Sequence[invoice_rules.Line]) -> None:
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
    if period_end >= timezone.localdate():
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
        totals = _totals(
            invoice_rules.lines_subtotal(lines, plan.currency),
            _tax_terms(_profile(merchant)),
            plan.currency,
        )
        fields = {"currency": plan.currency, "fee_plan": plan, **totals}
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
        _lines_write(invoice, lines)
        _event(
            invoice=invoice,
            from_status=from_status,
            to_status=InvoiceStatus.DRAFT,
            reason=reason,
            actor=actor,
        )
    invoice.refresh_from_db()
    return invoice


# -- issuing, payment, void ----------------------------------------------------------------


def provider_details() -> dict:
    return {
        "provider_legal_name": settings.PROVIDER_LEGAL_NAME,
        "provider_address": "\n".join(
            line.strip() for line in settings.PROVIDER_ADDRESS.split("|") if line.strip()
        ),
        "provider_country": settings.PROVIDER_COUNTRY,
        "provider_tax_id": settings.PROVIDER_TAX_ID,
    }


def customer_details(profile: BillingProfile) -> dict:
    return {
        "customer_legal_name": profile.legal_name,
        "customer_address": profile.address.strip(),
        "customer_country": profile.country.code or "",
        "customer_tax_id": profile.tax_id.strip(),
        "customer_email": profile.invoice_email,
    }


def _issue_locked(*, invoice: Invoice, changes: dict, reason: str, actor: Actor) -> Invoice:
    """Number ``invoice`` (locked by the caller, a draft) and move it to issued."""
    today = timezone.localdate()
    counter = locks.invoice_counter_lock(kind=invoice.kind, year=today.year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return invoice_transition(
        invoice=invoice,
        to_status=InvoiceStatus.ISSUED,
        reason=reason,
        changes={
            **changes,
            "number": invoice_number(kind=invoice.kind, year=today.year, sequence=counter.last),
            "number_year": today.year,
            "number_sequence": counter.last,
            "issued_on": today,
            "due_on": today + datetime.timedelta(days=settings.INVOICE_PAYMENT_DAYS),
        },
        actor=actor,
    )


def invoice_issue(*, invoice: Invoice, actor: Actor) -> Invoice:
    """Issue a draft invoice: the billing profile as it is now goes onto it, with the tax it
    decides, and the next number of the year."""
    with transaction.atomic():
        current = locks.invoice_lock(invoice=invoice)
        if current.status != InvoiceStatus.DRAFT or current.kind != InvoiceKind.INVOICE:
            raise InvalidTransition(
                f"{current} cannot move from {current.status} to issued.",
                from_status=current.status,
                to_status=InvoiceStatus.ISSUED,
            )
        profile = _profile(current.merchant)
        if profile is None:
            raise BillingProfileMissing(
                f"Give {current.merchant} a billing profile before issuing its invoices."
            )
        changes = {
            **provider_details(),
            **customer_details(profile),
            **_totals(current.subtotal, _tax_terms(profile), current.currency),
        }
        issued = _issue_locked(invoice=current, changes=changes, reason="Issued.", actor=actor)
    invoice.refresh_from_db()
    return issued


def invoice_payment_record(
    *, invoice: Invoice, paid_on: datetime.date, reference: str, actor: Actor
) -> Invoice:
    """Record that an issued invoice was paid in full on ``paid_on``."""
    reference = (reference or "").strip()
    if not reference:
        raise DomainError("Give the payment's reference.", field="reference")
    if not isinstance(paid_on, datetime.date):
        raise DomainError("Give the day the payment arrived.", field="paid_on")
    if paid_on > timezone.localdate():
        raise DomainError("A payment cannot arrive in the future.", field="paid_on")
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvalidTransition("A credit note is not paid.", field="to_status")
    if invoice.issued_on and paid_on < invoice.issued_on:
        raise DomainError("The payment is dated before the invoice was issued.", field="paid_on")
    return invoice_transition(
        invoice=invoice,
        to_status=InvoiceStatus.PAID,
        reason=f"Paid on {paid_on:%Y-%m-%d}, reference {reference}.",
        changes={"paid_on": paid_on, "payment_reference": reference[:120]},
        actor=actor,
    )


def invoice_void(*, invoice: Invoice, reason: str, actor: Actor) -> Invoice:
    """Void an issued invoice that should not have been issued (its number stays used). An
    invoice that credit notes refer to is corrected by them, not voided."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the invoice is voided.", field="reason")
    with transaction.atomic():
        current = locks.invoice_lock(invoice=invoice)
        if current.kind != InvoiceKind.INVOICE:
            raise InvalidTransition("A credit note cannot be voided.", field="to_status")
        if current.status == InvoiceStatus.ISSUED and current.credit_notes.exists():
            raise InvalidTransition(
                f"Credit notes refer to {current}; credit the rest instead.", field="to_status"
            )
        return invoice_transition(
            invoice=invoice, to_status=InvoiceStatus.VOID, reason=reason, actor=actor
        )


# -- credit notes --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreditLine:
    description: str
    quantity: Decimal
    unit_price: Decimal


def invoice_credit_left(*, invoice: Invoice) -> tuple[Decimal, Decimal]:
    """What is left to credit of ``invoice``: its subtotal and its tax, less the credit
    notes that refer to it."""
    credited = invoice.credit_notes.exclude(status=InvoiceStatus.VOID).aggregate(
        subtotal=Sum("subtotal"), tax=Sum("tax")
    )
    return (
        invoice.subtotal - (credited["subtotal"] or Decimal(0)),
        invoice.tax - (credited["tax"] or Decimal(0)),
    )


def _credit_lines(
    *, invoice: Invoice, amount: Decimal | None, lines: Sequence[CreditLine] | None
) -> list[invoice_rules.Line]:
    currency = invoice.currency
    if (amount is None) == (not lines):
        raise DomainError("Give either an amount or lines to credit.", field="amount")
    if amount is not None:
        lines = [
            CreditLine(description=f"Credit for {invoice.number}", quantity=1, unit_price=amount)
        ]
    built = []
    for line in lines:
        try:
            quantity, unit_price = Decimal(line.quantity), Decimal(line.unit_price)
        except (ArithmeticError, TypeError, ValueError):
            raise DomainError("Amounts must be numbers.", field="amount") from None
        if (
            not (quantity.is_finite() and unit_price.is_finite())
            or quantity <= 0
            or unit_price <= 0
        ):
            raise DomainError("Credit a positive amount.", field="amount")
        if amount is not None and not is_quantized_for(unit_price, currency):
            raise DomainError(f"{currency} has fewer decimal places than that.", field="amount")
        description = (line.description or "").strip()[:200]
        if not description:
            raise DomainError("Describe each line credited.", field="lines")
        built.append(
            invoice_rules.Line(
                code="credit",
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                amount=quantize_money(quantity * unit_price, currency),
            )
        )
    return built


def credit_note_issue(
    *,
    invoice: Invoice,
    amount: Decimal | None = None,
    lines: Sequence[CreditLine] | None = None,
    reason: str,
    actor: Actor,
) -> Invoice:
    """Issue a credit note against an issued or paid invoice: ``amount`` (before tax) as one
    line, or ``lines``. Tax is credited at the invoice's rate; crediting all that is left
    credits exactly the tax left, so rounding never leaves a cent behind."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the invoice is credited.", field="reason")
    with transaction.atomic():
        original = locks.invoice_lock(invoice=invoice)
        if original.kind != InvoiceKind.INVOICE or original.status not in CREDITABLE_STATUSES:
            raise InvalidTransition(
                f"Only an issued or paid invoice can be credited ({original} is "
                f"{original.get_status_display().lower()}).",
                field="invoice",
            )
        built = _credit_lines(invoice=original, amount=amount, lines=lines)
        net = invoice_rules.lines_subtotal(built, original.currency)
        net_left, tax_left = invoice_credit_left(invoice=original)
        if net > net_left:
            raise CreditExceedsInvoice(
                f"At most {net_left} {original.currency} (before tax) is left to credit on "
                f"{original.number}.",
                field="amount",
                left=str(net_left),
            )
        if net == net_left:
            tax = tax_left
        else:
            tax = min(
                invoice_rules.tax_amount(net, original.tax_rate_percent, original.currency),
                tax_left,
            )
        copied = {
            name: getattr(original, name)
            for name in (
                "currency",
                "period_start",
                "period_end",
                "tax_rate_percent",
                "tax_note",
                *provider_details(),
                "customer_legal_name",
                "customer_address",
                "customer_country",
                "customer_tax_id",
                "customer_email",
            )
        }
        note = Invoice.objects.create(
            merchant_id=original.merchant_id,
            kind=InvoiceKind.CREDIT_NOTE,
            credited_invoice=original,
            subtotal=net,
            tax=tax,
            total=net + tax,
            reason=reason,
            **copied,
        )
        _lines_write(note, built)
        _event(
            invoice=note,
            from_status="",
            to_status=InvoiceStatus.DRAFT,
            reason=f"Credit for {original.number}: {reason}",
            actor=actor,
        )
        return _issue_locked(invoice=note, changes={}, reason=reason, actor=actor)


# -- the monthly job -----------------------------------------------------------------------


@dataclass
class DraftRunResult:
    drafted: int = 0
    kept: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return (
            f"{self.drafted} invoice(s) drafted, {self.kept} already issued, "
            f"{self.skipped} merchant(s) skipped"
        )


DRAFT_JOB = Actor.system("draft_invoices")


def previous_month(today: datetime.date) -> tuple[int, int]:
    first = today.replace(day=1) - datetime.timedelta(days=1)
    return first.year, first.month


def invoices_draft_last_month(
    *, now: datetime.datetime, batch_size: int = 100, merchant_id: int | None = None
) -> DraftRunResult:
    """Draft last month's invoice of every live merchant (Finance reviews and issues them).
    Each merchant is its own transaction; one without a fee plan for the month, or whose
    usage needs Finance first, is skipped and logged by the error it raised."""
    year, month = previous_month(timezone.localdate(now))
    _, period_end = invoice_rules.month_bounds(year, month)
    merchants = Merchant.objects.filter(
        Q(status=MerchantStatus.LIVE), fee_plans__valid_from__lte=period_end
    ).distinct()
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    result = DraftRunResult()
    last = 0
    while True:
        batch = list(merchants.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not batch:
            return result
        for merchant in batch:
            try:
                invoice = invoice_draft(merchant=merchant, year=year, month=month, actor=DRAFT_JOB)
            except DomainError as error:
                logger.warning("No invoice drafted for %s: %s", merchant.slug, error.detail)
                result.skipped += 1
                continue
            if invoice.status == InvoiceStatus.DRAFT:
                result.drafted += 1
            else:
                result.kept += 1
        last = batch[-1].pk


# -- the billing profile -------------------------------------------------------------------


@transaction.atomic
def billing_profile_save(
    *, profile: BillingProfile, changed: Sequence[str], actor: Actor
) -> BillingProfile:
    """Save staff's edit of a merchant's billing profile (``profile`` carries the new
    values), with a merchant event naming the fields. Issued invoices keep the details
    they were issued with."""
    created = profile._state.adding
    profile.full_clean()
    profile.save()
    if created or changed:
        MerchantEvent.objects.create(
            merchant_id=profile.merchant_id,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            **actor_fields(actor),
            actor_label=actor_label(actor),
            reason="Billing profile "
            + ("created" if created else "changed: " + ", ".join(changed)),
        )
    return profile
