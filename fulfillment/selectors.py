"""Reads of redemptions used by more than one caller: each takes the merchant first and
answers only that merchant's rows (another merchant's redemption is a ``NotFound``).

The querysets carry what the API's redemption body shows (member, reward, the reissue
links, events, codes, shipments), fetched in a fixed number of queries whatever the
page size."""

import uuid

from django.db.models import QuerySet

from core.exceptions import NotFound
from fulfillment.models import Redemption
from loyalty.models import Member
from merchants.models import Merchant


def _with_details(queryset: QuerySet[Redemption]) -> QuerySet[Redemption]:
    return queryset.select_related(
        "member", "reward", "reissue_of", "reissued_as"
    ).prefetch_related("events", "codes", "shipments")


def redemption_list(*, merchant: Merchant, member: Member | None = None) -> QuerySet[Redemption]:
    """The merchant's redemptions (one member's, when given), newest first."""
    redemptions = Redemption.objects.filter(merchant=merchant)
    if member is not None:
        redemptions = redemptions.filter(member=member)
    return _with_details(redemptions)


def redemption_get(*, merchant: Merchant, public_id: str | uuid.UUID) -> Redemption:
    """The merchant's redemption by its public id; ``NotFound`` (404) when the id is not
    one, or names no redemption of this merchant."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("No such redemption.", field="id") from None
    redemption = redemption_list(merchant=merchant).filter(public_id=public_id).first()
    if redemption is None:
        raise NotFound("No such redemption.", field="id")
    return redemption


def redemption_get_by_pk(*, merchant: Merchant, pk: int) -> Redemption:
    """The merchant's redemption by primary key (one the caller just wrote)."""
    redemption = redemption_list(merchant=merchant).filter(pk=pk).first()
    if redemption is None:
        raise NotFound("No such redemption.", field="id")
    return redemption
