"""Invoice numbers run without a gap or a repeat however many are issued at once."""

import threading
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from core.actors import SYSTEM
from core.exceptions import DomainError
from merchants import invoices
from merchants.exceptions import BillingProfileMissing
from merchants.models import Invoice, InvoiceCounter, InvoiceKind, InvoiceStatus
from tests.merchants.factories import MerchantFactory, billing_profile_make, fee_plan_make

DRAFTS = 24
THREADS = 6


def drafts(count: int, *, with_profile=lambda index: True) -> list[Invoice]:
    made = []
    for index in range(count):
        merchant = MerchantFactory()
        fee_plan_make(merchant)
        if with_profile(index):
            billing_profile_make(merchant)
        made.append(invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM))
    return made


def issue_from_threads(pending: list[Invoice], threads: int) -> list[BaseException]:
    """Each thread issues its share of ``pending`` at once with the others (a barrier
    starts them together); returns the errors raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(share: list[Invoice]) -> None:
        try:
            barrier.wait()
            for invoice in share:
                try:
                    invoices.invoice_issue(invoice=invoice, actor=SYSTEM)
                except BillingProfileMissing as error:
                    errors.append(error)
        finally:
            connections.close_all()

    workers = [
        threading.Thread(target=work, args=(pending[index::threads],)) for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_issuing_from_many_threads_at_once_numbers_one_to_n_without_gaps():
    pending = drafts(DRAFTS)

    errors = issue_from_threads(pending, THREADS)

    assert errors == []
    year = timezone.localdate().year
    issued = Invoice.objects.filter(status=InvoiceStatus.ISSUED)
    assert sorted(issued.values_list("number_sequence", flat=True)) == list(range(1, DRAFTS + 1))
    assert sorted(issued.values_list("number", flat=True)) == [
        f"INV-{year}-{n:06d}" for n in range(1, DRAFTS + 1)
    ]
    assert InvoiceCounter.objects.get(kind=InvoiceKind.INVOICE, year=year).last == DRAFTS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_issues_that_fail_midway_leave_no_gap_when_others_run_at_once():
    # Every third draft has no billing profile: its issue rolls back after the others
    # have queued on the counter.
    pending = drafts(DRAFTS, with_profile=lambda index: index % 3 != 0)

    errors = issue_from_threads(pending, THREADS)

    refused = DRAFTS // 3
    assert len(errors) == refused
    sequences = sorted(
        Invoice.objects.filter(status=InvoiceStatus.ISSUED).values_list(
            "number_sequence", flat=True
        )
    )
    assert sequences == list(range(1, DRAFTS - refused + 1))
    assert Invoice.objects.filter(status=InvoiceStatus.DRAFT, number="").count() == refused


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_credit_notes_from_many_threads_never_credit_more_than_the_invoice():
    (draft,) = drafts(1)
    invoice = invoices.invoice_issue(invoice=draft, actor=SYSTEM)  # 100.00 + 21 % tax
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def credit() -> None:
        try:
            barrier.wait()
            invoices.credit_note_issue(
                invoice=invoice, amount=Decimal("30.00"), reason="race", actor=SYSTEM
            )
            outcomes.append("issued")
        except DomainError as error:
            outcomes.append(error.code)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=credit) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(outcomes) == ["credit_exceeds_invoice"] * (THREADS - 3) + ["issued"] * 3
    notes = Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE)
    assert sorted(notes.values_list("number_sequence", flat=True)) == [1, 2, 3]
    assert sum(note.subtotal for note in notes) == Decimal("90.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drafting_the_same_month_from_many_threads_makes_one_invoice():
    merchant = MerchantFactory()
    fee_plan_make(merchant)
    barrier = threading.Barrier(THREADS)
    drafted: list[int] = []

    def draft() -> None:
        try:
            barrier.wait()
            invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
            drafted.append(invoice.pk)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=draft) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    (invoice,) = Invoice.objects.all()
    assert drafted == [invoice.pk] * THREADS
    assert invoice.lines.count() == 1
