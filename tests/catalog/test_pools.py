"""Code pools: encrypted uploads refused whole on any bad row, one-time claims (also under
real concurrency on PostgreSQL), and low-stock alerts."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from catalog import pools
from catalog.exceptions import CodeUploadRefused
from catalog.models import AlertKind, CatalogAlert, CodePool, SupplierKind, VoucherCode
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
    return pools.codes_upload(pool=pool, csv_text="\n".join([header, *rows]) + "\n", actor=None)


def open_low_stock() -> set[str]:
    return set(
        CatalogAlert.objects.filter(kind=AlertKind.LOW_STOCK, resolved_at=None).values_list(
            "subject", flat=True
        )
    )


def test_uploaded_codes_and_pins_are_encrypted_at_rest(pool):
    result = upload(pool, "GIFT-0001-AAAA,1234,", "GIFT-0002-BBBB,,2099-12-31")

    assert (result.created, result.unused) == (2, 2)
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
        pool=pool, file=io.BytesIO(b"\xef\xbb\xbfcode\r\nONE\r\n\r\nTWO\r\n"), actor=None
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


def test_claim_takes_the_oldest_code_once(pool):
    upload(pool, "FIRST,,", "SECOND,,")

    first = pools.code_claim(pool=pool, used_for="redemption:1")
    second = pools.code_claim(pool=pool, used_for="redemption:2")

    assert (first.code, second.code) == ("FIRST", "SECOND")
    assert pools.code_claim(pool=pool, used_for="redemption:3") is None
    stored = VoucherCode.objects.get(pk=first.pk)
    assert stored.used_for == "redemption:1"
    assert stored.used_at is not None
    assert pools.pool_unused_count(pool) == 0


def test_claim_skips_expired_codes_and_other_pools(pool):
    upload(pool, "OLD,,2099-01-01", "GOOD,,")
    VoucherCode.objects.filter(pool=pool, expires_on__isnull=False).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    upload(pool_make(), "ELSEWHERE,,")

    assert pools.pool_unused_count(pool) == 1
    assert pools.code_claim(pool=pool, used_for="r").code == "GOOD"
    assert pools.code_claim(pool=pool, used_for="r") is None


def test_low_stock_alert_is_raised_then_cleared(pool):
    upload(pool, "A,,")
    empty = pool_make(threshold=1)

    result = pools.pools_check_stock()

    assert sorted(result.low) == sorted([pool.pk, empty.pk])
    assert open_low_stock() == {f"pool:{pool.pk}", f"pool:{empty.pk}"}
    assert "1 unused code(s)" in CatalogAlert.objects.get(subject=f"pool:{pool.pk}").message

    upload(pool, "B,,", "C,,")  # an upload checks its own pool at once
    upload(empty, "D,,")
    assert open_low_stock() == set()

    pools.code_claim(pool=empty, used_for="r")
    assert pools.pools_check_stock().low == [empty.pk]
    assert open_low_stock() == {f"pool:{empty.pk}"}


def test_an_inactive_offers_pool_does_not_alert(pool):
    pool.offer.is_active = False
    pool.offer.save()
    assert pools.pools_check_stock().low == []
    assert open_low_stock() == set()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_get_the_same_code():
    pool = pool_make(threshold=0)
    upload(pool, *(f"CODE-{n:02},," for n in range(8)))
    count = 12
    barrier = threading.Barrier(count)
    results: list[object] = ["missing"] * count

    def claim(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            code = pools.code_claim(pool=pool, used_for=f"redemption:{i}")
            results[i] = code.pk if code else None
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
    claimed = [pk for pk in results if isinstance(pk, int)]
    assert results.count(None) == count - 8, results
    assert len(claimed) == len(set(claimed)) == 8
    used = VoucherCode.objects.filter(pool=pool, used_at__isnull=False)
    assert used.count() == 8
    assert len(set(used.values_list("used_for", flat=True))) == 8
