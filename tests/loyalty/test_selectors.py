"""The loyalty app's shared reads answer only the merchant's own rows."""

import pytest

from core.exceptions import NotFound
from loyalty.selectors import ledger_entry_list, member_get, order_get, order_list
from tests.loyalty.factories import member_make, order_post, points_give, program_merchant

pytestmark = pytest.mark.django_db


def test_member_get_finds_the_merchants_member_with_its_tier_loaded():
    merchant, _ = program_merchant()
    member = member_make(merchant, "cust-1")

    assert member_get(merchant=merchant, external_id="cust-1") == member


def test_member_get_never_finds_another_merchants_member():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    member_make(other, "cust-1")

    with pytest.raises(NotFound) as refused:
        member_get(merchant=merchant, external_id="cust-1")
    assert refused.value.field == "external_id"


@pytest.mark.parametrize("external_id", ["", "a\u0000b", "x" * 300])
def test_member_get_refuses_an_id_that_cannot_exist_on_the_field_named(external_id):
    merchant, _ = program_merchant()

    with pytest.raises(NotFound) as refused:
        member_get(merchant=merchant, external_id=external_id, field="member")
    assert refused.value.field == "member"


def test_ledger_entry_list_is_the_members_entries_newest_first():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    first, second = points_give(member, 10), points_give(member, 20)
    points_give(member_make(merchant), 30)

    assert list(ledger_entry_list(merchant=merchant, member=member)) == [second, first]


def test_ledger_entry_list_never_shows_another_merchants_entries():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    theirs = member_make(other)
    points_give(theirs, 10)

    assert list(ledger_entry_list(merchant=other, member=theirs))
    assert not ledger_entry_list(merchant=merchant, member=theirs).exists()


def test_order_list_and_order_get_answer_the_merchants_orders():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    first = order_post(merchant, member, "10.00", external_id="o-1").obj
    second = order_post(merchant, member, "20.00", external_id="o-2").obj

    assert list(order_list(merchant=merchant, member=member)) == [second, first]
    assert order_get(merchant=merchant, external_id="o-1") == first


def test_order_list_and_order_get_never_show_another_merchants_orders():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    theirs = member_make(other)
    order_post(other, theirs, "10.00", external_id="o-1")

    assert not order_list(merchant=merchant, member=theirs).exists()
    with pytest.raises(NotFound) as refused:
        order_get(merchant=merchant, external_id="o-1")
    assert refused.value.field == "order"
