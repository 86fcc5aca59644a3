"""Monthly program reports: on the first of each month, for every live merchant, the month
before as a PDF, stored once and announced to the merchant's owners by email (a link to
the portal, never the file: a report is the merchant's business figures).

The pages are the portal's, an app above this one: it declares ``monthly_report_renderer``
on its AppConfig (``core.hooks``), a callable ``(*, merchant, month, final) -> (pdf bytes,
page count)``. A final report never changes; the month still running may be drafted again
and again on request. Running the job twice makes one report per merchant and month and
one email: ``notified_at`` is claimed before sending, and a failed send is tried
again by the next run."""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor, actor_label
from core.exceptions import DomainError
from core.hooks import app_hooks
from merchants import locks
from merchants.models import MembershipRole, Merchant, MerchantStatus, MonthlyReport

logger = logging.getLogger(__name__)
MONTHLY_REPORTS_JOB = Actor.system("monthly reports")


class MonthNotReportable(DomainError):
    code = "month_not_reportable"


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def merchant_today(*, merchant: Merchant, now: datetime.datetime | None = None) -> datetime.date:
    return timezone.localtime(now or timezone.now(), merchant.timezone).date()


def monthly_report_make(
    *,
    merchant: Merchant,
    month: datetime.date,
    final: bool,
    actor: Actor,
    now: datetime.datetime | None = None,
) -> MonthlyReport:
    """The report of ``month`` (its first day): the final one once the month is over (made
    once, then returned as it is), or a fresh draft of the month that is still running."""
    if month.day != 1:
        raise MonthNotReportable("A monthly report starts on the first of a month.", field="month")
    today = merchant_today(merchant=merchant, now=now)
    over = next_month(month) <= today
    if final and not over:
        raise MonthNotReportable("A month is reported in full only once it is over.", field="month")
    if not final and month != month_start(today):
        raise MonthNotReportable("Only the month still running can be drafted.", field="month")
    existing = MonthlyReport.objects.filter(merchant=merchant, month=month, is_final=True).first()
    if existing is not None:
        return existing
    (render,) = app_hooks("monthly_report_renderer")
    # Rendered before the transaction: it takes a second or two and needs no lock. Two
    # runs at once both render; the lock below keeps one.
    pdf, pages = render(merchant=merchant, month=month, final=final)
    fields = {
        "is_final": final,
        "pdf": pdf,
        "pages": pages,
        "generated_at": timezone.now(),
        "generated_by": actor_label(actor),
    }
    try:
        with transaction.atomic():
            report = locks.monthly_report_lock(merchant=merchant, month=month)
            if report is None:
                return MonthlyReport.objects.create(merchant=merchant, month=month, **fields)
            if report.is_final:
                return report
            for name, value in fields.items():
                setattr(report, name, value)
            report.save(update_fields=list(fields))
            return report
    except IntegrityError:  # another run created it between the read and the insert
        return MonthlyReport.objects.get(merchant=merchant, month=month)


def _owner_addresses(merchant: Merchant) -> list[str]:
    return sorted(
        {
            address
            for address in merchant.memberships.filter(
                role=MembershipRole.OWNER, user__is_active=True
            ).values_list("user__email", flat=True)
            if address
        }
    )


def monthly_report_notify(*, report: MonthlyReport) -> bool:
    """Email the owners that the final report is ready; True when this call sent it.

    The send is claimed first (compare-and-swap on ``notified_at``), so two runs at once
    never both send; a send that fails gives the claim back for the next run."""
    if not report.is_final or report.notified_at is not None:
        return False
    claimed = MonthlyReport.objects.filter(pk=report.pk, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if not claimed:
        return False
    try:
        _owners_email(report)
    except Exception:
        MonthlyReport.objects.filter(pk=report.pk).update(notified_at=None)
        raise
    return True


def _owners_email(report: MonthlyReport) -> None:
    merchant = report.merchant
    to = _owner_addresses(merchant)
    if not to:
        return
    context = {
        "merchant": merchant,
        "report": report,
        "url": settings.PUBLIC_BASE_URL
        + reverse("portals:monthly_report_pdf", kwargs={"public_id": report.public_id}),
        "list_url": settings.PUBLIC_BASE_URL + reverse("portals:monthly_reports"),
    }
    subject = " ".join(
        render_to_string("merchants/email/monthly_report_subject.txt", context).split()
    )
    body = render_to_string("merchants/email/monthly_report.txt", context)
    EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Auto-Submitted": "auto-generated"},
    ).send()


def monthly_reports_due(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> str:
    """The job: last month's final report for every live merchant that has none, then the
    email to its owners if it has not gone yet."""
    merchants = Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("pk")
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    made = notified = failed = 0
    for merchant in merchants[:batch_size]:
        first_of_this_month = month_start(merchant_today(merchant=merchant, now=now))
        month = month_start(first_of_this_month - datetime.timedelta(days=1))
        try:
            report = monthly_report_make(
                merchant=merchant, month=month, final=True, actor=MONTHLY_REPORTS_JOB, now=now
            )
            made += 1
            notified += monthly_report_notify(report=report)
        except Exception:  # one merchant's failure must not stop the others' reports
            logger.exception("monthly report of %s for %s failed", merchant.slug, month)
            failed += 1
    return f"{made} reports, {notified} emails, {failed} failed"
