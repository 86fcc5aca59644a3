"""The loyalty app's shared reads answer only the merchant's own rows."""

import pytest

from core.exceptions import NotFound
from loyalty.selectors import member_get
from tests.loyalty.factories import member_make, program_merchant

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
