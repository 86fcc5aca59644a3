"""Credit notes: issued at once against an issued or paid invoice, never for more than
is left of it (its subtotal and its tax, less earlier credit notes)."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from core.actors import Actor
from core.currency import is_quantized_for
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from core.money import quantize_money
from merchants import invoice_rules, locks
from merchants.exceptions import CreditExceedsInvoice
from merchants.invoices.drafting import invoice_lines_write
from merchants.invoices.lifecycle import invoice_event_write, invoice_number_and_issue
from merchants.invoices.parties import provider_details
from merchants.models import CREDITABLE_STATUSES, Invoice, InvoiceKind, InvoiceStatus


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
        invoice_lines_write(note, built)
        invoice_event_write(
            invoice=note,
            from_status="",
            to_status=InvoiceStatus.DRAFT,
            reason=f"Credit for {original.number}: {reason}",
            actor=actor,
        )
        return invoice_number_and_issue(invoice=note, changes={}, reason=reason, actor=actor)
