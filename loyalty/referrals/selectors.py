"""Reads of referrals: an advocate's referrals for the store API, and a merchant's
figures for its portal. Each takes the merchant first and reads only its rows."""

import datetime
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from loyalty.models import (
    LedgerEntry,
    Member,
    Referral,
    ReferralCode,
    ReferralStatus,
    ReferralTerms,
)
from merchants.models import Merchant
from merchants.selectors import merchant_shop_url

Status = ReferralStatus
# Why a referral ended without earning, in words a store may show the member. A flagged
# one only says it is being reviewed: which check flagged it would teach how to pass it.
ENDED_REASONS = {
    Status.REJECTED: "It did not pass our review.",
    Status.VOID: "The first order was refunded.",
}


def referral_list(*, merchant: Merchant, advocate: Member, limit: int = 100) -> QuerySet[Referral]:
    """The advocate's referrals, newest first (an index on advocate and date)."""
    return (
        Referral.objects.filter(merchant=merchant, advocate=advocate)
        .select_related("advocate_entry")
        .order_by("-created_at", "-id")[:limit]
    )


def referral_counts(*, merchant: Merchant, advocate: Member) -> dict[str, int]:
    """How many of the advocate's referrals are in each status (all of them listed)."""
    rows = (
        Referral.objects.filter(merchant=merchant, advocate=advocate)
        .values_list("status")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(Status.values, 0)
    counts.update(dict(rows))
    return counts


def referral_reason_words(referral: Referral) -> str | None:
    """Why the referral earns nothing, where a member may read it; None otherwise."""
    if referral.status == Status.BLOCKED:
        words = [reason["words"] for reason in referral.reasons or () if reason.get("blocks")]
        return " ".join(words) or "It did not pass our checks."
    return ENDED_REASONS.get(referral.status)


@dataclass(frozen=True)
class ReferralFigures:
    sent: int
    pending: int
    flagged: int
    qualified: int
    blocked: int
    rejected: int
    void: int
    points_given: int


def referral_figures(
    *, merchant: Merchant, since: datetime.datetime, until: datetime.datetime
) -> ReferralFigures:
    """The merchant's referrals made in ``[since, until)``, by status, and the points
    their qualified ones gave both sides: one aggregate query on the merchant's
    ``(merchant, status, created_at)`` index, and one over the entries of the qualified."""
    made = Referral.objects.filter(merchant=merchant, created_at__gte=since, created_at__lt=until)
    counts = made.aggregate(
        sent=Count("id"),
        **{status: Count("id", filter=Q(status=status)) for status in Status.values},
    )
    qualified = made.filter(status=Status.QUALIFIED)
    points = LedgerEntry.objects.filter(merchant=merchant).filter(
        Q(pk__in=qualified.values("advocate_entry")) | Q(pk__in=qualified.values("friend_entry"))
    )
    given = points.aggregate(total=Coalesce(Sum("points"), 0))["total"]
    return ReferralFigures(
        sent=counts["sent"],
        pending=counts[Status.PENDING],
        flagged=counts[Status.FLAGGED],
        qualified=counts[Status.QUALIFIED],
        blocked=counts[Status.BLOCKED],
        rejected=counts[Status.REJECTED],
        void=counts[Status.VOID],
        points_given=given,
    )


def referral_destination(*, code: ReferralCode) -> str | None:
    """Where the code's link leads, before ``?ref=``: the program's referral landing page,
    else the shop's address on the merchant's brand, else its first active store's
    domain; None when the merchant has none of them."""
    terms = (
        ReferralTerms.objects.filter(program__merchant_id=code.merchant_id, program__is_active=True)
        .values_list("landing_url", flat=True)
        .first()
    )
    if terms:
        return terms
    return merchant_shop_url(merchant_id=code.merchant_id) or None


def with_ref(url: str, code: str) -> str:
    """``url`` with ``ref=<code>`` in its query (in place of any ``ref`` it had), its
    other parameters and fragment kept."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(name, value) for name, value in query if name != "ref"] + [("ref", code)]
    return urlunsplit(parts._replace(query=urlencode(query)))
