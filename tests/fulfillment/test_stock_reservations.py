"""Stock is taken in the redemption's transaction: a code of the offer's pool is reserved
for the redemption's supplier order (or a unit of the offer's counted stock), so exactly
as many redemptions are accepted as there are codes or units; the rest are 409
``out_of_stock``, never 404. Dispatch delivers the reserved code; a reservation the
redemption no longer needs (cancelled, failed over, refunded) goes back to the pool."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import pools
from catalog.models import CodePool, Supplier, SupplierKind, SupplierOffer, VoucherCode
from core.actors import SYSTEM
from customercare.models import Ticket
from fulfillment.models import DeliveredCode, Redemption, SupplierOrder
from fulfillment.services import dispatch, interventions
from fulfillment.services.reissue import redemption_reissue
from loyalty.models import LedgerEntry, Member
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.conftest import assert_problem, make_tenant
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import assert_ledger_consistent, member_make
from tests.loyalty.test_ledger_concurrency import run_together

URL = "/api/v1/redemptions/"
CODES = ("POOL-A", "POOL-B", "POOL-C", "POOL-D")


def pool_reward(merchant, codes=CODES, *, face_value: str = "10"):
    """A 10 USD voucher whose only offer is a code pool holding ``codes``."""
    reward = RewardFactory(type="voucher", denominations=[face_value])
    warehouse = SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="code_pool")
    offer = OfferFactory(reward=reward, supplier=warehouse, discount_percent=Decimal(0))
    pool = CodePool.objects.create(
        offer=offer, face_value=Decimal(face_value), low_stock_threshold=0
    )
    if codes:
        pools.codes_upload(pool=pool, csv_text="code\n" + "\n".join(codes) + "\n", actor=SYSTEM)
    select(merchant, reward, price_step=1)
    return reward, pool


def stocked_reward(merchant, stock: int):
    """A 10 USD gift card whose only offer counts ``stock`` units."""
    reward = RewardFactory(denominations=["10"])
    offer = OfferFactory(reward=reward, stock=stock)
    select(merchant, reward, price_step=1)
    return reward, offer


def body(reward, member: str = "cust-1", **fields) -> dict:
    return {
        "member": member,
        "reward": reward.pk,
        "denomination": "10",
        "recipient": {"email": "ana@example.com"},
        **fields,
    }


def free_codes(pool: CodePool) -> int:
    return pools.pool_free_count(pool)


def reserved_for(redemption: Redemption) -> list[str]:
    order = redemption.supplier_orders.order_by("attempt").last()
    return [
        code.code
        for code in VoucherCode.objects.filter(reserved_for=order.idempotency_key).order_by("id")
    ]


def redeem_all_at_once(tenant, reward, count: int) -> list[tuple[int, str]]:
    """``count`` members redeem ``reward`` at the same moment, each through its own
    connection; returns (status, problem code) per request."""
    for n in range(count):
        member_make(tenant.merchant, f"cust-{n}", points=5000, country="US")

    def redeem(n: int) -> tuple[int, str]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
        response = post_json(client, URL, body(reward, f"cust-{n}", external_id=f"race-{n}"))
        code = response.json().get("code", "") if response.status_code >= 400 else ""
        return response.status_code, code

    results = run_together(count, redeem)
    return [value if status == "ok" else (0, repr(value)) for status, value in results]


# -- concurrency (PostgreSQL) ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_redemptions_of_a_pool_of_four_codes_accept_exactly_four():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    reward, pool = pool_reward(merchant)

    answers = redeem_all_at_once(tenant, reward, 16)

    assert sorted(answers) == [(201, "")] * 4 + [(409, "out_of_stock")] * 12, answers
    dispatch.process_due(now=timezone.now())
    redemptions = list(Redemption.objects.all())
    assert [r.status for r in redemptions] == ["delivered"] * 4
    assert not Redemption.objects.filter(needs_care=True).exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEMPTION_REFUND).exists()
    assert not Ticket.objects.exists()
    delivered = sorted(code.code for code in DeliveredCode.objects.all())
    assert delivered == sorted(CODES)
    assert VoucherCode.objects.filter(pool=pool, used_at__isnull=False).count() == 4
    for redemption in redemptions:
        (code,) = redemption.codes.all()
        assert VoucherCode.objects.get(used_for=code.supplier_order.idempotency_key).code == (
            code.code
        )
    assert connection.vendor == "postgresql"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_redemptions_of_four_units_of_stock_accept_exactly_four():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    reward, offer = stocked_reward(merchant, stock=4)

    answers = redeem_all_at_once(tenant, reward, 16)

    assert sorted(answers) == [(201, "")] * 4 + [(409, "out_of_stock")] * 12, answers
    dispatch.process_due(now=timezone.now())
    assert [r.status for r in Redemption.objects.all()] == ["delivered"] * 4
    assert not Ticket.objects.exists()
    offer.refresh_from_db()
    assert offer.stock == 0
    assert sum(SupplierOrder.objects.values_list("stock_reserved", flat=True)) == 4


# -- reservations, delivery and release --------------------------------------------------

pytest_django_db = pytest.mark.django_db


@pytest_django_db
def test_a_redemption_reserves_its_code_in_its_own_transaction():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant)

    response = post_json(tenant.client, URL, body(reward, quantity=2))

    assert response.status_code == 201, response.content
    redemption = Redemption.objects.get()
    assert reserved_for(redemption) == ["POOL-A", "POOL-B"]
    assert redemption.supplier_orders.get().stock_reserved == 2
    assert free_codes(pool) == 2
    assert not VoucherCode.objects.filter(used_at__isnull=False).exists()


@pytest_django_db
def test_dispatch_delivers_the_code_reserved_for_that_redemption():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    member_make(merchant, "cust-2", points=5000, country="US")
    reward, pool = pool_reward(merchant)
    post_json(tenant.client, URL, body(reward, "cust-1"))
    post_json(tenant.client, URL, body(reward, "cust-2"))
    first, second = Redemption.objects.order_by("pk")
    assert (reserved_for(first), reserved_for(second)) == (["POOL-A"], ["POOL-B"])

    dispatch.process_due(now=timezone.now(), redemption_id=second.pk)

    second.refresh_from_db()
    assert second.status == "delivered"
    assert [code.code for code in second.codes.all()] == ["POOL-B"]
    assert VoucherCode.objects.get(used_at__isnull=False).used_for == (
        second.supplier_orders.get().idempotency_key
    )
    dispatch.process_due(now=timezone.now())
    first.refresh_from_db()
    assert [code.code for code in first.codes.all()] == ["POOL-A"]
    assert free_codes(pool) == 2


@pytest_django_db
def test_a_cancelled_redemption_gives_its_reserved_code_back_to_the_pool():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant, codes=CODES[:1])
    post_json(tenant.client, URL, body(reward))
    redemption = Redemption.objects.get()
    assert free_codes(pool) == 0
    assert_problem(post_json(tenant.client, URL, body(reward)), 409, "out_of_stock", "quantity")

    interventions.redemption_cancel(
        redemption=redemption, reason="the member changed their mind", actor=SYSTEM
    )

    assert free_codes(pool) == 1
    code = VoucherCode.objects.get()
    assert (code.reserved_for, code.reserved_at, code.used_at) == ("", None, None)
    assert redemption.supplier_orders.get().stock_reserved == 0
    again = post_json(tenant.client, URL, body(reward))
    assert again.status_code == 201, again.content
    assert reserved_for(Redemption.objects.get(status="pending")) == ["POOL-A"]


@pytest_django_db
def test_a_refunded_redemption_gives_its_reserved_code_back_to_the_pool():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant, codes=CODES[:1])
    post_json(tenant.client, URL, body(reward))
    # The warehouse is paused before dispatch: the order fails, no other offer is left.
    Supplier.objects.filter(adapter="code_pool").update(is_active=False)

    dispatch.process_due(now=timezone.now())

    redemption = Redemption.objects.get()
    assert redemption.status == "refunded"
    assert free_codes(pool) == 1
    assert not VoucherCode.objects.exclude(reserved_for="").exists()
    assert assert_ledger_consistent(redemption.member).points_balance == 5000


@pytest_django_db
def test_failing_over_gives_the_code_back_and_reserves_from_the_next_offer():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, first_pool = pool_reward(merchant, codes=CODES[:2])
    backup = SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="code_pool")
    backup_offer = OfferFactory(
        reward=reward, supplier=backup, discount_percent=Decimal(0), fee=Decimal("0.50")
    )
    backup_pool = CodePool.objects.create(
        offer=backup_offer, face_value=Decimal(10), low_stock_threshold=0
    )
    pools.codes_upload(pool=backup_pool, csv_text="code\nBACKUP-1\n", actor=SYSTEM)
    post_json(tenant.client, URL, body(reward))
    Supplier.objects.filter(pk=first_pool.offer.supplier_id).update(is_active=False)

    dispatch.process_due(now=timezone.now())  # fails over
    dispatch.process_due(now=timezone.now())  # delivers from the backup pool

    redemption = Redemption.objects.get()
    assert redemption.status == "delivered"
    assert [code.code for code in redemption.codes.all()] == ["BACKUP-1"]
    assert (free_codes(first_pool), free_codes(backup_pool)) == (2, 0)
    first, second = redemption.supplier_orders.order_by("attempt")
    assert (first.stock_reserved, second.stock_reserved) == (0, 1)


@pytest_django_db
def test_a_cancelled_redemption_gives_its_unit_of_stock_back():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, offer = stocked_reward(merchant, stock=1)
    post_json(tenant.client, URL, body(reward))
    assert_problem(post_json(tenant.client, URL, body(reward)), 409, "out_of_stock", "quantity")

    interventions.redemption_cancel(
        redemption=Redemption.objects.get(), reason="duplicate", actor=SYSTEM
    )

    offer.refresh_from_db()
    assert offer.stock == 1
    assert post_json(tenant.client, URL, body(reward)).status_code == 201


# -- out of stock is a 409 on every path -------------------------------------------------


def _expired(pool: CodePool) -> None:
    VoucherCode.objects.filter(pool=pool).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )


def _sold_out_pool(pool: CodePool) -> None:
    VoucherCode.objects.filter(pool=pool).update(used_at=timezone.now(), used_for="elsewhere")


def _reserved_elsewhere(pool: CodePool) -> None:
    VoucherCode.objects.filter(pool=pool).update(
        reserved_for="rdm-elsewhere-1", reserved_at=timezone.now()
    )


def _offer_inactive(pool: CodePool) -> None:
    SupplierOffer.objects.filter(pk=pool.offer_id).update(is_active=False)


@pytest_django_db
@pytest.mark.parametrize(
    "sell_out", [_sold_out_pool, _reserved_elsewhere, _expired, _offer_inactive]
)
def test_a_pool_reward_with_no_usable_code_is_a_409_out_of_stock_and_takes_nothing(sell_out):
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant, codes=CODES[:2])
    sell_out(pool)
    before = (Member.objects.get().points_balance, LedgerEntry.objects.count())

    response = post_json(tenant.client, URL, body(reward))

    assert_problem(response, 409, "out_of_stock", "quantity")
    assert (Member.objects.get().points_balance, LedgerEntry.objects.count()) == before
    assert not Redemption.objects.exists()


@pytest_django_db
def test_more_codes_than_the_pool_has_free_is_a_409_and_reserves_none():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant, codes=CODES[:3])

    response = post_json(tenant.client, URL, body(reward, quantity=4))

    assert_problem(response, 409, "out_of_stock", "quantity")
    assert free_codes(pool) == 3
    assert not VoucherCode.objects.exclude(reserved_for="").exists()


@pytest_django_db
def test_a_sold_out_stocked_offer_is_a_409_out_of_stock():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, _ = stocked_reward(merchant, stock=0)

    assert_problem(post_json(tenant.client, URL, body(reward)), 409, "out_of_stock", "quantity")


@pytest_django_db
def test_a_pool_of_another_face_value_is_not_used():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward = RewardFactory(type="voucher", denominations=["10", "25"])
    warehouse = SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="code_pool")
    pool = CodePool.objects.create(
        offer=OfferFactory(reward=reward, supplier=warehouse),
        face_value=Decimal(10),
        low_stock_threshold=0,
    )
    pools.codes_upload(pool=pool, csv_text="code\nTEN-1\n", actor=SYSTEM)
    select(merchant, reward, price_step=1)

    response = post_json(tenant.client, URL, body(reward, denomination="25"))

    assert_problem(response, 409, "out_of_stock", "quantity")
    assert free_codes(pool) == 1


@pytest_django_db
def test_reissuing_a_pool_reward_reserves_a_new_code_or_is_out_of_stock():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    reward, pool = pool_reward(merchant, codes=CODES[:2])
    post_json(tenant.client, URL, body(reward))
    dispatch.process_due(now=timezone.now())
    original = Redemption.objects.get()
    assert original.status == "delivered"

    new = redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)

    assert reserved_for(new) == ["POOL-B"]
    assert free_codes(pool) == 0
    dispatch.process_due(now=timezone.now())
    new.refresh_from_db()
    assert [code.code for code in new.codes.all()] == ["POOL-B"]
    from core.exceptions import DomainError

    with pytest.raises(DomainError) as refused:
        redemption_reissue(redemption=new, reason="dead again", actor=SYSTEM)
    assert (refused.value.code, refused.value.status) == ("out_of_stock", 409)


# -- statements on the redemption path ---------------------------------------------------


@pytest_django_db
def test_a_pool_redemption_costs_two_statements_more_than_one_of_unlimited_stock():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    member_make(merchant, "cust-2", points=5000, country="US")
    unlimited = RewardFactory(denominations=["10"])
    OfferFactory(reward=unlimited)
    select(merchant, unlimited, price_step=1)
    reward, _ = pool_reward(merchant)
    # Warm the caches (API key, program configuration) of both requests alike.
    post_json(tenant.client, URL, body(unlimited, "cust-2"))

    with CaptureQueriesContext(connection) as plain:
        assert post_json(tenant.client, URL, body(unlimited)).status_code == 201
    with CaptureQueriesContext(connection) as pooled:
        assert post_json(tenant.client, URL, body(reward, "cust-2")).status_code == 201

    assert len(pooled) == len(plain) + 2, [q["sql"] for q in pooled]


@pytest_django_db
def test_pool_orders_queued_before_reservations_get_their_codes_reserved_by_the_migration():
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "fulfillment.migrations.0006_reserve_codes_of_queued_pool_orders"
    )
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=5000, country="US")
    member_make(merchant, "cust-2", points=5000, country="US")
    reward, _ = pool_reward(merchant)
    post_json(tenant.client, URL, body(reward, "cust-1", quantity=2))
    post_json(tenant.client, URL, body(reward, "cust-2", quantity=2))
    # As they were queued before: nothing reserved; and one code went meanwhile.
    VoucherCode.objects.update(reserved_for="", reserved_at=None)
    SupplierOrder.objects.update(stock_reserved=0)
    VoucherCode.objects.filter(digest=pools.code_digest("POOL-D")).update(
        used_at=timezone.now(), used_for="elsewhere"
    )

    migration.reserve(apps, None)

    first, second = Redemption.objects.order_by("pk")
    assert reserved_for(first) == ["POOL-A", "POOL-B"]
    assert reserved_for(second) == []  # one code left for two: fails over as before
    assert first.supplier_orders.get().stock_reserved == 2
    dispatch.process_due(now=timezone.now(), redemption_id=first.pk)
    first.refresh_from_db()
    assert first.status == "delivered"
