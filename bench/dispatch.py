"""Dispatch benchmark: supplier orders through ``fulfillment.services.dispatch`` with the sandbox
adapter at zero latency and no failures, on PostgreSQL.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust
auth; ``createdb``, ``dropdb`` on ``PATH``) and Redis on 127.0.0.1:6379 (database 15
empty: the benchmark's broker, flushed at the end)::

    .venv/bin/python bench/dispatch.py [--redemptions 2000] [--batch-size 100]
                                       [--sweep 25,100,400] [--members 50]
                                       [--skip-worker] [--worker-timeout 600]
                                       [--profile] [--timeout-minutes 40]
                                       [--pgbench-clients 16] [--pgbench-seconds 20]
                                       [--pgbench-scale 1] [--skip-pgbench]

What one run does (measured figures in ``bench/DISPATCH.md``):

1. Drops and recreates the database ``loyalty_bench_dispatch``, runs ``manage.py
   migrate`` on it, and configures Django in-process against it (``config.settings``,
   development defaults, ``DEBUG=false``, Celery broker ``redis://127.0.0.1:6379/15``,
   ``CELERY_TASK_ALWAYS_EAGER=false``, ``EMAIL_URL=dummymail://``).
2. Builds, through the project's services where there are some: a live merchant
   (``merchant_create``, checklist, ``in_review -> approved -> live``), its program
   (``program_configure``, no pending days), a gift card (``reward_save``: 10 or 25 USD,
   an email recipient), a sandbox supplier (``{"latency_ms": 0, "failure_rate": 0}``, a
   rate limit of 1,000,000 orders a minute so that it never throttles; plain rows, as
   ``catalog.demo`` makes suppliers and offers), its offer (unlimited stock), the
   merchant's selection (``catalog_items_add``) and ``--members`` members
   (``member_upsert``, country US) with enough points (``ledger.points_adjust``).
3. For each batch size of ``--sweep`` (plus ``--batch-size``): creates ``--redemptions``
   pending redemptions of 25 USD with ``redemptions.redemption_create`` (the
   members in turn). Their on-commit ``dispatch_redemption.delay`` only publishes a
   message to the ``celery`` queue of Redis database 15, which no worker reads: the
   benchmark counts those messages (one per redemption) and deletes them, so nothing
   but the measured code dispatches. Then it calls ``dispatch.process_due(now=now,
   batch_size=...)`` in this process until a call claims nothing, timed by wall clock,
   every SQL statement counted by an ``execute_wrapper``. Printed: redemptions
   delivered per second, queries per redemption and per batch, time inside
   ``cursor.execute``. The ``send_delivery_email`` messages the deliveries publish are
   counted and deleted the same way, and the deliveries marked emailed (what the email
   worker would have done), so that part 4's scheduled task does not publish them again
   as lost.
4. Worker: creates ``--redemptions`` more, starts one real worker (``celery -A config
   worker --pool solo --concurrency 1 -Q bench_dispatch``, the benchmark's environment,
   its own queue so that it never runs the delivery emails or the creation's dispatch
   messages), waits until it answers a ping, then sends
   ``fulfillment.process_supplier_orders`` (``batch_size=--batch-size``) to that queue
   whenever the queue is empty (so one task waits while the worker runs another),
   until the database shows no active supplier order left and the delivery email
   messages of every delivery are out (the worker publishes them as it commits, a moment
   after the rows; at most ``EMAIL_WAIT`` seconds more); prints redemptions
   fulfilled per second, the worker's CPU time, and what each run that found work
   claimed and how long it took (the worker logs at ``INFO``: its "succeeded" lines carry
   each task's summary). One scheduled run works batch after batch for up to its budget
   (``fulfillment.tasks.run_budget()``), so a backlog that fits in it takes one run. The
   worker is stopped (``SIGTERM``, then ``SIGKILL``) whatever happens.
   Then pgbench on its own scratch database ``loyalty_bench_dispatch_pgbench``
   (``pgbench -i -s --pgbench-scale``, then ``pgbench -b tpcb-like -c --pgbench-clients
   -j 2 -T --pgbench-seconds``, ``benchdb.pgbench_tps``), and the ratio of the worker's
   redemptions per second to pgbench's TPS, against the target ``TARGET_RATIO`` (0.1).
5. Checks after each part: every redemption delivered, each with exactly one supplier
   order and that one delivered, one delivered code each, no idempotency key twice;
   in-process, the sandbox store shows one placement per key and exactly the phase's
   keys (the worker's store lives in the worker process, so there only the database is
   checked), and in the worker part the runs claimed every order once between them;
   the points spent (the redemptions' spend entries) equal the sum of their
   ``points_total``, and at the end the members' balances went down by the sum of every
   ``points_total``. The verdict line says whether queries per redemption stay
   constant across the batch sizes (the per-batch claim amortises: the fit
   ``queries = a * redemptions + b * batches`` is printed).
6. Drops the databases and flushes Redis database 15 whatever happens (``finally``).
   ``SIGALRM`` after ``--timeout-minutes`` ends the run through the same ``finally``.

Exit status 1 if any check failed.
"""

# Only fixed local executables (createdb, dropdb, manage.py, celery) are started.
# ruff: noqa: S603

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import benchdb
from benchdb import ROOT, configure_django, drop_db, gift_card_on_offer, pgbench_tps, run, tool

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB = "loyalty_bench_dispatch"
PGBENCH_DB = "loyalty_bench_dispatch_pgbench"
TARGET_RATIO = 0.1  # one worker's redemptions per second / pgbench's TPS, the same run
REDIS_URL = "redis://127.0.0.1:6379/15"
CREATE_QUEUE = "celery"  # where dispatch_redemption and send_delivery_email messages go
WORKER_QUEUE = "bench_dispatch"
WORKER_NAME = "bench-dispatch@%h"
FACE_VALUE = Decimal("25")
CONSTANT_SPREAD = 0.5  # queries per redemption the batch sizes may differ by
EMAIL_WAIT = 30  # seconds the worker part waits for the email messages once drained


# -- helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[dispatch {time.strftime('%H:%M:%S')}] {message}", flush=True)


def django_env(var_dir: str) -> dict[str, str]:
    env = benchdb.django_env(var_dir, database=BENCH_DB)
    env.update(
        CELERY_BROKER_URL=REDIS_URL, CELERY_TASK_ALWAYS_EAGER="false", EMAIL_URL="dummymail://"
    )
    return env


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid() -> int:
    """The PostgreSQL backend of this process's connection (on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@dataclass
class QueryCounter:
    """An ``execute_wrapper``: statements and the time spent inside ``cursor.execute``."""

    count: int = 0
    seconds: float = 0.0
    shapes: Counter = field(default_factory=Counter)

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
            self.shapes[shape(sql)] += 1


def shape(sql: str) -> str:
    """A statement without its column list and literals, to group statements by."""
    sql = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", sql, count=1)
    sql = re.sub(r"^(INSERT INTO \S+) \(.*?\) VALUES .*", r"\1 (…) VALUES …", sql)
    sql = re.sub(r"^(UPDATE \S+ SET) .*? WHERE", r"\1 … WHERE", sql)
    sql = re.sub(r"IN \([^)]*\)", "IN (…)", sql)
    sql = re.sub(r'SAVEPOINT "\w+"', "SAVEPOINT …", sql)
    return sql if len(sql) <= 150 else sql[:147] + "..."


@contextlib.contextmanager
def counting():
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def expect(self, label: str, got, wanted) -> None:
        if got == wanted:
            self.passed += 1
        else:
            self.failures.append(f"{label}: got {got!r}, expected {wanted!r}")
            log(f"CHECK FAILED {label}: got {got!r}, expected {wanted!r}")


# -- setup -------------------------------------------------------------------------------


@dataclass
class World:
    merchant: object
    reward: object
    members: list[str]
    points_given: int
    phases: int = 0
    created: list[int] = field(default_factory=list)  # redemption ids of every phase


def setup(args: argparse.Namespace, phases: int) -> World:
    from django.db import transaction
    from django.utils import timezone

    from core.actors import SYSTEM
    from loyalty import ledger
    from loyalty.services.members import member_upsert
    from loyalty.services.programs import program_configure
    from merchants.models import ChecklistItem, MerchantStatus
    from merchants.services.lifecycle import (
        checklist_item_complete,
        merchant_create,
        merchant_transition,
    )

    merchant = merchant_create(
        name="Bench Rewards Shop",
        slug="bench-rewards-shop",
        country="US",
        default_currency="USD",
        timezone_name="UTC",
        actor=SYSTEM,
    )
    for step in (MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED):
        merchant_transition(merchant=merchant, to_status=step, reason="benchmark", actor=SYSTEM)
    for item in ChecklistItem.values:
        checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)
    merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="benchmark", actor=SYSTEM
    )
    program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="Bench Points",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=0,
    )
    reward = gift_card_on_offer(
        merchant=merchant,
        slug="bench-gift-card",
        denominations=["10", "25"],
        adapter="sandbox",
        adapter_config={"latency_ms": 0, "failure_rate": 0},
    )
    # 25 USD at 0.01 a point is 2,500 points; four times that leaves room for any markup.
    per_member = 4 * 2500 * (-(-args.redemptions * phases // args.members))
    members = []
    now = timezone.now()
    for number in range(args.members):
        external_id = f"bench-{number:04d}"
        member, _ = member_upsert(
            merchant=merchant, external_id=external_id, fields={"country": "US"}
        )
        with transaction.atomic():
            ledger.points_adjust(
                member=member,
                points=per_member,
                reason="benchmark",
                at=now,
                expires_at=None,
                actor=SYSTEM,
            )
        members.append(external_id)
    return World(
        merchant=merchant, reward=reward, members=members, points_given=per_member * args.members
    )


def create_redemptions(world: World, count: int, label: str) -> tuple[list[int], float, int]:
    """``count`` pending redemptions; returns their ids, the seconds it took and the
    queries. Their dispatch messages are counted and deleted (nothing reads that queue)."""
    from core.actors import Actor
    from fulfillment.services import redemptions

    client = redis_client()
    before = client.llen(CREATE_QUEUE)
    ids = []
    started = time.perf_counter()
    with counting() as counter:
        for number in range(count):
            recorded = redemptions.redemption_create(
                merchant=world.merchant,
                data=redemptions.RedemptionInput(
                    member_external_id=world.members[number % len(world.members)],
                    reward_id=world.reward.pk,
                    value=FACE_VALUE,
                    recipient={"email": f"member{number % len(world.members)}@example.com"},
                    external_id=f"{label}-{number:06d}",
                ),
                actor=Actor.system("bench"),
            )
            ids.append(recorded.obj.pk)
    seconds = time.perf_counter() - started
    enqueued = client.llen(CREATE_QUEUE) - before
    client.delete(CREATE_QUEUE)
    if enqueued != count:
        log(f"warning: {enqueued} dispatch messages published for {count} redemptions")
    world.created.extend(ids)
    return ids, seconds, counter.count


# -- checks ------------------------------------------------------------------------------


def check_delivered(checks: Checks, label: str, ids: list[int], *, sandbox: bool) -> None:
    from django.db.models import Count, Sum

    from fulfillment.adapters.sandbox import sandbox_placements
    from fulfillment.models import DeliveredCode, Redemption, SupplierOrder

    phase = Redemption.objects.filter(pk__in=ids)
    checks.expect(f"{label}: redemptions", phase.count(), len(ids))
    statuses = dict(phase.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    checks.expect(f"{label}: redemption statuses", statuses, {"delivered": len(ids)})
    orders = SupplierOrder.objects.filter(redemption_id__in=ids)
    per_redemption = Counter(Counter(orders.values_list("redemption_id", flat=True)).values())
    checks.expect(f"{label}: supplier orders per redemption", dict(per_redemption), {1: len(ids)})
    order_statuses = dict(
        orders.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    checks.expect(f"{label}: supplier order statuses", order_statuses, {"delivered": len(ids)})
    keys = list(orders.values_list("idempotency_key", flat=True))
    checks.expect(f"{label}: idempotency keys used twice", len(keys) - len(set(keys)), 0)
    checks.expect(
        f"{label}: delivered codes",
        DeliveredCode.objects.filter(redemption_id__in=ids).count(),
        len(ids),
    )
    spent = phase.aggregate(spent=Sum("spend_entry__points"), total=Sum("points_total"))
    checks.expect(f"{label}: points spent = sum of points_total", -spent["spent"], spent["total"])
    if sandbox:
        placements = sandbox_placements()
        checks.expect(f"{label}: sandbox keys = the phase's keys", set(placements), set(keys))
        checks.expect(
            f"{label}: sandbox keys placed more than once",
            sorted(key for key, n in placements.items() if n != 1),
            [],
        )


def check_balances(checks: Checks, world: World) -> None:
    from django.db.models import Sum

    from fulfillment.models import Redemption
    from loyalty.models import LedgerEntry, Member

    total = Redemption.objects.filter(pk__in=world.created).aggregate(t=Sum("points_total"))["t"]
    left = Member.objects.filter(merchant=world.merchant).aggregate(b=Sum("points_balance"))["b"]
    checks.expect(
        "members' balances went down by every points_total", world.points_given - left, total
    )
    entries = LedgerEntry.objects.filter(member__merchant=world.merchant).aggregate(
        p=Sum("points")
    )["p"]
    checks.expect("members' balances = sum of their ledger entries", left, entries)


# -- part (a): in-process --------------------------------------------------------------------


@dataclass
class InProcess:
    batch_size: int
    redemptions: int
    create_seconds: float
    create_queries: int
    seconds: float
    cpu_seconds: float
    backend_cpu_seconds: float
    queries: int
    execute_seconds: float
    calls: int  # process_due calls, the last one claiming nothing
    delivered: int
    emails: int
    shapes: Counter = field(default_factory=Counter)

    @property
    def per_redemption(self) -> float:
        return self.queries / self.redemptions


def run_in_process(
    world: World, batch_size: int, count: int, checks: Checks, *, profile: bool = False
) -> InProcess:
    from django.utils import timezone

    from fulfillment.adapters.sandbox import sandbox_reset
    from fulfillment.services import dispatch

    label = f"bs{batch_size}"
    log(f"[{label}] creating {count:,} redemptions")
    ids, create_seconds, create_queries = create_redemptions(world, count, label)
    log(
        f"[{label}] created in {create_seconds:.1f}s ({count / create_seconds:,.0f}/s, "
        f"{create_queries / count:.1f} queries each); dispatching in batches of {batch_size}"
    )
    sandbox_reset()
    client = redis_client()
    emails_before = client.llen(CREATE_QUEUE)
    calls = delivered = 0
    limit = 10 * (count // batch_size + 2)
    profiler = cProfile.Profile() if profile else None
    backend = backend_pid()
    backend_cpu = process_cpu(backend)
    cpu = time.process_time()
    started = time.perf_counter()
    with counting() as counter:
        if profiler:
            profiler.enable()
        while calls < limit:
            result = dispatch.process_due(now=timezone.now(), batch_size=batch_size)
            calls += 1
            delivered += result.delivered
            if not result.claimed:
                break
        if profiler:
            profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    backend_cpu = process_cpu(backend) - backend_cpu
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(f"\n-- cProfile of process_due, batch size {batch_size} --\n{out.getvalue()}")
    emails = client.llen(CREATE_QUEUE) - emails_before
    client.delete(CREATE_QUEUE)
    measure = InProcess(
        batch_size=batch_size,
        redemptions=count,
        create_seconds=create_seconds,
        create_queries=create_queries,
        seconds=seconds,
        cpu_seconds=cpu,
        backend_cpu_seconds=backend_cpu,
        queries=counter.count,
        execute_seconds=counter.seconds,
        calls=calls,
        delivered=delivered,
        emails=emails,
        shapes=counter.shapes,
    )
    log(
        f"[{label}] {delivered:,} delivered in {seconds:.2f}s = {delivered / seconds:,.0f}/s; "
        f"{counter.count:,} queries = {measure.per_redemption:.2f}/redemption over {calls} "
        f"process_due calls; {100 * counter.seconds / seconds:.0f} % inside cursor.execute"
    )
    checks.expect(f"{label}: delivered by process_due", delivered, count)
    checks.expect(f"{label}: delivery emails published", emails, count)
    check_delivered(checks, label, ids, sandbox=True)
    emails_done(ids)
    return measure


def emails_done(ids: list[int]) -> None:
    """Mark the phase's deliveries emailed, which is what the worker that reads the email
    messages would have done within seconds (nothing reads them here: drawing thousands
    of PDF vouchers is not what is measured). Otherwise the scheduled task of the worker
    part would take them, five minutes after their delivery, for emails a crash lost and
    publish them again, up to 500 per run."""
    from fulfillment.models import DeliveryStatus, Redemption

    Redemption.objects.filter(pk__in=ids, delivery_status=DeliveryStatus.NONE).update(
        delivery_status=DeliveryStatus.SENT
    )


def fit(measures: list[InProcess]) -> tuple[float, float] | None:
    """Least squares of queries = a * redemptions + b * process_due calls."""
    if len(measures) < 2:
        return None
    srr = sum(m.redemptions**2 for m in measures)
    scc = sum(m.calls**2 for m in measures)
    src = sum(m.redemptions * m.calls for m in measures)
    sqr = sum(m.queries * m.redemptions for m in measures)
    sqc = sum(m.queries * m.calls for m in measures)
    det = srr * scc - src * src
    if not det:
        return None
    return (sqr * scc - sqc * src) / det, (srr * sqc - src * sqr) / det


# -- part (b): one Celery worker ------------------------------------------------------------


@dataclass
class WorkerRun:
    redemptions: int
    seconds: float
    tasks_sent: int
    worker_cpu: float
    startup_seconds: float
    runs: list[tuple[int, float]]  # (orders claimed, seconds) of each run that found some


def scheduled_runs(worker_log: str) -> list[tuple[int, float]]:
    """What each ``process_supplier_orders`` run did, from the worker's log: the orders
    it claimed and its seconds, for the runs that claimed any."""
    found = re.findall(
        r"Task fulfillment\.process_supplier_orders\[[^\]]+\] succeeded in ([\d.]+)s: "
        r"(?:\{'rows': \d+, 'summary': )?'(\d+) claimed",
        worker_log,
    )
    return [(int(claimed), float(seconds)) for seconds, claimed in found if int(claimed)]


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    cmd = [
        str(celery if celery.exists() else tool("celery")),
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--concurrency",
        "1",
        "-Q",
        WORKER_QUEUE,
        "-n",
        WORKER_NAME,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "INFO",  # for the "succeeded" line of each task, with what the run did
    ]
    handle = log_path.open("w")
    try:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        handle.close()


def stop_worker(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_ready(proc: subprocess.Popen, timeout: float) -> float:
    from config.celery import app

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited ({proc.returncode}) before it was ready")
        replies = app.control.ping(timeout=0.5)
        if any(name.startswith("bench-dispatch@") for reply in replies for name in reply):
            return time.perf_counter() - started
    raise SystemExit(f"the worker did not answer a ping within {timeout:.0f}s")


def run_worker(
    args: argparse.Namespace, world: World, env: dict[str, str], var_dir: str, checks: Checks
) -> WorkerRun:
    from config.celery import app
    from fulfillment.models import SupplierOrder
    from fulfillment.services import dispatch

    count = args.redemptions
    log(f"[worker] creating {count:,} redemptions")
    ids, create_seconds, _ = create_redemptions(world, count, "worker")
    log(f"[worker] created in {create_seconds:.1f}s; starting the worker")
    client = redis_client()
    log_path = Path(var_dir) / "worker.log"
    proc = None
    try:
        proc = start_worker(env, log_path)
        startup = wait_ready(proc, timeout=120)
        log(f"[worker] ready after {startup:.1f}s (pid {proc.pid}); draining")
        active = SupplierOrder.objects.filter(redemption_id__in=ids, status__in=dispatch.ACTIVE)
        cpu_before = process_cpu(proc.pid)
        sent = 0
        started = time.perf_counter()
        last_poll = 0.0
        drained_at = None
        while True:
            now = time.perf_counter()
            if now - started > args.worker_timeout:
                raise SystemExit(f"the worker did not drain them in {args.worker_timeout}s")
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited ({proc.returncode}); see {log_path}")
            if client.llen(WORKER_QUEUE) == 0:
                app.send_task(
                    "fulfillment.process_supplier_orders",
                    kwargs={"batch_size": args.batch_size},
                    queue=WORKER_QUEUE,
                )
                sent += 1
            if now - last_poll >= 0.05:
                last_poll = now
                # Done once the last delivery's email message is out too: the worker
                # publishes them as its transaction commits, a moment after the rows.
                if drained_at is None and not active.exists():
                    drained_at = now
                if drained_at is not None and (
                    client.llen(CREATE_QUEUE) >= count or now - drained_at > EMAIL_WAIT
                ):
                    break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        worker_cpu = process_cpu(proc.pid) - cpu_before
        emails = client.llen(CREATE_QUEUE)
    finally:
        stop_worker(proc)
        text = log_path.read_text() if log_path.exists() else ""
        if re.search(r"ERROR|CRITICAL|Traceback", text):
            print(f"-- worker log (tail) --\n{text[-4000:]}", flush=True)
    runs = scheduled_runs(text)
    log(
        f"[worker] {count:,} fulfilled in {seconds:.2f}s = {count / seconds:,.0f}/s with "
        f"{sent} tasks sent, {len(runs)} of them finding work "
        f"({', '.join(f'{claimed:,} in {run_seconds:.1f}s' for claimed, run_seconds in runs)})"
        f"; worker CPU {worker_cpu:.1f}s"
    )
    # One email message per delivery; more would be the scheduled run's re-sends.
    checks.expect("worker: delivery emails published", emails, count)
    # Each order claimed by one run, once (a run counts the orders it processed).
    checks.expect("worker: orders claimed by the runs", sum(c for c, _ in runs), count)
    check_delivered(checks, "worker", ids, sandbox=False)
    return WorkerRun(
        redemptions=count,
        seconds=seconds,
        tasks_sent=sent,
        worker_cpu=worker_cpu,
        startup_seconds=startup,
        runs=runs,
    )


# -- report --------------------------------------------------------------------------------


def report(args, measures: list[InProcess], worker: WorkerRun | None, tps: float | None) -> None:
    print("\n== dispatch with the sandbox adapter (latency 0, no failures) ==", flush=True)
    print(f"{args.redemptions:,} redemptions per run, quantity 1, one supplier, one offer")
    print("(a) process_due in this process, until a call claims nothing")
    print(
        f"{'batch':>6}{'seconds':>9}{'redemp/s':>10}{'queries':>9}{'q/redemp':>10}"
        f"{'calls':>7}{'q/call':>8}{'db %':>6}{'cpu ms/r':>10}{'pg ms/r':>9}"
        f"{'create/s':>10}{'q/create':>10}"
    )
    for m in measures:
        print(
            f"{m.batch_size:>6}{m.seconds:>9.2f}{m.delivered / m.seconds:>10,.0f}"
            f"{m.queries:>9,}{m.per_redemption:>10.2f}{m.calls:>7}{m.queries / m.calls:>8.1f}"
            f"{100 * m.execute_seconds / m.seconds:>6.0f}"
            f"{1000 * m.cpu_seconds / m.redemptions:>10.2f}"
            f"{1000 * m.backend_cpu_seconds / m.redemptions:>9.2f}"
            f"{m.redemptions / m.create_seconds:>10,.0f}{m.create_queries / m.redemptions:>10.1f}"
        )
    print(
        "db %: wall time inside cursor.execute (driver, network, PostgreSQL); cpu ms/r, "
        "pg ms/r: CPU per redemption of this process and of its PostgreSQL backend; "
        "create/s, q/create: redemption_create, for comparison"
    )
    main = next(m for m in measures if m.batch_size == args.batch_size)
    print(f"statements of the batch size {main.batch_size} run, per redemption:")
    for sql, n in main.shapes.most_common():
        print(f"  {n / main.redemptions:6.2f}  {sql}")
    coefficients = fit(measures)
    if coefficients:
        print(
            f"fit: queries = {coefficients[0]:.2f} x redemptions + {coefficients[1]:.2f} x "
            "process_due calls"
        )
    if worker:
        print(
            f"(b) one Celery worker (solo pool) running fulfillment.process_supplier_orders "
            f"(batch_size={args.batch_size}): {worker.redemptions:,} in {worker.seconds:.2f}s = "
            f"{worker.redemptions / worker.seconds:,.0f} redemptions/s, {worker.tasks_sent} "
            f"tasks sent, {len(worker.runs)} run(s) finding work (orders claimed and seconds: "
            f"{', '.join(f'{claimed:,} in {seconds:.1f}s' for claimed, seconds in worker.runs)})"
            f", worker CPU {worker.worker_cpu:.1f}s "
            f"({1000 * worker.worker_cpu / worker.redemptions:.2f} ms/redemption); the worker "
            f"answered a ping {worker.startup_seconds:.1f}s after it started"
        )
    if tps:
        main_rate = main.delivered / main.seconds
        print(
            f"pgbench: {tps:,.1f} TPS (tpcb-like, scale {args.pgbench_scale}, "
            f"{args.pgbench_clients} clients, -j 2, {args.pgbench_seconds}s), right after the "
            f"worker; (a) at batch size {main.batch_size}: {main_rate / tps:.3f} x pgbench"
        )
        if worker:
            ratio = worker.redemptions / worker.seconds / tps
            print(
                f"ratio: worker redemptions/s / pgbench TPS = {ratio:.3f} (target "
                f"{TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
            )
    print(
        f"load average (1 min) at the start and the end: {args.load_start:.2f} / "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    per = [m.per_redemption for m in measures]
    spread = max(per) - min(per)
    constant = spread < CONSTANT_SPREAD
    print(
        "queries per redemption: "
        + ("constant across batch sizes" if constant else "NOT constant across batch sizes")
        + f" ({', '.join(f'{m.batch_size}: {m.per_redemption:.2f}' for m in measures)}; "
        f"spread {spread:.2f}, allowed < {CONSTANT_SPREAD})"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--redemptions", type=int, default=2000, help="per run")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--sweep", default="25,100,400", help="in-process batch sizes")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the in-process run at --batch-size"
    )
    parser.add_argument("--worker-timeout", type=float, default=600, help="seconds")
    parser.add_argument("--timeout-minutes", type=float, default=40)
    parser.add_argument("--pgbench-clients", type=int, default=16, help="pgbench -c")
    parser.add_argument("--pgbench-seconds", type=int, default=20, help="pgbench -T")
    parser.add_argument("--pgbench-scale", type=int, default=1, help="pgbench -i -s")
    parser.add_argument("--skip-pgbench", action="store_true")
    args = parser.parse_args(argv)
    try:
        sweep = {int(value) for value in args.sweep.split(",") if value.strip()}
    except ValueError:
        parser.error("--sweep takes comma-separated batch sizes")
    sweep.add(args.batch_size)
    if min(sweep) < 1 or min(args.redemptions, args.members, args.pgbench_clients) < 1:
        parser.error("batch sizes, --redemptions, --members and --pgbench-clients must be positive")
    args.sweep = sorted(sweep)
    return args


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout("the benchmark ran out of time (--timeout-minutes)")


def _terminated(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_start = os.getloadavg()[0]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(args.timeout_minutes * 60)))
    var_dir = tempfile.mkdtemp(prefix="loyalty-bench-dispatch-")
    env = django_env(var_dir)
    checks = Checks()
    redis_owned = False
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        if client.dbsize():
            raise SystemExit(f"{REDIS_URL} is not empty; the benchmark flushes it, so it stops")
        redis_owned = True
        log(f"creating {BENCH_DB} and migrating it")
        drop_db(BENCH_DB)
        run([tool("createdb"), BENCH_DB])
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env=env)
        configure_django(env)
        phases = len(args.sweep) + (0 if args.skip_worker else 1)
        world = setup(args, phases)
        log(f"set up: {args.members} members, {world.points_given:,} points given")
        measures = [
            run_in_process(
                world,
                batch_size,
                args.redemptions,
                checks,
                profile=args.profile and batch_size == args.batch_size,
            )
            for batch_size in args.sweep
        ]
        worker = None if args.skip_worker else run_worker(args, world, env, var_dir, checks)
        tps = None
        if not args.skip_pgbench:
            log(
                f"pgbench -b tpcb-like -c {args.pgbench_clients} -j 2 -T {args.pgbench_seconds} "
                f"(scale {args.pgbench_scale}) on {PGBENCH_DB}"
            )
            tps = pgbench_tps(
                PGBENCH_DB,
                clients=args.pgbench_clients,
                seconds=args.pgbench_seconds,
                scale=args.pgbench_scale,
            )
            drop_db(PGBENCH_DB)
            log(f"pgbench: {tps:,.1f} TPS")
        check_balances(checks, world)
        from loyalty.audit import ledger_audit

        audit = ledger_audit()
        log(f"audit_ledger: {audit}")
        checks.expect("audit_ledger: problems", audit.findings, [])
        report(args, measures, worker, tps)
    finally:
        signal.alarm(0)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        drop_db(BENCH_DB)
        drop_db(PGBENCH_DB)
        if redis_owned:
            with contextlib.suppress(Exception):
                redis_client().flushdb()
        shutil.rmtree(var_dir, ignore_errors=True)
        log(
            f"dropped {BENCH_DB} and {PGBENCH_DB}"
            + (", flushed Redis database 15" if redis_owned else "")
        )
    print(f"\nchecks: {checks.passed} passed, {len(checks.failures)} failed")
    for failure in checks.failures:
        print(f"  FAILED {failure}")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
