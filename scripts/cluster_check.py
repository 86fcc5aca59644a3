"""``scripts/cluster check``: the six checks of docs/scaling.md against a running cluster.

The command re-runs itself inside the ``client`` host, where it is a Django process of its
own (the database read directly, as an operator's shell would), runs the fake supplier
(HTTPS on the client's address, counting the orders placed per idempotency key) and sends
its load through ``lb``. Each check prints one line, ``ok`` or ``FAILED``, and its figures.
"""

import argparse
import contextlib
import http.client
import os
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from cluster import (
    down,
)
from cluster_hosts import (
    MERCHANT_SLUG,
    PG_MAX_CONNECTIONS,
    POOL_MAX_DB_CONNECTIONS,
    PYTHON,
    ROOT,
    WEB_HOSTS,
    WEB_THREADS,
    WEB_WORKERS,
    WORKER_CONCURRENCY,
    WORKER_HOSTS,
    ClusterError,
    django_env,
    ip,
    namespaces,
    ns,
    say,
)
from cluster_load import (
    ConnectionSampler,
    Load,
    Results,
    World,
    cpu_now,
    fake_supplier,
    request_json,
    run_load,
    served_by,
    setup_django,
    world_of,
)
from cluster_services import (
    beat_up,
    worker_up,
)

INSIDE = "CLUSTER_CHECK_INSIDE"


def check(args: argparse.Namespace) -> int:
    if os.environ.get(INSIDE):
        return _inside(args)
    if not namespaces():
        raise ClusterError("no cluster is up: run `scripts/cluster up` first")
    command = [str(PYTHON / "python"), str(ROOT / "scripts" / "cluster.py"), "check"]
    command += ["--seconds", str(args.seconds)] + (["--short"] if args.short else [])
    env = {**django_env("client", direct=True), INSIDE: "1"}
    env.update((name, value) for name, value in os.environ.items() if name.startswith("CLUSTER_"))
    child = subprocess.Popen(["ip", "netns", "exec", ns("client"), *command], env=env, cwd=ROOT)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait(timeout=30)
        raise


def check_orders(results: Results, world: World, seconds: float, clients: int) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Count

    from loyalty.models import LedgerEntry, Order, Refund

    served_before = served_by()
    sampler = ConnectionSampler()
    sampler.start()
    cpu_before = cpu_now()
    load = run_load(world, seconds=seconds, clients=clients, prefix=f"o{int(time.time())}")
    cpu = {name: value - cpu_before[name] for name, value in cpu_now().items()}
    sampler.stopped.set()
    sampler.join()
    served = served_by() - served_before
    requests = max(len(load.orders) + len(load.refunds), 1)

    orders = set(load.orders)
    in_db = Order.objects.filter(merchant__slug=MERCHANT_SLUG, external_id__in=orders)
    earned = Counter(
        dict(
            LedgerEntry.objects.filter(order__in=in_db, kind=LedgerEntry.Kind.EARN)
            .values_list("order__external_id")
            .annotate(n=Count("id"))
            .values_list("order__external_id", "n")
        )
    )
    refunds = Refund.objects.filter(
        order__merchant__slug=MERCHANT_SLUG, external_id__in=[f"r-{o}" for o in load.refunds]
    ).count()
    audit = _audit(call_command)
    per_host = {host: served.get(ip(host), 0) for host in WEB_HOSTS}
    once = in_db.count() == len(orders) and all(earned.get(o) == 1 for o in orders)
    ok = (
        once
        and refunds == len(load.refunds)
        and not load.failures
        and audit.startswith("ok")
        and all(per_host.values())
    )
    rate = len(orders) / seconds
    results.record(
        1,
        ok,
        f"{len(orders)} orders ({rate:.0f}/s) and {len(load.refunds)} refunds through lb in "
        f"{seconds:.0f} s from {clients} clients; every order recorded once with one earn "
        f"entry: {'yes' if once else 'NO'}; refunds recorded {refunds}/{len(load.refunds)}; "
        f"non-2xx answers {len(load.failures)}"
        + (f" (first: {load.failures[0][1]} {load.failures[0][2]})" if load.failures else "")
        + f"; audit_ledger: {audit}; served by "
        + ", ".join(f"{host} {count}" for host, count in per_host.items())
        + "; CPU per request: "
        + ", ".join(f"{name} {1000 * value / requests:.1f} ms" for name, value in cpu.items()),
    )
    # A worker process holds one connection, and release and expiry hand their batches
    # to JOB_BATCH_THREADS more while they run.
    batch_threads = settings.JOB_BATCH_THREADS
    budget = (
        len(WEB_HOSTS) * WEB_WORKERS * WEB_THREADS
        + len(WORKER_HOSTS) * (WORKER_CONCURRENCY * (1 + batch_threads) + 1)
        + 2
    )
    ok = (
        sampler.backends_max <= POOL_MAX_DB_CONNECTIONS + 2
        and sampler.backends_max < PG_MAX_CONNECTIONS
        and not any(status == 0 or status >= 500 for _, status, _ in load.failures)
    )
    results.record(
        6,
        ok,
        f"connections during check 1: at most {sampler.clients_max} clients in PgBouncer's "
        f"pool (the hosts may open up to about {budget}: 2 web hosts x {WEB_WORKERS} workers "
        f"x {WEB_THREADS} threads, 2 worker hosts x ({WORKER_CONCURRENCY} x (1 + "
        f"{batch_threads} batch threads) + 1), beat and this check), "
        f"{sampler.servers_max} server connections (pool limit "
        f"{POOL_MAX_DB_CONNECTIONS}), {sampler.backends_max} client backends in PostgreSQL "
        f"(max_connections {PG_MAX_CONNECTIONS}), at most {sampler.waiting_max} clients "
        f"waiting for a server connection",
    )


def _audit(call_command) -> str:
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("audit_ledger", stdout=out, stderr=err)
    except Exception as error:
        return f"FAILED {error}: {err.getvalue().strip()[:300]}"
    return "ok, " + out.getvalue().strip().splitlines()[-1][:200]


# -- 4: a web host's link cut ---------------------------------------------------------------------


def check_link_cut(results: Results, world: World, clients: int) -> None:
    cut_for = 10.0
    holder: dict[str, Load] = {}
    loader = threading.Thread(
        target=lambda: holder.setdefault(
            "load",
            run_load(world, seconds=cut_for + 14, clients=clients, prefix=f"c{int(time.time())}"),
        )
    )
    served_before = served_by()
    loader.start()
    time.sleep(3)
    subprocess.run(["ip", "-n", ns("web2"), "link", "set", "eth0", "down"], check=True)
    cut_at = time.monotonic()
    time.sleep(cut_for)
    subprocess.run(["ip", "-n", ns("web2"), "link", "set", "eth0", "up"], check=True)
    back_at = time.monotonic()
    served_during = served_by() - served_before
    loader.join()
    load = holder["load"]
    # Back in service: lb tries web2 again once its fail_timeout passed.
    time.sleep(6)
    after = served_by()
    run_load(world, seconds=4, clients=clients, prefix=f"a{int(time.time())}")
    served_after = served_by() - after
    server_errors = [f for f in load.failures if f[1] == 0 or f[1] >= 500]
    ok = len(server_errors) <= clients and served_after.get(ip("web2"), 0) > 0
    results.record(
        4,
        ok,
        f"web2's link down for {back_at - cut_at:.0f} s under load from {clients} clients: "
        f"{len(load.orders)} orders answered, {len(server_errors)} 5xx or dropped (at most "
        f"{clients} in flight allowed), {len(load.failures) - len(server_errors)} other "
        f"non-2xx; web2 served {served_after.get(ip('web2'), 0)} of the requests after it "
        f"came back (web1 {served_during.get(ip('web1'), 0)} during the run)",
    )


# -- 2 and 3: redemptions on both workers, and a worker killed ----------------------------


def _redeem(world: World, count: int, prefix: str, *, clients: int = 4) -> list[str]:
    """``count`` redemptions through lb from ``clients`` threads; their external ids."""
    made: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(ip("lb"), 80, timeout=60)
        for index in range(number, count, clients):
            external_id = f"{prefix}-{index}"
            status, text = request_json(
                conn,
                "POST",
                "/api/v1/redemptions/",
                world.key,
                {
                    "external_id": external_id,
                    "member": world.members[index % len(world.members)],
                    "reward": world.reward_id,
                    "denomination": "10",
                    "recipient": {"email": f"{external_id}@example.com"},
                },
            )
            with lock:
                (made if status == 201 else refused).append(
                    external_id if status == 201 else f"{status} {text[:200]}"
                )
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if refused:
        raise ClusterError(f"{len(refused)} redemption(s) refused, the first: {refused[0]}")
    return made


def _settled(external_ids: list[str], timeout: float) -> tuple[Counter, float]:
    from fulfillment.models import Redemption

    started = time.monotonic()
    final = {"delivered", "refunded"}
    while True:
        states = Counter(
            Redemption.objects.filter(
                merchant__slug=MERCHANT_SLUG, external_id__in=external_ids
            ).values_list("status", flat=True)
        )
        if sum(states[s] for s in final) == len(external_ids) or (
            time.monotonic() - started > timeout
        ):
            return states, time.monotonic() - started
        time.sleep(0.3)


def _placed_twice(state, keys: set[str] | None = None) -> list[str]:
    with state.lock:
        return [key for key, count in state.placements.items() if count > 1]


def _supplier_keys(external_ids: list[str]) -> dict[str, list[str]]:
    from fulfillment.models import SupplierOrder

    keys: dict[str, list[str]] = {}
    for external_id, key in SupplierOrder.objects.filter(
        redemption__merchant__slug=MERCHANT_SLUG, redemption__external_id__in=external_ids
    ).values_list("redemption__external_id", "idempotency_key"):
        keys.setdefault(external_id, []).append(key)
    return keys


def _workers_of(task_name: str, since: datetime) -> Counter:
    from core.models import JobRun

    return Counter(
        run.split("@")[0]
        for run in JobRun.objects.filter(task_name=task_name, created_at__gte=since)
        .exclude(worker="")
        .values_list("worker", flat=True)
    )


def check_redemptions(results: Results, world: World, state, count: int) -> None:
    from django.utils import timezone

    from tests.fulfillment.adapters.aggregator import Step

    since = timezone.now()
    with state.lock:
        # A supplier that takes a fifth of a second keeps both workers busy.
        state.script.extend(Step(delay=0.2) for _ in range(count))
    made = _redeem(world, count, f"rd{int(time.time())}")
    states, took = _settled(made, timeout=120)
    with state.lock:
        state.script.clear()
    keys = _supplier_keys(made)
    twice = _placed_twice(state)
    workers = _workers_of("fulfillment.dispatch_redemption", since)
    with state.lock:
        placed = sum(state.placements[key] for ids in keys.values() for key in ids)
    ok = (
        states["delivered"] + states["refunded"] == count
        and not twice
        and all(workers.get(host) for host in WORKER_HOSTS)
    )
    results.record(
        2,
        ok,
        f"{count} redemptions through lb in {took:.1f} s: {states['delivered']} delivered, "
        f"{states['refunded']} refunded, {count - states['delivered'] - states['refunded']} "
        f"neither; the supplier placed {placed} orders for them, none twice: "
        f"{'yes' if not twice else 'NO ' + ', '.join(twice[:3])}; dispatched by "
        + ", ".join(f"{host} {workers.get(host, 0)}" for host in WORKER_HOSTS),
    )


def redelivery_limit() -> timedelta:
    """How long after a worker dies its redemptions may take to settle (check 3): its
    tasks are redelivered at once, but a supplier order it had claimed stays leased to it
    (``dispatch.LEASE``) so that no other run calls the supplier meanwhile; the next
    scheduled run after the lease (every minute) takes it, with half a minute's slack."""
    from fulfillment.services.dispatch import LEASE

    return LEASE + timedelta(seconds=90)


def check_worker_killed(results: Results, world: World, state, count: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from core.models import JobOutcome, JobRun
    from tests.fulfillment.adapters.aggregator import Step

    with state.lock:
        # Every answer of the supplier takes two seconds: worker1 is mid-task when it dies.
        state.script.extend(Step(delay=2.0) for _ in range(count * 4))
    since = timezone.now()
    made = _redeem(world, count, f"rk{int(time.time())}")
    runs = JobRun.objects.filter(task_name="fulfillment.dispatch_redemption", created_at__gte=since)
    in_flight: list[str] = []
    deadline = time.monotonic() + 60
    while not in_flight and time.monotonic() < deadline:
        in_flight = list(
            runs.filter(outcome=JobOutcome.RUNNING, worker__startswith="worker1@").values_list(
                "task_id", flat=True
            )
        )
        time.sleep(0.1)
    pids = subprocess.run(
        ["ip", "netns", "pids", ns("worker1")], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), 9)
    killed_at = time.monotonic()
    limit = redelivery_limit().total_seconds()
    states, _ = _settled(made, timeout=limit + 30)
    took = time.monotonic() - killed_at
    with state.lock:
        state.script.clear()
    twice = _placed_twice(state)
    finished_by = Counter(
        worker.split("@")[0]
        for worker in JobRun.objects.filter(task_id__in=in_flight).values_list("worker", flat=True)
    )
    audit = _audit(call_command)
    worker_up("worker1")
    done = states["delivered"] + states["refunded"]
    ok = (
        bool(in_flight)
        and done == count
        and not twice
        and took <= limit
        and finished_by.get("worker2") == len(in_flight)
        and audit.startswith("ok")
    )
    results.record(
        3,
        ok,
        f"kill -9 of worker1's {len(pids)} processes while it ran {len(in_flight)} of {count} "
        f"redemptions' tasks (the supplier answering in 2 s): those redelivered and finished "
        f"by worker2 ({finished_by.get('worker2', 0)}/{len(in_flight)}); all {done}/{count} "
        f"settled {took:.0f} s after the kill (limit {limit:.0f} s: the orders it had claimed "
        f"stay leased to it for {limit - 90:.0f} s), "
        f"{states['delivered']} delivered, {states['refunded']} refunded; none placed twice: "
        f"{'yes' if not twice else 'NO'}; audit_ledger: {audit}; worker1 restarted",
    )


# -- 5: a second beat ------------------------------------------------------------------------------


def check_second_beat(results: Results, world: World) -> None:
    from django.db.models import Count
    from django.utils import timezone

    from core.models import JobOutcome, JobRun, JobStarter

    # A window that holds one minute boundary whatever the moment: every minute-long job
    # is due once in it, and both beats send it.
    beat_up("beat2")
    started = timezone.now()
    boundary = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    wait = (boundary - timezone.now()).total_seconds() + 25
    time.sleep(max(wait, 0))
    subprocess.run(["pkill", "-f", "beat2[.]pid"], check=False)
    runs = (
        JobRun.objects.filter(
            started_by=JobStarter.BEAT,
            queued_at__gte=boundary - timedelta(seconds=2),
            queued_at__lt=boundary + timedelta(seconds=20),
        )
        .values("job_name", "outcome")
        .annotate(n=Count("id"))
    )
    per_job: dict[str, Counter] = {}
    for row in runs:
        per_job.setdefault(row["job_name"], Counter())[row["outcome"]] += row["n"]
    twice = [name for name, outcomes in per_job.items() if _did_work(outcomes) > 1]
    refused = sum(outcomes[JobOutcome.SKIPPED] for outcomes in per_job.values())
    unfinished = [
        name
        for name, outcomes in per_job.items()
        if outcomes[JobOutcome.QUEUED] or outcomes[JobOutcome.RUNNING]
    ]
    same_job = _same_job_twice(world)
    ok = per_job and not twice and refused > 0 and same_job[0]
    results.record(
        5,
        bool(ok),
        f"a second beat for the minute from {boundary:%H:%M} UTC: {len(per_job)} jobs were due, "
        f"each ran once (twice: {', '.join(twice) or 'none'}); {refused} duplicate run(s) "
        f"sent by the second beat were skipped"
        + (f"; still running: {', '.join(unfinished)}" if unfinished else "")
        + f"; {same_job[1]}",
    )


def _did_work(outcomes: Counter) -> int:
    from core.models import JobOutcome

    return sum(n for outcome, n in outcomes.items() if outcome != JobOutcome.SKIPPED)


def _same_job_twice(world: World) -> tuple[bool, str]:
    """The same job sent twice at once, one to each worker: its work is done once."""
    from celery import current_app
    from django.core.management import call_command
    from django.utils import timezone

    from core.models import JobOutcome, JobRun
    from loyalty.models import PointLot

    pending = PointLot.objects.filter(
        member__merchant__slug=MERCHANT_SLUG, released_at__isnull=True
    )
    due = list(pending.values_list("pk", flat=True)[:2000])
    if not due:
        return False, "no pending lots to release (check 1 makes them)"
    # Due now: the orders of check 1 earned points pending for 14 days.
    PointLot.objects.filter(pk__in=due).update(available_at=timezone.now() - timedelta(minutes=1))
    sent_at = timezone.now()
    for _ in range(2):
        current_app.send_task("loyalty.release_pending_points")
    runs = JobRun.objects.filter(
        task_name="loyalty.release_pending_points", created_at__gte=sent_at
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        runs.filter(outcome__in=[JobOutcome.SUCCEEDED, JobOutcome.FAILED]).count() < 2
    ):
        time.sleep(0.5)
    left = PointLot.objects.filter(pk__in=due, released_at__isnull=True).count()
    rows = [run.rows or 0 for run in runs]
    workers = sorted({run.worker.split("@")[0] for run in runs if run.worker})
    audit = _audit(call_command)
    ok = not left and sum(rows) == len(due) and audit.startswith("ok")
    return ok, (
        f"release_pending_points sent twice at once over {len(due)} due lots, run by "
        f"{' and '.join(workers) or 'no worker'}: {len(due) - left} released, the two runs "
        f"released {' + '.join(str(r) for r in rows) or 'nothing'} (each lot once: "
        f"{'yes' if sum(rows) == len(due) else 'NO'}); audit_ledger: {audit}"
    )


# -- the run ---------------------------------------------------------------------------------------


def _inside(args: argparse.Namespace) -> int:
    setup_django()
    results = Results()
    server, state = fake_supplier()
    try:
        world = world_of(state)
        seconds = 6 if args.short else args.seconds
        clients = 8
        say(f"checking: {seconds:.0f} s of orders from {clients} clients, then the faults")
        check_orders(results, world, seconds, clients)
        check_redemptions(results, world, state, 10 if args.short else 40)
        check_worker_killed(results, world, state, 12 if args.short else 24)
        check_link_cut(results, world, clients)
        check_second_beat(results, world)
    finally:
        server.shutdown()
    results.lines.sort()
    print()
    for number, ok, text in results.lines:
        print(f"  {number}. {'ok    ' if ok else 'FAILED'} {text}")
    print(f"cluster check: {'all checks hold' if results.ok else 'a check FAILED'}")
    return 0 if results.ok else 1


__all__ = ["check", "down"]
