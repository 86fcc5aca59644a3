"""Usage the invoicing bills from the report aggregates: active members, a month at a time.

The invoicing (``merchants``) calls ``active_members_usage_post`` through
``core.hooks.app_hooks("billing_usage_collectors")`` for a merchant and an invoicing
period; ``LoyaltyConfig`` declares it. Posting is idempotent by ``source_ref``
(``active_members:YYYY-MM``): calling it again for a month posts nothing new.
"""

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Q

from core.exceptions import DomainError
from loyalty.exceptions import NoActiveProgram
from loyalty.models import ReportMemberDay
from loyalty.reports.buckets import local_midnight
from loyalty.reports.selectors import report_program
from merchants.models import Merchant
from merchants.services.billing import usage_record_post

KIND = "active_members"


def months_of(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """The first days of the months from ``start``'s to ``end``'s."""
    month = start.replace(day=1)
    months = []
    while month <= end:
        months.append(month)
        month += relativedelta(months=1)
    return months


def active_members_usage_post(
    *, merchant: Merchant, period_start: datetime.date, period_end: datetime.date
) -> None:
    """Post, for each month the period touches, the number of distinct members who
    earned, spent or ordered in that (whole) month, at the month's last instant in the
    merchant's time zone, without a fee (the fee plan prices it)."""
    if period_start > period_end:
        raise DomainError("The period ends before it starts.", field="period_end")
    try:
        currency = report_program(merchant=merchant).currency
    except NoActiveProgram:
        return  # no program, no members: nothing to bill per member
    months = months_of(period_start, period_end)
    active = Q(earned=True) | Q(spent=True) | Q(ordered=True)
    counts = ReportMemberDay.objects.filter(
        active, merchant=merchant, day__range=(months[0], months[-1] + relativedelta(day=31))
    ).aggregate(
        **{
            f"m{n}": Count(
                "member",
                distinct=True,
                filter=Q(day__range=(month, month + relativedelta(day=31))),
            )
            for n, month in enumerate(months)
        }
    )
    tz = merchant.timezone
    for n, month in enumerate(months):
        ends = local_midnight(month + relativedelta(months=1), tz)
        usage_record_post(
            merchant=merchant,
            kind=KIND,
            source_ref=f"{KIND}:{month:%Y-%m}",
            quantity=counts[f"m{n}"],
            fee=Decimal(0),
            currency=currency,
            occurred_at=ends - datetime.timedelta(microseconds=1),
            details={"month": f"{month:%Y-%m}"},
        )
