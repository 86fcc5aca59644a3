"""Stores silent for longer than usual: each store's rhythm learned from its own events
(``merchants.silence``), recorded by the order and webhook paths, counted by the home's
card and listed by the stores list's filter, the same rows."""

import datetime
import io
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from core.ops_cards import card
from integrations import demo
from integrations.services import inbox_receive
from merchants import silence
from merchants.models import MerchantStatus, Store
from merchants.queues import stores_silent
from merchants.services import lifecycle
from merchants.services.stores import store_create, store_event_record
from tests.loyalty.apihelpers import post_json, program_for
from tests.merchants.factories import MerchantFactory

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
STORES = reverse("admin:merchants_store_changelist")


def store_make(merchant, name: str = "Shop", platform: str = "custom") -> Store:
    store, _ = store_create(
        merchant=merchant,
        name=name,
        platform=platform,
        domain=f"{name.lower().replace(' ', '-')}.example",
        actor=SYSTEM,
    )
    return store


def events(store: Store, *, every: datetime.timedelta, count: int, last: datetime.datetime):
    """``count`` events ``every`` apart, the last at ``last``."""
    for number in range(count):
        store_event_record(store=store, at=last - (count - 1 - number) * every)


def silent_now(now: datetime.datetime) -> set[str]:
    return set(stores_silent(Store.objects.all(), now=now).values_list("name", flat=True))


def replay(gaps: list[datetime.timedelta]) -> silence.Rhythm:
    """The rhythm a store learns from these gaps between its events."""
    at = datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC)
    rhythm = silence.heard(silence.Rhythm(), at)
    for gap in gaps:
        at += gap
        rhythm = silence.heard(rhythm, at)
    return rhythm


@pytest.fixture
def live(db):
    return MerchantFactory(live=True, name="Live Co", slug="live-co")


# -- learning ----------------------------------------------------------------------------


def test_the_usual_gap_is_learned_from_the_stores_events(live):
    store = store_make(live)
    last = timezone.now() - 2 * MINUTE
    events(store, every=5 * MINUTE, count=21, last=last)

    store.refresh_from_db()
    assert store.last_event_at == last
    assert store.event_gaps == 20
    assert store.usual_event_gap == 300
    # Ten usual gaps are 50 minutes: the floor of an hour holds.
    assert store.silent_after == last + HOUR


def test_the_usual_gap_follows_a_store_whose_rhythm_changes():
    rhythm = replay([5 * MINUTE] * 20 + [30 * MINUTE] * 20)
    assert 25 * 60 < rhythm.usual_gap <= 30 * 60
    assert rhythm.silent_after - rhythm.last_event_at >= 10 * 25 * MINUTE


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (20, "1 min"),
        (383, "6 min"),
        (5_400, "1 hr 30 min"),
        (86_400 + 4 * 3_600 + 70, "1 day 4 hr"),
    ],
)
def test_the_usual_gap_reads_as_precise_as_it_is(seconds, words):
    assert silence.gap_words(seconds) == words


def test_events_within_a_minute_of_the_last_teach_nothing_and_write_nothing(
    live, django_assert_num_queries
):
    store = store_make(live)
    now = timezone.now()
    store_event_record(store=store, at=now)
    with django_assert_num_queries(0):
        store_event_record(store=store, at=now + 30 * datetime.timedelta(seconds=1))
        # Another host's clock a little behind.
        store_event_record(store=store, at=now - 5 * MINUTE)
    store.refresh_from_db()
    assert (store.last_event_at, store.event_gaps) == (now, 0)


def test_a_nightly_quiet_spell_is_learned_and_then_not_called_silent():
    day = [5 * MINUTE] * 192  # 16 hours of orders every 5 minutes
    night = 8 * HOUR
    first_night = replay(day)
    assert first_night.silent_after - first_night.last_event_at == HOUR
    rhythm = replay([*day, night] * 4 + day)
    assert rhythm.silent_after - rhythm.last_event_at > night
    assert not silence.is_silent(rhythm, rhythm.last_event_at + night)
    assert silence.is_silent(rhythm, rhythm.last_event_at + 2 * night)


def test_one_outage_does_not_teach_a_store_to_stay_silent_for_hours():
    steady = [5 * MINUTE] * 50
    rhythm = replay([*steady, 20 * HOUR, *steady])
    assert rhythm.silent_after - rhythm.last_event_at <= 3 * HOUR


# -- which stores are silent -------------------------------------------------------------


def test_a_store_that_sends_every_few_minutes_is_silent_after_an_hour_without(live):
    store = store_make(live, "Busy")
    last = timezone.now() - 3 * HOUR
    events(store, every=5 * MINUTE, count=21, last=last)

    assert silent_now(last + 59 * MINUTE) == set()
    assert silent_now(last + 61 * MINUTE) == {"Busy"}
    assert silent_now(timezone.now()) == {"Busy"}
    store_event_record(store=store)
    assert silent_now(timezone.now()) == set()


def test_a_store_that_sends_twice_a_day_is_not_silent_after_a_few_hours(live):
    store = store_make(live, "Quiet")
    last = timezone.now() - 6 * HOUR
    events(store, every=12 * HOUR, count=15, last=last)

    assert silent_now(timezone.now()) == set()
    assert silent_now(last + 6 * 24 * HOUR) == {"Quiet"}


def test_a_new_store_with_too_little_history_is_not_flagged(live):
    store = store_make(live, "New")
    last = timezone.now() - 10 * HOUR
    events(store, every=5 * MINUTE, count=silence.MIN_GAPS, last=last)

    store.refresh_from_db()
    assert store.event_gaps == silence.MIN_GAPS - 1
    assert silent_now(timezone.now()) == set()
    assert store_make(live, "Never heard").last_event_at is None
    assert silent_now(timezone.now()) == set()


def test_an_inactive_store_or_a_suspended_merchants_store_is_not_flagged(live):
    last = timezone.now() - 10 * HOUR
    inactive = store_make(live, "Closed")
    events(inactive, every=5 * MINUTE, count=21, last=last)
    Store.objects.filter(pk=inactive.pk).update(is_active=False)
    suspended = MerchantFactory(live=True, name="Paused Co", slug="paused-co")
    events(store_make(suspended, "Paused"), every=5 * MINUTE, count=21, last=last)
    assert silent_now(timezone.now()) == {"Paused"}

    lifecycle.merchant_transition(
        merchant=suspended, to_status=MerchantStatus.SUSPENDED, reason="unpaid", actor=SYSTEM
    )
    assert silent_now(timezone.now()) == set()


# -- where events come from --------------------------------------------------------------


def test_an_order_naming_the_store_and_a_platform_webhook_are_events(tenant):
    program_for(tenant.merchant)
    store = store_make(tenant.merchant, "Api shop")
    response = post_json(
        tenant.client,
        "/api/v1/orders/",
        {
            "external_id": "o-1",
            "member": "cust-1",
            "total": "20.00",
            "currency": "USD",
            "placed_at": (timezone.now() - HOUR).isoformat(),
            "store": str(store.public_id),
        },
    )
    assert response.status_code == 201, response.content
    store.refresh_from_db()
    assert timezone.now() - store.last_event_at < MINUTE

    hooked = store_make(tenant.merchant, "Hooked", platform="shopify")
    inbox_receive(store=hooked, topic="orders/paid", delivery_id="d-1", headers={}, body="{}")
    hooked.refresh_from_db()
    assert timezone.now() - hooked.last_event_at < MINUTE


def test_a_bulk_of_orders_is_one_event_of_its_store(tenant):
    program_for(tenant.merchant)
    store = store_make(tenant.merchant, "Bulk shop")
    placed_at = (timezone.now() - HOUR).isoformat()
    orders = [
        {
            "external_id": f"o-{number}",
            "member": f"cust-{number}",
            "total": "10.00",
            "currency": "USD",
            "placed_at": placed_at,
            "store": str(store.public_id),
        }
        for number in range(3)
    ]
    response = post_json(tenant.client, "/api/v1/orders/bulk/", {"orders": orders})
    assert response.status_code == 200, response.content
    store.refresh_from_db()
    assert store.last_event_at is not None
    assert store.event_gaps == 0


# -- the card and the list ---------------------------------------------------------------


def test_the_silent_stores_card_counts_the_rows_its_list_shows(admin_client, live):
    now = timezone.now()
    events(store_make(live, "Broken"), every=5 * MINUTE, count=21, last=now - 4 * HOUR)
    events(store_make(live, "Also broken"), every=20 * MINUTE, count=21, last=now - 5 * HOUR)
    events(store_make(live, "Fine"), every=5 * MINUTE, count=21, last=now - 2 * MINUTE)
    events(store_make(live, "Learning"), every=5 * MINUTE, count=3, last=now - 4 * HOUR)
    store_make(live, "Silent from the start")

    silent = card("integrations.stores_silent")
    assert silent.figure(timezone.now()).value == 2
    response = admin_client.get(f"{STORES}?{silent.query}")
    assert response.status_code == 200
    listed = {store.name for store in response.context["cl"].result_list}
    assert listed == {"Broken", "Also broken"}


def test_the_stores_list_shows_the_last_event_and_the_usual_gap_in_words(admin_client, live):
    events(store_make(live, "Busy"), every=5 * MINUTE, count=21, last=timezone.now())
    events(store_make(live, "Learning"), every=5 * MINUTE, count=3, last=timezone.now())
    store_make(live, "Unheard")
    body = admin_client.get(STORES).content.decode()
    assert "Last event" in body
    assert "Usual gap" in body
    assert "About every 5 min" in body
    assert f"Learning (2 of {silence.MIN_GAPS} gaps)" in body


def test_the_demo_has_a_silent_store_for_the_card(live):
    silent = store_make(live, "Outlet", platform="magento")
    Store.objects.filter(pk=silent.pk).update(domain=demo.SILENT_DOMAIN)
    store_make(live, "Shop")
    demo.seed(out=io.StringIO())
    assert silent_now(timezone.now()) == {"Outlet"}
    assert card("integrations.stores_silent").figure(timezone.now()).value == 1


# -- concurrency -------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_learn_a_gap_once():
    store = store_make(MerchantFactory(live=True), "Busy")
    first = timezone.now() - 10 * MINUTE
    store_event_record(store=store, at=first)
    count = 8
    barrier = threading.Barrier(count)
    errors: list[Exception] = []

    def record(number: int) -> None:
        try:
            # Each request read the store before any of them wrote it.
            stale = Store.objects.get(pk=store.pk)
            barrier.wait(timeout=30)
            store_event_record(
                store=stale, at=first + 5 * MINUTE + number * datetime.timedelta(milliseconds=10)
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    store.refresh_from_db()
    assert store.event_gaps == 1
    assert 300 <= store.usual_event_gap < 301
