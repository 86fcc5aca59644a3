"""The monthly job: last month's invoice of every live merchant, drafted for Finance."""

import datetime
import logging
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from merchants import invoice_rules
from merchants.invoices.drafting import invoice_draft
from merchants.models import InvoiceStatus, Merchant, MerchantStatus

logger = logging.getLogger(__name__)


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
