"""A real Celery worker killed with SIGKILL in the middle of a dispatch batch loses
nothing and buys nothing twice once a worker runs again.

One end-to-end test on PostgreSQL (the worker shares the test database; SQLite's lives in
this process's memory) and Redis (a database number and queues of its own). The supplier
is the fake http_json aggregator of ``tests/fulfillment/adapters``, served from this
process on 127.0.0.1 so that it outlives the worker; it counts orders per idempotency key.

1. ``ORDERS`` redemptions are recorded (their on-commit dispatch is caught: no order
   goes out before the worker runs).
2. A worker (prefork, concurrency 1) gets one ``fulfillment.process_supplier_orders``
   covering them all: it claims and leases them all and places them one by one, each
   answer taking ``LATENCY`` s, and records the answers together at least every
   ``dispatch.RECORD_EVERY``. The ``KILL_AT``-th answer is held back: the order is
   placed at the aggregator, the worker waits for the answer, and its process group is
   killed with SIGKILL then. So the orders answered since the last record and the one in
   flight are bought and not recorded, the ones recorded before are delivered, the ones
   after it are leased and never sent.
3. A new worker: the scheduled task at the real time claims nothing (the leases hold);
   at the time the leases end (``tests.e2e.process_due_at``, the same dispatch with
   ``now`` passed, see ``e2e_helpers``) it settles every order, placing the bought ones
   again with the same keys (the aggregator answers with the original orders).
4. Every redemption is delivered once, from one order the aggregator placed once, its
   email is enqueued once, and the points and the ledger add up.
"""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from core.actors import Actor
from fulfillment import enqueue
from fulfillment.models import DeliveredCode, Redemption, SupplierOrder
from fulfillment.services import dispatch
from fulfillment.services import redemptions as redemption_services
from loyalty.models import LedgerEntry
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.fulfillment.adapters.aggregator import Aggregator, Step
from tests.loyalty.factories import assert_ledger_consistent, member_make

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_URL = "redis://127.0.0.1:6379/13"  # no other test uses this database number
DEADLINE_SECONDS = 45  # for each wait on the worker
ORDERS = 40
KILL_AT = 15  # the placement in flight when the worker is killed
LATENCY = 0.1  # seconds per answer of the aggregator
HELD_BACK = 20.0  # seconds the answer to the KILL_AT-th placement waits
POINTS = 250_000


@dataclass
class Broker:
    url: str
    queue: str  # the tasks this test sends; the worker takes only these
    mail_queue: str  # what the worker enqueues itself (delivery emails); nobody takes it
    node: str
    client: Celery
    redis: redis.Redis

    def send(self, name: str, *args) -> str:
        return self.client.send_task(name, args=args, queue=self.queue).id

    def messages(self, queue: str) -> list[dict]:
        return [json.loads(raw) for raw in self.redis.lrange(queue, 0, -1)]


@pytest.fixture
def broker() -> Iterator[Broker]:
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        store.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL}: {exc}")
    token = f"e2e-crash-{uuid.uuid4().hex[:12]}"
    client = Celery("e2e-client", broker=REDIS_URL, set_as_current=False)
    client.conf.broker_connection_retry_on_startup = True
    try:
        yield Broker(
            url=REDIS_URL,
            queue=token,
            mail_queue=f"{token}.mail",
            node=f"{token}@localhost",
            client=client,
            redis=store,
        )
    finally:
        client.close()
        forget(store, token)
        store.close()


def forget(store: redis.Redis, token: str) -> None:
    """Remove from Redis whatever names ``token``: the queues, their bindings and the
    unacknowledged message of the killed worker."""
    mark = token.encode()
    for key in store.scan_iter(count=1000):
        if mark in key:
            store.delete(key)
        elif key.startswith(b"_kombu.binding."):
            for member in store.smembers(key):
                if mark in member:
                    store.srem(key, member)
        elif key == b"unacked":
            for tag, payload in store.hscan_iter(key):
                if mark in payload:
                    store.hdel(key, tag)
                    store.zrem(b"unacked_index", tag)


def database_url_of_the_test_database() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"], safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """``celery worker`` in a process group of its own, logging to ``log``."""

    def __init__(self, broker: Broker, tmp_path: Path, name: str) -> None:
        self.log = tmp_path / f"{name}.log"
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "PYTHONPATH": str(BASE_DIR),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url_of_the_test_database(),
            "VAR_DIR": str(tmp_path / "var"),
            "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
            "CELERY_BROKER_URL": broker.url,
            "E2E_DEFAULT_QUEUE": broker.mail_queue,
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "tests.fulfillment.e2e_helpers",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "--loglevel=INFO",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    f"--queues={broker.queue}",
                    f"--hostname={broker.node}",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool child dies too
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"the worker exited with {code}\n{self.text()}"

    def kill(self) -> None:
        """SIGKILL to the whole group: the main process and its pool child, at once."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown; SIGKILL when it takes too long."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # a pool child left behind
        self.process.wait(timeout=10)

    def wait_for(self, what: str, check: Callable[[], object]) -> object:
        started = time.monotonic()
        while time.monotonic() - started < DEADLINE_SECONDS:
            self.alive()
            found = check()
            if found:
                return found
            time.sleep(0.01)
        raise AssertionError(f"not within {DEADLINE_SECONDS}s: {what}\n{self.text()}")

    def result_of(self, task_id: str) -> str:
        """The return value of the task, as the worker logs it once it succeeded."""

        def logged() -> str | None:
            for line in self.text().splitlines():
                if f"[{task_id}] succeeded in " in line:
                    return line.split("s: ", 1)[1]
                assert f"[{task_id}] raised" not in line, self.text()
            return None

        return str(self.wait_for(f"task {task_id}", logged))


def shop(aggregator: Aggregator):
    merchant, _ = merchant_with_program()
    supplier = SupplierFactory(
        slug="aggregator",
        adapter="http_json",
        adapter_config=json.dumps(
            {"base_url": aggregator.base_url, "api_key": aggregator.api_key, "timeout_s": 60}
        ),
        rate_limit_per_minute=10 * ORDERS,
    )
    reward = RewardFactory(denominations=["10", "25"])
    OfferFactory(reward=reward, supplier=supplier, supplier_sku="GIFT-25")
    select(merchant, reward, price_step=1)
    member = member_make(merchant, "cust-1", points=POINTS, country="US")
    return merchant, reward, member


def redeem(merchant, reward, n: int) -> Redemption:
    recorded = redemption_services.redemption_create(
        merchant=merchant,
        data=redemption_services.RedemptionInput(
            member_external_id="cust-1",
            reward_id=reward.pk,
            value=Decimal("25"),
            recipient={"email": f"member{n}@example.com"},
            external_id=f"crash-{n}",
        ),
        actor=Actor.system("test"),
    )
    return recorded.obj


def posts_per_key(aggregator: Aggregator) -> Counter[str]:
    with aggregator.lock:
        seen = list(aggregator.seen)
    return Counter(
        headers.get("Idempotency-Key")
        for method, path, headers, _ in seen
        if method == "POST" and path.endswith("/orders")
    )


def test_a_worker_killed_mid_batch_loses_and_buys_twice_nothing(
    tmp_path, monkeypatch, aggregator, broker
):
    merchant, reward, member = shop(aggregator)
    # The test settings run tasks eagerly, in this process: catch the dispatch each
    # redemption enqueues when it commits, so the worker gets only the batch sent below.
    enqueued: list[int] = []
    monkeypatch.setattr(enqueue, "dispatch_task_send", enqueued.append)
    redemptions = [redeem(merchant, reward, n) for n in range(ORDERS)]
    assert sorted(enqueued) == sorted(r.pk for r in redemptions)
    assert SupplierOrder.objects.filter(status="queued").count() == ORDERS
    assert not aggregator.seen
    points_spent = sum(r.points_total for r in redemptions)
    assert points_spent <= POINTS

    with aggregator.lock:
        aggregator.script.extend([Step(delay=LATENCY)] * (KILL_AT - 1))
        aggregator.script.append(Step(delay=HELD_BACK))

    workers: list[Worker] = []
    try:
        # -- a worker dies mid-batch ------------------------------------------------------
        workers.append(first := Worker(broker, tmp_path, "worker-1"))
        claimed_from = timezone.now()
        broker.send("fulfillment.process_supplier_orders", ORDERS + 10)
        first.wait_for(f"{KILL_AT} orders placed", lambda: len(aggregator.placements) >= KILL_AT)
        first.kill()
        killed_at = timezone.now()
        print(f"----- worker-1 (killed) -----\n{first.text()}")

        in_flight = list(
            SupplierOrder.objects.filter(
                idempotency_key__in=list(aggregator.placements), status="queued"
            ).select_related("redemption")
        )  # bought, and not recorded
        assert len(aggregator.placements) == KILL_AT
        recorded = SupplierOrder.objects.filter(status="delivered").count()
        assert 0 < recorded == KILL_AT - len(in_flight)
        # At most the answers of one RECORD_EVERY went unrecorded, and the one held back.
        assert len(in_flight) <= dispatch.RECORD_EVERY.total_seconds() / LATENCY + 1
        active = SupplierOrder.objects.filter(status__in=dispatch.ACTIVE)
        assert active.count() == ORDERS - recorded
        for order in active:  # all claimed in one go: leased, never tried
            assert order.status == "queued"
            assert order.tries == 0
            assert claimed_from + dispatch.LEASE <= order.next_try_at
            assert order.next_try_at <= killed_at + dispatch.LEASE
        assert {order.redemption.status for order in in_flight} == {"pending"}

        # -- a new worker ---------------------------------------------------------------
        workers.append(second := Worker(broker, tmp_path, "worker-2"))
        # At the real time the leases hold: nothing is claimed, nothing placed again.
        line = second.result_of(
            second_id := broker.send("fulfillment.process_supplier_orders", ORDERS + 10)
        )
        assert "'rows': 0, 'summary': '0 claimed" in line, (second_id, line)
        assert posts_per_key(aggregator).total() == KILL_AT
        # When the leases end, the scheduled dispatch takes the orders back.
        at = timezone.now() + dispatch.LEASE + timedelta(seconds=5)
        for _ in range(5):
            print(second.result_of(broker.send("tests.e2e.process_due_at", at.isoformat(), 100)))
            if not SupplierOrder.objects.filter(status__in=dispatch.ACTIVE).exists():
                break
            at += timedelta(hours=1)  # past any back-off
        else:
            raise AssertionError(f"supplier orders still active\n{second.text()}")
        second.stop()
        print(f"----- worker-2 -----\n{second.text()}")
    finally:
        for worker in workers:
            worker.stop()

    # -- nothing lost, nothing bought twice ---------------------------------------------
    redemptions = list(
        Redemption.objects.filter(merchant=merchant).prefetch_related("supplier_orders")
    )
    assert len(redemptions) == ORDERS
    assert Counter(r.status for r in redemptions) == {"delivered": ORDERS}
    delivered_keys = set()
    for redemption in redemptions:
        orders = list(redemption.supplier_orders.all())
        delivered = [order for order in orders if order.status == "delivered"]
        if redemption.status == "delivered":
            assert len(delivered) == 1, orders
            assert redemption.refund_entry_id is None
            (order,) = delivered
            placed = aggregator.orders[order.idempotency_key]
            assert order.supplier_ref == placed["id"]
            codes = list(DeliveredCode.objects.filter(redemption=redemption))
            assert [code.code for code in codes] == [c["code"] for c in placed["codes"]]
            assert [code.supplier_order_id for code in codes] == [order.pk]
            delivered_keys.add(order.idempotency_key)
        else:  # refunded: not bought, points back
            assert redemption.status == "refunded"
            assert not delivered
            assert redemption.refund_entry_id is not None
            assert not {order.idempotency_key for order in orders} & set(aggregator.orders)

    # The aggregator bought each delivered redemption once, and nothing else.
    assert set(aggregator.placements.values()) == {1}
    assert set(aggregator.orders) == delivered_keys
    # The orders bought and not recorded at the kill were sent again with their keys, and
    # only those.
    posts = posts_per_key(aggregator)
    assert {posts[order.idempotency_key] for order in in_flight} == {2}
    assert set(posts.values()) <= {1, 2}
    assert sum(posts.values()) == ORDERS + len(in_flight)

    # Points: the delivered stay spent, the refunded came back; the ledger adds up.
    refunded = [r for r in redemptions if r.status == "refunded"]
    kept = sum(r.points_total for r in redemptions if r.status == "delivered")
    member = assert_ledger_consistent(member)
    assert member.points_balance == POINTS - kept
    assert (
        -LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.REDEEM).aggregate(
            total=Sum("points")
        )["total"]
        == points_spent
    )
    assert LedgerEntry.objects.filter(
        member=member, kind=LedgerEntry.Kind.REDEMPTION_REFUND
    ).count() == len(refunded)

    # Each delivery enqueued the member's email once (the kill fell between two deliveries).
    emails = Counter()
    for message in broker.messages(broker.mail_queue):
        assert message["headers"]["task"] == "fulfillment.send_delivery_email"
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        emails[args[0]] += 1
    assert emails == Counter({r.pk: 1 for r in redemptions if r.status == "delivered"})

    # The whole ledger, checked in bulk on the database the workers wrote to (raises on
    # any mismatch, with the report).
    call_command("audit_ledger", stdout=StringIO())
