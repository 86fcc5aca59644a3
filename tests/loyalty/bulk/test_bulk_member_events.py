"""Members a bulk call creates are announced like any new member: one ``member.created``
each, and none for a member who existed."""

import pytest

from merchants.models import OutboxEvent
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import member_make
from tests.loyalty.test_api_orders import order_body

pytestmark = pytest.mark.django_db


def test_each_member_a_bulk_call_creates_is_announced_once(tenant, program):
    member_make(tenant.merchant, "known")
    before = set(OutboxEvent.objects.filter(type="member.created").values_list("id", flat=True))
    response = post_json(
        tenant.client,
        "/api/v1/orders/bulk/",
        {
            "orders": [
                order_body("e-1", member={"external_id": "new-1", "email": "n1@example.com"}),
                order_body("e-2", member="new-2"),
                order_body("e-3", member="known"),
                order_body("e-4", member="new-1"),
            ]
        },
    )
    assert response.status_code == 200
    created = OutboxEvent.objects.filter(type="member.created").exclude(id__in=before)
    assert sorted(created.values_list("subject", flat=True)) == ["new-1", "new-2"]
    first = created.get(subject="new-1")
    assert first.payload["member"]["email"] == "n1@example.com"
    assert first.merchant_id == tenant.merchant.pk
