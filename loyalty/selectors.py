"""Reads of the loyalty app used by more than one caller: each takes the merchant first
and answers only that merchant's rows (another merchant's row is a ``NotFound``)."""

from core.exceptions import NotFound
from loyalty.external_ids import is_external_id
from loyalty.models import Member
from merchants.models import Merchant


def member_get(*, merchant: Merchant, external_id: str, field: str = "external_id") -> Member:
    """The merchant's member; ``NotFound`` on ``field`` (where the caller read the id:
    ``member`` in a body or a query) when there is none."""
    if not is_external_id(external_id):
        raise NotFound("No member with that external_id.", field=field)
    try:
        return Member.objects.select_related("tier").get(merchant=merchant, external_id=external_id)
    except Member.DoesNotExist:
        raise NotFound("No member with that external_id.", field=field) from None
