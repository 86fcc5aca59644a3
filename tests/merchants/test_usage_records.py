"""Usage records are posted once per merchant, kind and source: one statement when new,
the first record unchanged when posted again."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from merchants.models import UsageKind, UsageRecord
from merchants.services.billing import usage_record_post
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def post(merchant, source_ref="r-1", **figures) -> UsageRecord:
    return usage_record_post(
        merchant=merchant,
        kind=UsageKind.REDEMPTION,
        source_ref=source_ref,
        occurred_at=figures.pop("occurred_at", timezone.now()),
        currency=figures.pop("currency", "USD"),
        **{"reward_value": Decimal("25.00"), "fee": Decimal("1.25"), **figures},
    )


def test_a_new_record_is_one_insert_and_comes_back_saved(django_assert_num_queries):
    merchant = MerchantFactory()
    with django_assert_num_queries(1):
        record = post(merchant, cost=Decimal("23.75"), details={"face_value": Decimal("25")})

    stored = UsageRecord.objects.get()
    assert record.pk == stored.pk
    assert not record._state.adding
    assert (stored.merchant, stored.source_ref, stored.currency) == (merchant, "r-1", "USD")
    assert (stored.reward_value, stored.cost, stored.fee) == (
        Decimal("25.00"),
        Decimal("23.75"),
        Decimal("1.25"),
    )
    assert stored.details == {"face_value": "25"}
    assert stored.created_at is not None


def test_posting_again_returns_the_first_record_unchanged(django_assert_num_queries):
    merchant = MerchantFactory()
    first = post(merchant)
    with django_assert_num_queries(2):  # the insert that does nothing, then the read
        again = post(merchant, reward_value=Decimal("99.00"), fee=Decimal("9.00"))

    assert again.pk == first.pk
    assert (again.reward_value, again.fee) == (Decimal("25.0000"), Decimal("1.2500"))
    assert UsageRecord.objects.count() == 1
    # The caller's transaction goes on after the conflict.
    assert post(merchant, source_ref="r-2").pk != first.pk


def test_another_merchant_posts_the_same_source_as_its_own_record():
    mine, theirs = MerchantFactory(), MerchantFactory()
    own = post(mine)
    other = post(theirs, fee=Decimal("2.00"))
    assert own.pk != other.pk
    assert UsageRecord.objects.get(merchant=theirs).fee == Decimal("2.00")
    assert UsageRecord.objects.get(merchant=mine).fee == Decimal("1.25")


def test_a_negative_amount_is_still_refused_by_the_database():
    merchant = MerchantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        post(merchant, reward_value=Decimal("-1"))
    assert not UsageRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_posts_at_once_store_one_record_and_both_return_it():
    merchant = MerchantFactory()
    first_posted = threading.Event()
    returned: dict[str, UsageRecord] = {}

    def slow_first() -> None:
        try:
            with transaction.atomic():
                returned["first"] = post(merchant)
                first_posted.set()
                # The second post waits on the unique index until this commits.
                time.sleep(0.3)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_posted.wait(10)
            returned["second"] = post(merchant, fee=Decimal("7.00"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=slow_first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (stored,) = UsageRecord.objects.all()
    assert returned["first"].pk == returned["second"].pk == stored.pk
    assert returned["second"].fee == stored.fee == Decimal("1.25")
