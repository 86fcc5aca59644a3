"""Reads of redemptions: the selectors answer one merchant's rows only, the list endpoint
writes nothing (its codes are not revealed) and its query count does not grow with the
page."""

import pytest
from django.utils import timezone

from core.exceptions import NotFound
from fulfillment import selectors
from fulfillment.models import CodeReveal, DeliveredCode
from fulfillment.services import dispatch
from merchants.models import Scope
from tests.catalog.factories import merchant_with_program
from tests.conftest import make_tenant
from tests.fulfillment.factories import redemption_pending, sandbox_offer
from tests.loyalty.factories import member_make, points_give

pytestmark = pytest.mark.django_db

URL = "/api/v1/redemptions/"


def delivered_many(count: int):
    """A merchant, a key with the ``codes`` scope and ``count`` delivered redemptions of
    one member."""
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 100_000)
    offer = sandbox_offer(merchant)
    made = [redemption_pending(merchant, member, offer) for _ in range(count)]
    dispatch.process_due(now=timezone.now())
    tenant = make_tenant(merchant, scopes=(Scope.READ, Scope.CODES))
    return tenant, member, made


def test_redemption_get_finds_the_merchants_own_and_not_another_merchants():
    tenant, _, (redemption,) = delivered_many(1)
    other, _ = merchant_with_program(country="FR", currency="EUR")

    assert selectors.redemption_get(merchant=tenant.merchant, public_id=redemption.public_id) == (
        redemption
    )
    with pytest.raises(NotFound):
        selectors.redemption_get(merchant=other, public_id=redemption.public_id)
    with pytest.raises(NotFound):
        selectors.redemption_get(merchant=tenant.merchant, public_id="not-a-uuid")
    assert list(selectors.redemption_list(merchant=other)) == []


def test_another_merchants_redemption_is_a_404_on_the_api():
    _, _, (redemption,) = delivered_many(1)
    other, _ = merchant_with_program(country="FR", currency="EUR")
    stranger = make_tenant(other, scopes=(Scope.READ, Scope.CODES))

    response = stranger.client.get(f"{URL}{redemption.public_id}/")

    assert response.status_code == 404
    assert not CodeReveal.objects.exists()


def test_the_list_reveals_no_code_and_writes_no_reveal_the_page_of_one_does_once():
    tenant, member, made = delivered_many(2)

    listed = tenant.client.get(URL, {"member": member.external_id})

    assert listed.status_code == 200
    results = listed.json()["results"]
    assert len(results) == 2
    assert all(item["claim"]["url"] and item["claim"]["codes"] is None for item in results)
    assert not CodeReveal.objects.exists()

    detail = tenant.client.get(f"{URL}{made[0].public_id}/").json()

    (code,) = detail["claim"]["codes"]
    assert code["code"] == DeliveredCode.objects.get(redemption=made[0]).code
    (reveal,) = CodeReveal.objects.all()
    assert (reveal.via, reveal.api_key_prefix) == ("api", tenant.api_key.prefix)


def test_the_list_query_count_does_not_grow_with_the_page(django_assert_max_num_queries):
    tenant, member, _ = delivered_many(6)
    tenant.client.get(URL, {"member": member.external_id})  # warm the key's caches

    # The key, the member, the page, then one query for each of events, codes and shipments.
    with django_assert_max_num_queries(9):
        response = tenant.client.get(URL, {"member": member.external_id})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 6
