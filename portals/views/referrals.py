"""The merchant's referral figures: the referrals made in a period, how many qualified,
were blocked or wait for a review, and the points they gave. Read-only, from one
aggregate query on the referrals' merchant index. Owners and analysts."""

import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from loyalty.referrals.selectors import referral_figures
from loyalty.referrals.services import referral_terms_get
from portals import roles
from portals.access import portal_view
from portals.periods import PRESETS, period_from_query
from portals.report_page import merchant_today

ONE_DAY = datetime.timedelta(days=1)


def _local_midnight(day: datetime.date, tz) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=tz)


@portal_view(roles=roles.REPORTS)
def referrals(request: HttpRequest) -> HttpResponse:
    merchant = request.portal.merchant
    period, errors = period_from_query(request.GET, today=merchant_today(merchant))
    for error in errors:
        messages.warning(request, error)
    figures = referral_figures(
        merchant=merchant,
        since=_local_midnight(period.start, merchant.timezone),
        until=_local_midnight(period.end + ONE_DAY, merchant.timezone),
    )
    tiles = [
        ("Referrals made", figures.sent, "Friends who joined or ordered with a member's code."),
        ("Qualified", figures.qualified, "Their first order passed the pending period."),
        ("Waiting for a first order", figures.pending, "Cleared by the checks."),
        ("In review", figures.flagged, "Flagged by a check; our team approves or rejects."),
        ("Blocked", figures.blocked, "Self-referrals and customers who had ordered before."),
        ("Rejected or void", figures.rejected + figures.void, "Rejected in review, or refunded."),
        ("Points given", figures.points_given, "To both sides of the qualified referrals."),
    ]
    return TemplateResponse(
        request,
        "portals/referrals.html",
        {
            "period": period,
            "presets": list(PRESETS.items()),
            "tiles": tiles,
            "terms": referral_terms_get(merchant=merchant),
        },
    )
