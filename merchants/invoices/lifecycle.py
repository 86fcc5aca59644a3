"""An invoice's status and number: the state machine (the only code that moves a status
or writes its events), issuing with a gapless number, payment and void."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_fields, actor_label
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from core.site_time import site_today
from merchants import locks
from merchants.exceptions import BillingProfileMissing
from merchants.invoices.parties import (
    billing_profile_find,
    customer_details,
    invoice_totals,
    provider_details,
    tax_terms_for,
)
from merchants.models import (
    INVOICE_TRANSITIONS,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceStatus,
)

NUMBER_PREFIX = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}


def invoice_number(*, kind: str, year: int, sequence: int) -> str:
    return f"{NUMBER_PREFIX[kind]}-{year}-{sequence:06d}"


def invoice_event_write(
    *, invoice: Invoice, from_status: str, to_status: str, reason: str, actor: Actor
) -> InvoiceEvent:
    """The history row of a move (or of a draft built: from no status, or draft to draft);
    written by ``invoice_transition`` and by drafting, nowhere else."""
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
        invoice_event_write(
            invoice=invoice,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
        )
    invoice.refresh_from_db()
    return invoice


def invoice_number_and_issue(
    *, invoice: Invoice, changes: dict, reason: str, actor: Actor
) -> Invoice:
    """Number ``invoice`` (locked by the caller, a draft) and move it to issued."""
    today = site_today()
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
        profile = billing_profile_find(merchant=current.merchant)
        if profile is None:
            raise BillingProfileMissing(
                f"Give {current.merchant} a billing profile before issuing its invoices."
            )
        changes = {
            **provider_details(),
            **customer_details(profile=profile),
            **invoice_totals(
                subtotal=current.subtotal,
                terms=tax_terms_for(profile=profile),
                currency=current.currency,
            ),
        }
        issued = invoice_number_and_issue(
            invoice=current, changes=changes, reason="Issued.", actor=actor
        )
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
    if paid_on > site_today():
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
