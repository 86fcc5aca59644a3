"""The code pool adapter: it delivers the codes reserved for the order's key (never any
other), each once, and the same codes again for the same idempotency key."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from catalog import pools
from catalog.models import CodePool, SupplierKind, VoucherCode
from core.actors import SYSTEM
from fulfillment.adapters import OrderResult, adapter_for
from tests.catalog.factories import OfferFactory, RewardFactory, SupplierFactory
from tests.fulfillment.adapters.orders import order_request

pytestmark = pytest.mark.django_db


def pool_make(*codes: str, face_value: str = "25") -> CodePool:
    supplier = SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="code_pool")
    offer = OfferFactory(reward=RewardFactory(), supplier=supplier)
    pool = CodePool.objects.create(
        offer=offer, face_value=Decimal(face_value), low_stock_threshold=0
    )
    if codes:
        csv_text = "\n".join(["code,pin,expires_on", *codes]) + "\n"
        pools.codes_upload(pool=pool, csv_text=csv_text, actor=SYSTEM)
    return pool


def reserve(pool: CodePool, key: str = "redemption-1:attempt-1", quantity: int = 1) -> bool:
    return pools.codes_reserve(
        pool_id=pool.pk, quantity=quantity, reserved_for=key, at=timezone.now()
    )


def place(pool: CodePool, key: str = "redemption-1:attempt-1", **overrides) -> OrderResult:
    request = order_request(key=key, offer_id=pool.offer_id, **overrides)
    return adapter_for("code_pool", {}).place(request)


def reserve_and_place(
    pool: CodePool, key: str = "redemption-1:attempt-1", quantity: int = 1, **overrides
) -> OrderResult:
    assert reserve(pool, key, quantity)
    return place(pool, key, quantity=quantity, **overrides)


def unused(pool: CodePool) -> int:
    return pools.pool_free_count(pool)


def test_placing_delivers_the_codes_reserved_for_the_key_and_marks_them_used():
    pool = pool_make("CODE-A,1111,2099-12-31", "CODE-B,,", "CODE-C,,")

    result = reserve_and_place(pool, quantity=2)

    assert result.delivered
    assert [code.code for code in result.codes] == ["CODE-A", "CODE-B"]
    assert result.codes[0].pin == "1111"
    assert result.codes[0].expires_on == datetime.date(2099, 12, 31)
    assert result.supplier_ref == f"pool-{pool.pk}"
    assert result.cost is None
    assert set(
        VoucherCode.objects.filter(used_at__isnull=False).values_list("used_for", flat=True)
    ) == {"redemption-1:attempt-1"}
    assert unused(pool) == 1


def test_placing_again_with_the_same_key_returns_the_same_codes_and_uses_no_more():
    pool = pool_make("CODE-A,,", "CODE-B,,", "CODE-C,,")
    first = reserve_and_place(pool, quantity=2)

    again = place(pool, quantity=2)

    assert again == first
    assert unused(pool) == 1


def test_each_key_gets_the_codes_reserved_for_it_whatever_the_order_of_placing():
    pool = pool_make("CODE-A,,", "CODE-B,,")
    assert reserve(pool, key="r-1:a-1")
    assert reserve(pool, key="r-2:a-1")

    second = place(pool, key="r-2:a-1")
    first = place(pool, key="r-1:a-1")

    assert [first.codes[0].code, second.codes[0].code] == ["CODE-A", "CODE-B"]


def test_an_order_without_its_codes_reserved_fails_terminally_and_uses_none():
    pool = pool_make("CODE-A,,", "CODE-B,,")
    assert reserve(pool, key="redemption-1:attempt-1", quantity=1)

    unreserved = place(pool, key="r-9:a-1")
    short = place(pool, quantity=2)

    for result in (unreserved, short):
        assert result.failed
        assert result.error.terminal
    assert "needs 2" in short.error.message
    assert unused(pool) == 1
    assert not VoucherCode.objects.filter(used_at__isnull=False).exists()


def test_a_released_reservation_is_not_delivered():
    pool = pool_make("CODE-A,,")
    assert reserve(pool)
    pools.codes_release(reserved_for="redemption-1:attempt-1")

    result = place(pool)

    assert result.failed
    assert unused(pool) == 1


def test_an_offer_without_a_pool_fails_terminally():
    offer = OfferFactory()

    result = adapter_for("code_pool", {}).place(order_request(offer_id=offer.pk))

    assert result.failed
    assert result.error.terminal
    assert "no code pool" in result.error.message


def test_a_face_value_the_pool_does_not_hold_fails_terminally():
    pool = pool_make("CODE-A,,", face_value="25")
    assert reserve(pool)

    result = place(pool, face_value=Decimal("50"))

    assert result.failed
    assert result.error.terminal
    assert not VoucherCode.objects.filter(used_at__isnull=False).exists()


def test_lookup_finds_the_codes_of_a_placed_order():
    pool = pool_make("CODE-A,,", "CODE-B,,")
    placed = reserve_and_place(pool, key="r-1:a-1")
    adapter = adapter_for("code_pool", {})

    assert adapter.lookup("r-1:a-1", placed.supplier_ref) == placed
    assert adapter.lookup("r-1:a-1", None) == placed


def test_lookup_of_a_key_never_placed_is_none():
    pool_make("CODE-A,,")

    assert adapter_for("code_pool", {}).lookup("r-9:a-1", None) is None


def test_delivered_codes_cannot_be_cancelled():
    pool = pool_make("CODE-A,,")
    placed = reserve_and_place(pool)

    assert adapter_for("code_pool", {}).cancel(placed.supplier_ref) is False
    assert unused(pool) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_places_with_the_same_key_deliver_the_codes_once():
    pool = pool_make(*(f"CODE-{n:02},," for n in range(10)))
    with transaction.atomic():
        assert reserve(pool, key="r-1:a-1", quantity=2)
    count = 8
    barrier = threading.Barrier(count)
    results: list[object] = ["missing"] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = place(pool, key="r-1:a-1", quantity=2)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(result, OrderResult) and result.delivered for result in results), results
    assert len({tuple(code.code for code in result.codes) for result in results}) == 1
    assert VoucherCode.objects.filter(used_for="r-1:a-1").count() == 2
    assert unused(pool) == 8
