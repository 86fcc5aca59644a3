"""Code pools: encrypted uploads refused whole on any bad row, reservations that never
give a code twice (also under real concurrency on PostgreSQL), delivery of the reserved
codes only, release, and low-stock alerts."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from catalog import pools
from catalog.exceptions import CodeUploadRefused
from catalog.models import AlertKind, CatalogAlert, CodePool, SupplierKind, VoucherCode
from core.actors import SYSTEM
from tests.catalog.factories import OfferFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def pool_make(threshold: int = 2) -> CodePool:
    offer = OfferFactory(supplier=SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="pool"))
    return CodePool.objects.create(
        offer=offer, face_value=Decimal("25"), low_stock_threshold=threshold
    )


@pytest.fixture
def pool() -> CodePool:
    return pool_make()


def upload(pool: CodePool, *rows: str, header: str = "code,pin,expires_on"):
    return pools.codes_upload(pool=pool, csv_text="\n".join([header, *rows]) + "\n", actor=SYSTEM)


def open_low_stock() -> set[str]:
    return set(
        CatalogAlert.objects.filter(kind=AlertKind.LOW_STOCK, resolved_at=None).values_list(
            "subject", flat=True
        )
    )


def test_uploaded_codes_and_pins_are_encrypted_at_rest(pool):
    result = upload(pool, "GIFT-0001-AAAA,1234,", "GIFT-0002-BBBB,,2099-12-31")

    assert (result.created, result.free) == (2, 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT code, pin, digest FROM catalog_vouchercode ORDER BY id")
        raw = cursor.fetchall()
    assert all("GIFT" not in code and code for code, _, _ in raw)
    assert "1234" not in raw[0][1]
    assert raw[1][1] == ""  # no pin
    assert raw[0][2] == pools.code_digest("GIFT-0001-AAAA")
    assert raw[0][2] != "GIFT-0001-AAAA"
    first, second = VoucherCode.objects.order_by("id")
    assert (first.code, first.pin, first.expires_on) == ("GIFT-0001-AAAA", "1234", None)
    assert (second.code, second.expires_on) == ("GIFT-0002-BBBB", datetime.date(2099, 12, 31))


def test_a_code_column_alone_is_enough_and_a_file_object_works(pool):
    result = pools.codes_upload(
        pool=pool, file=io.BytesIO(b"\xef\xbb\xbfcode\r\nONE\r\n\r\nTWO\r\n"), actor=SYSTEM
    )
    assert result.created == 2
    assert sorted(c.code for c in VoucherCode.objects.all()) == ["ONE", "TWO"]


def test_a_code_twice_in_the_file_refuses_the_whole_upload(pool):
    with pytest.raises(CodeUploadRefused) as refused:
        upload(pool, "A1,,", "B2,,", "A1,,")

    assert refused.value.extra["errors"] == ["row 4: the same code as row 2"]
    assert "A1" not in refused.value.detail  # codes are never echoed
    assert VoucherCode.objects.count() == 0


def test_a_code_already_in_a_pool_refuses_the_whole_upload(pool):
    upload(pool, "A1,,")
    other = pool_make()

    with pytest.raises(CodeUploadRefused) as refused:
        upload(other, "NEW,,", "A1,,")

    assert refused.value.extra["errors"] == ["row 3: the code is already in a pool"]
    assert VoucherCode.objects.count() == 1
    assert not other.codes.exists()


def test_every_bad_row_is_reported_and_nothing_is_written(pool):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    with pytest.raises(CodeUploadRefused) as refused:
        upload(pool, "OK,,", ",1234,", "C3,,31/12/2099", f"C4,,{yesterday}", "C5,,,extra")

    errors = refused.value.extra["errors"]
    assert [e.split(":")[0] for e in errors] == ["row 3", "row 4", "row 5", "row 6"]
    assert "empty" in errors[0]
    assert "not a date" in errors[1]
    assert "has passed" in errors[2]
    assert VoucherCode.objects.count() == 0


def test_a_file_without_the_code_column_or_codes_is_refused(pool):
    with pytest.raises(CodeUploadRefused, match="header"):
        upload(pool, "A1,1", header="voucher,pin")
    with pytest.raises(CodeUploadRefused, match="no code"):
        upload(pool)


def reserve(pool: CodePool, key: str, quantity: int = 1) -> bool:
    return pools.codes_reserve(
        pool_id=pool.pk, quantity=quantity, reserved_for=key, at=timezone.now()
    )


def reserved(key: str) -> list[str]:
    return [code.code for code in VoucherCode.objects.filter(reserved_for=key).order_by("id")]


def test_reserving_takes_the_oldest_free_codes_once(pool):
    upload(pool, "FIRST,,", "SECOND,,", "THIRD,,")

    assert reserve(pool, "rdm-1-1")
    assert reserve(pool, "rdm-2-1", quantity=2)

    assert (reserved("rdm-1-1"), reserved("rdm-2-1")) == (["FIRST"], ["SECOND", "THIRD"])
    assert not reserve(pool, "rdm-3-1")
    assert pools.pool_free_count(pool) == 0
    assert not VoucherCode.objects.filter(used_at__isnull=False).exists()
    assert all(code.reserved_at for code in VoucherCode.objects.all())


def test_a_pool_short_of_free_codes_reserves_none(pool):
    upload(pool, "A,,", "B,,")

    assert not reserve(pool, "rdm-1-1", quantity=3)

    assert pools.pool_free_count(pool) == 2
    assert not VoucherCode.objects.exclude(reserved_for="").exists()


def test_reserving_skips_expired_used_and_reserved_codes_and_other_pools(pool):
    upload(pool, "OLD,,2099-01-01", "USED,,", "HELD,,", "GOOD,,")
    VoucherCode.objects.filter(pool=pool, expires_on__isnull=False).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert reserve(pool, "rdm-0-1", quantity=4) is False  # OLD has expired
    assert reserve(pool, "rdm-used-1")
    pools.codes_deliver(pool_id=pool.pk, reserved_for="rdm-used-1", at=timezone.now())
    assert reserve(pool, "rdm-held-1")
    upload(pool_make(), "ELSEWHERE,,")

    assert pools.pool_free_count(pool) == 1
    assert reserve(pool, "rdm-1-1")
    assert reserved("rdm-1-1") == ["GOOD"]
    assert not reserve(pool, "rdm-2-1")


def test_delivering_marks_the_reserved_codes_used_and_repeats_the_same_codes(pool):
    upload(pool, "A,,", "B,,", "C,,")
    reserve(pool, "rdm-1-1")
    reserve(pool, "rdm-2-1", quantity=2)
    now = timezone.now()

    second = pools.codes_deliver(pool_id=pool.pk, reserved_for="rdm-2-1", at=now)
    again = pools.codes_deliver(pool_id=pool.pk, reserved_for="rdm-2-1", at=now)

    assert [code.code for code in second] == [code.code for code in again] == ["B", "C"]
    assert {code.used_for for code in second} == {"rdm-2-1"}
    assert VoucherCode.objects.get(code__isnull=False, reserved_for="rdm-1-1").used_at is None
    assert pools.codes_delivered(used_for="rdm-2-1") == second


def test_releasing_frees_what_was_not_delivered_only(pool):
    upload(pool, "A,,", "B,,")
    reserve(pool, "rdm-1-1")
    reserve(pool, "rdm-2-1")
    pools.codes_deliver(pool_id=pool.pk, reserved_for="rdm-2-1", at=timezone.now())

    assert pools.codes_release(reserved_for="rdm-1-1") == 1
    assert pools.codes_release(reserved_for="rdm-2-1") == 0  # delivered: never taken back

    assert pools.pool_free_count(pool) == 1
    assert reserved("rdm-1-1") == []
    assert reserve(pool, "rdm-3-1")
    assert reserved("rdm-3-1") == ["A"]


def test_a_reservation_needs_both_its_key_and_its_time(pool):
    upload(pool, "A,,")
    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherCode.objects.update(reserved_for="rdm-1-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherCode.objects.update(reserved_at=timezone.now())


def test_low_stock_alert_is_raised_then_cleared(pool):
    upload(pool, "A,,")
    empty = pool_make(threshold=1)

    result = pools.pools_check_stock()

    assert sorted(result.low) == sorted([pool.pk, empty.pk])
    assert open_low_stock() == {f"pool:{pool.pk}", f"pool:{empty.pk}"}
    assert "1 free code(s)" in CatalogAlert.objects.get(subject=f"pool:{pool.pk}").message

    upload(pool, "B,,", "C,,")  # an upload checks its own pool at once
    upload(empty, "D,,")
    assert open_low_stock() == set()

    reserve(empty, "rdm-1-1")  # a reserved code is no longer free
    assert pools.pools_check_stock().low == [empty.pk]
    assert open_low_stock() == {f"pool:{empty.pk}"}


def test_an_inactive_offers_pool_does_not_alert(pool):
    pool.offer.is_active = False
    pool.offer.save()
    assert pools.pools_check_stock().low == []
    assert open_low_stock() == set()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_get_the_same_code():
    pool = pool_make(threshold=0)
    upload(pool, *(f"CODE-{n:02},," for n in range(8)))
    count = 12
    barrier = threading.Barrier(count)
    results: list[object] = ["missing"] * count

    def claim(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                results[i] = reserve(pool, f"rdm-{i}-1")
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert sorted(results, key=str) == [False] * (count - 8) + [True] * 8, results
    held = VoucherCode.objects.filter(pool=pool).exclude(reserved_for="")
    assert held.count() == 8
    assert len(set(held.values_list("reserved_for", flat=True))) == 8
