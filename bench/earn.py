"""Earn benchmark: ``POST /api/v1/orders/`` through gunicorn against PostgreSQL.

Run from the project root (see bench/README.md)::

    .venv/bin/python bench/earn.py [--seconds 30] [--clients 16] [--show-queries]
        [--busy-member]

It creates the database ``loyalty_bench`` (dropped first), migrates it, sets up a live
merchant, its program, two tiers, two earning rules, an API key and a pool of members
through the project's own services, starts gunicorn on a free loopback port, drives
``POST /api/v1/orders/`` from a separate process for a fixed time, counts the SQL queries
of one order in-process, runs pgbench on ``loyalty_bench_pgbench`` for comparison, prints
the figures, and drops both databases and stops gunicorn whatever happens.
"""

# Only fixed local executables (gunicorn, pgbench, psql) are started, and ``random`` only
# makes up test orders.
# ruff: noqa: S603, S311

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import benchdb
from benchdb import ROOT, configure_django, drop_db, recreate_db, run, tool

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB = "loyalty_bench"
PGBENCH_DB = "loyalty_bench_pgbench"
ORDERS_PATH = "/api/v1/orders/"
BULK_PATH = "/api/v1/orders/bulk/"
MERCHANT_PATH = "/api/v1/merchant/"
CATEGORIES = ("camping", "kitchen", "apparel", "books")
TARGET_RATIO = 0.15
TARGET_BULK_RATIO = 1.0
TARGET_QUERIES = 8
# Orders that all go to one member keep this share of the spread-out rate at least.
TARGET_BUSY_RATIO = 0.8
# A hard ceiling on requests per client thread, so the loop is bounded even if the clock
# misbehaves; far above what one thread can do in any sensible --seconds.
MAX_REQUESTS_PER_THREAD = 1_000_000


# -- helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def django_env(args: argparse.Namespace, var_dir: str) -> dict[str, str]:
    """The environment of migrate, the setup, the query count and gunicorn: development
    defaults except the database, the broker, the cache, DEBUG and the throttle."""
    env = benchdb.django_env(var_dir, database=BENCH_DB)
    env.update(
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        API_THROTTLE_RATE=args.throttle_rate,
    )
    if args.database_options:
        env["DATABASE_URL"] += f"?{args.database_options}"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# -- CPU accounting (Linux /proc) --------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def backend_pids() -> list[int]:
    out = run(
        [
            tool("psql"),
            "-d",
            "postgres",
            "-Atc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{BENCH_DB}'",  # noqa: S608
        ]
    )
    return [int(line) for line in out.split()]


class CpuSnapshot:
    """CPU used by the machine, gunicorn (master and workers) and the PostgreSQL backends
    of the benchmark database. Backends that exit between two snapshots are not counted."""

    def __init__(self, gunicorn_pid: int):
        self.at = time.monotonic()
        self.machine = machine_cpu()
        gunicorn = [gunicorn_pid, *children(gunicorn_pid)]
        self.gunicorn = {pid: process_cpu(pid) for pid in gunicorn}
        self.backends = {pid: process_cpu(pid) for pid in backend_pids()}

    @staticmethod
    def _delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(value - before.get(pid, 0.0) for pid, value in after.items())

    def since(self, before: "CpuSnapshot") -> dict[str, float]:
        busy = self.machine[0] - before.machine[0]
        total = self.machine[1] - before.machine[1]
        return {
            "wall_s": self.at - before.at,
            "machine_busy_s": busy / CLK_TCK,
            "machine_busy": busy / total if total else 0.0,
            "gunicorn_s": self._delta(before.gunicorn, self.gunicorn),
            "postgres_s": self._delta(before.backends, self.backends),
        }


# -- 1. database and data ----------------------------------------------------------------


def setup_data(args: argparse.Namespace) -> str:
    """The live merchant, program, tiers, rules, members and API key; returns the key.
    Runs in this process (Django configured by ``configure_django``)."""
    from decimal import Decimal

    from core.actors import SYSTEM
    from loyalty.models import EarningRule, Member, RuleKind, Tier
    from loyalty.services.programs import program_configure
    from merchants.models import ChecklistItem, MerchantStatus, Scope
    from merchants.services.api_keys import api_key_issue
    from merchants.services.lifecycle import (
        checklist_item_complete,
        merchant_create,
        merchant_transition,
    )

    merchant = merchant_create(
        name="Bench Outfitters",
        slug="bench-outfitters",
        country="US",
        default_currency="USD",
        timezone_name="UTC",
        actor=SYSTEM,
    )
    for step in (MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED):
        merchant_transition(merchant=merchant, to_status=step, reason="benchmark", actor=SYSTEM)
    program = program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="Bench Rewards",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=14,
        tiers_enabled=True,
    )
    # A member reaches Silver after about three orders, so tier upgrades happen during
    # the run too.
    Tier.objects.create(
        program=program, name="Silver", threshold=Decimal("1000"), multiplier=Decimal("1.25")
    )
    Tier.objects.create(
        program=program, name="Gold", threshold=Decimal("5000"), multiplier=Decimal("1.5")
    )
    EarningRule.objects.create(
        program=program,
        name="Camping gear earns 2 more per dollar",
        kind=RuleKind.PURCHASE_RATE,
        points_per_unit=Decimal("2"),
        include_categories=["camping"],
    )
    EarningRule.objects.create(
        program=program,
        name="50 bonus points from $100",
        kind=RuleKind.PURCHASE_BONUS,
        bonus_points=50,
        min_order_total=Decimal("100"),
    )
    for item in ChecklistItem.values:
        checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)
    merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="benchmark", actor=SYSTEM
    )
    _, raw_key = api_key_issue(
        merchant=merchant, name="bench", scopes=[Scope.READ, Scope.WRITE], actor=SYSTEM
    )
    # Most of the pool exists before the run; the rest is created by the orders. Plain
    # rows in one statement (what member_upsert makes for an id and an email), because
    # member_upsert takes ~10 ms a member here and the setup would take minutes.
    Member.objects.bulk_create(
        Member(
            merchant=merchant,
            external_id=member_id(index),
            email=f"{member_id(index)}@example.com",
        )
        for index in range(args.seed_members)
    )
    return raw_key


def member_id(index: int) -> str:
    return f"m{index:05d}"


def order_body(external_id: str, member: str, rng: random.Random) -> dict:
    lines = []
    for _ in range(rng.randint(1, 3)):
        lines.append(
            {
                "sku": f"SKU-{rng.randint(1, 500)}",
                "category": rng.choice(CATEGORIES),
                "quantity": rng.randint(1, 3),
                "unit_price": f"{rng.randint(500, 9000) / 100:.2f}",
            }
        )
    total = sum(int(line["quantity"]) * float(line["unit_price"]) for line in lines)
    return {
        "external_id": external_id,
        "member": {"external_id": member, "email": f"{member}@example.com"},
        "total": f"{total:.2f}",
        "currency": "USD",
        "placed_at": datetime.now(UTC).isoformat(),
        "lines": lines,
    }


# -- 5. queries per order ----------------------------------------------------------------


def _compact(sql: str) -> str:
    sql = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", sql, count=1)
    sql = re.sub(
        r"^(INSERT INTO \S+) \(.*?\) VALUES .*? RETURNING", r"\1 (…) VALUES (…) RETURNING", sql
    )
    return sql if len(sql) <= 240 else sql[:237] + "..."


def count_queries(raw_key: str, idempotency_key: bool) -> list[dict]:
    """Queries of one order: through the whole request (the test client, the same view and
    middleware as gunicorn) and through ``order_record`` alone, for a member who already
    exists (without and with a tier) and for a new one. After a warm-up. With
    ``idempotency_key`` the requests carry an ``Idempotency-Key`` header, as in the load."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from core.actors import Actor
    from loyalty.models import Member
    from loyalty.services.members import member_upsert
    from loyalty.services.orders import LineInput, OrderInput, order_record
    from merchants.models import Merchant

    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    rng = random.Random(7)

    def body(external_id: str, member: str) -> dict:
        # The typical shape: two lines, one of them camping, over $100 (both rules apply).
        data = order_body(external_id, member, rng)
        data["lines"] = [
            {"sku": "TENT-2P", "category": "camping", "quantity": 1, "unit_price": "120.00"},
            {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "9.50"},
        ]
        data["total"] = "139.00"
        return data

    def post(data: dict) -> None:
        headers = {"Idempotency-Key": f"k-{data['external_id']}"} if idempotency_key else {}
        response = client.post(ORDERS_PATH, data, format="json", headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"query count order failed: {response.status_code} {response.content}")

    # Warm-up: imports, the key's last_used_at, a member lifted into Silver (429 points
    # an order before the multiplier; Silver from 1000, Gold from 5000).
    for number in range(3):
        post(body(f"qc-warm-{number}", "qc-tiered"))
    post(body("qc-warm-new", "qc-warm-new"))
    merchant = Merchant.objects.get(slug="bench-outfitters")
    if Member.objects.get(merchant=merchant, external_id="qc-tiered").tier_id is None:
        raise SystemExit("warm-up did not lift the member into a tier; check the thresholds")
    for external_id in ("qc-plain-http", "qc-plain-service"):
        member_upsert(merchant=merchant, external_id=external_id, fields={})

    cases = [
        ("HTTP POST, existing member, no tier", "http", "qc-plain-http"),
        ("HTTP POST, existing member in a tier (stays)", "http", "qc-tiered"),
        ("HTTP POST, new member", "http", "qc-new-http"),
        ("order_record(), existing member, no tier", "service", "qc-plain-service"),
        ("order_record(), new member", "service", "qc-new-service"),
    ]
    results = []
    for number, (label, how, member) in enumerate(cases):
        data = body(f"qc-{number}", member)
        with CaptureQueriesContext(connection) as captured:
            if how == "http":
                post(data)
            else:
                order_record(
                    merchant=merchant,
                    data=OrderInput(
                        external_id=data["external_id"],
                        member_external_id=member,
                        member_fields={"email": data["member"]["email"]},
                        total=_decimal(data["total"]),
                        currency="USD",
                        placed_at=datetime.now(UTC),
                        lines=tuple(
                            LineInput(
                                sku=line["sku"],
                                category=line["category"],
                                quantity=line["quantity"],
                                unit_price=_decimal(line["unit_price"]),
                            )
                            for line in data["lines"]
                        ),
                    ),
                    actor=Actor.system("bench"),
                )
        queries = [query["sql"] for query in captured.captured_queries]
        results.append({"label": label, "count": len(queries), "queries": queries})
    connection.close()
    return results


def _decimal(value: str):
    from decimal import Decimal

    return Decimal(value)


# -- 2. gunicorn -------------------------------------------------------------------------


def start_gunicorn(args: argparse.Namespace, env: dict[str, str], port: int, log_path: Path):
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        "--error-logfile",
        "-",
    ]
    if args.worker_class:
        cmd += ["--worker-class", args.worker_class]
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by stop_gunicorn)
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_file = log_file
    return process


def wait_ready(process, port: int, raw_key: str, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/merchant/", headers={"Authorization": f"Bearer {raw_key}"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {timeout}s:\n{log_path.read_text()}")


def stop_gunicorn(process) -> None:
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    process.log_file.close()


# -- 3. the load (a separate process) ------------------------------------------------------


def load_process(config: dict) -> dict:
    """Runs in a child process: ``threads`` keep-alive clients from ``start_at`` (wall
    clock, shared with the parent), unmeasured until ``measure_from``, until ``stop_at``.
    Throughput counts the responses completed inside the measured window."""
    time.sleep(max(0.0, config["start_at"] - time.time()))
    usage_start = resource.getrusage(resource.RUSAGE_SELF)
    measure_from = config["measure_from"]
    stop_at = config["stop_at"]
    headers = {
        "Authorization": f"Bearer {config['key']}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    lock = threading.Lock()
    shared = {
        "latencies": [],
        "statuses": {},
        "errors": 0,
        "first_error": None,
        "warm": 0,
        "tail": 0,
        "calls_in_window": 0.0,
        "calls_for_cpu": 0.0,
    }

    def client(thread: int) -> None:
        rng = random.Random(config["seed"] * 1000 + thread)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        first_error = None
        warm = tail = 0
        calls_in_window = calls_for_cpu = 0.0
        conn = http.client.HTTPConnection("127.0.0.1", config["port"], timeout=120)
        for number in range(MAX_REQUESTS_PER_THREAD):
            if time.time() >= stop_at:
                break
            external_id = f"{config['prefix']}{config['proc']}-{thread}-{number}"
            member = member_id(rng.randrange(config["members"]))
            request_headers = dict(headers)
            if config["idempotency_key"]:
                request_headers["Idempotency-Key"] = f"k-{external_id}"
            if config["bulk_size"]:
                members = config["members"]
                orders = [
                    order_body(f"{external_id}-{item}", member_id(rng.randrange(members)), rng)
                    for item in range(config["bulk_size"])
                ]
                bulk_payload = json.dumps({"orders": orders})
            began = time.perf_counter()
            try:
                if config["floor"]:
                    conn.request("GET", MERCHANT_PATH, headers=request_headers)
                elif config["bulk_size"]:
                    conn.request("POST", BULK_PATH, body=bulk_payload, headers=request_headers)
                else:
                    payload = json.dumps(order_body(external_id, member, rng))
                    conn.request("POST", ORDERS_PATH, body=payload, headers=request_headers)
                response = conn.getresponse()
                text = response.read()
                status = response.status
                if config["bulk_size"] and 200 <= status < 300:
                    # Every item answered on its own: one that is not recorded is an error.
                    failed = [r for r in json.loads(text)["results"] if r["status"] != "created"]
                    if failed:
                        status, text = 207, json.dumps(failed[0]).encode()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", config["port"], timeout=120)
                status, text = 0, repr(exc).encode()
            elapsed = time.perf_counter() - began
            done_at = time.time()
            if config["bulk_size"] and 200 <= status < 300 and status != 207:
                # A call lasts seconds: it counts for the share of it inside the window
                # (and, for the CPU per order, inside the window or after it).
                began_at = done_at - elapsed
                span = max(elapsed, 1e-9)
                inside = min(done_at, stop_at) - max(began_at, measure_from)
                calls_in_window += max(0.0, inside) / span
                calls_for_cpu += max(0.0, done_at - max(began_at, measure_from)) / span
            if done_at < measure_from:
                warm += 1
            elif done_at > stop_at:
                tail += 1
            else:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
            if not 200 <= status < 300 or status == 207:
                errors += 1
                if first_error is None:
                    first_error = f"{status} {text[:2000].decode(errors='replace')}"
        conn.close()
        with lock:
            shared["latencies"].extend(latencies)
            for status, count in statuses.items():
                shared["statuses"][status] = shared["statuses"].get(status, 0) + count
            shared["errors"] += errors
            shared["warm"] += warm
            shared["tail"] += tail
            shared["calls_in_window"] += calls_in_window
            shared["calls_for_cpu"] += calls_for_cpu
            if first_error and shared["first_error"] is None:
                shared["first_error"] = first_error

    threads = [
        threading.Thread(target=client, args=(number,), daemon=True)
        for number in range(config["threads"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.time()) + 60)
    usage_end = resource.getrusage(resource.RUSAGE_SELF)
    shared["client_cpu_s"] = (usage_end.ru_utime - usage_start.ru_utime) + (
        usage_end.ru_stime - usage_start.ru_stime
    )
    return shared


def drive(
    args: argparse.Namespace,
    port: int,
    raw_key: str,
    start_at: float,
    *,
    bulk_size: int = 0,
    members: int | None = None,
) -> dict:
    """The load: single orders, or with ``bulk_size`` calls of that many orders each (by
    ``--bulk-clients`` threads, with external ids of their own); ``members`` narrows the
    orders to that many members (1: every order for one member), with ids of their own."""
    clients = args.bulk_clients if bulk_size else args.clients
    procs = max(1, min(args.client_procs, clients))
    base, extra = divmod(clients, procs)
    configs = [
        {
            "proc": proc,
            "threads": base + (1 if proc < extra else 0),
            "port": port,
            "key": raw_key,
            "members": members or args.members,
            "start_at": start_at,
            "measure_from": start_at + args.warmup,
            "stop_at": start_at + args.warmup + args.seconds,
            "seed": args.seed + proc,
            "idempotency_key": args.idempotency_key,
            "floor": args.floor and not bulk_size,
            "bulk_size": bulk_size,
            "prefix": "b" if bulk_size else f"m{members}-" if members else "o",
        }
        for proc in range(procs)
    ]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=procs) as pool:
        pending = pool.map_async(load_process, configs)
        parts = pending.get(timeout=args.warmup + args.seconds + 300)
    merged = {
        "latencies": [],
        "statuses": {},
        "errors": 0,
        "first_error": None,
        "warm": 0,
        "tail": 0,
        "client_cpu_s": 0.0,
        "calls_in_window": 0.0,
        "calls_for_cpu": 0.0,
    }
    for part in parts:
        merged["latencies"].extend(part["latencies"])
        for status, count in part["statuses"].items():
            merged["statuses"][status] = merged["statuses"].get(status, 0) + count
        merged["errors"] += part["errors"]
        merged["warm"] += part["warm"]
        merged["tail"] += part["tail"]
        merged["client_cpu_s"] += part["client_cpu_s"]
        merged["calls_in_window"] += part["calls_in_window"]
        merged["calls_for_cpu"] += part["calls_for_cpu"]
        merged["first_error"] = merged["first_error"] or part["first_error"]
    return merged


def measure(
    args: argparse.Namespace,
    gunicorn,
    port: int,
    raw_key: str,
    *,
    bulk_size: int,
    members: int | None = None,
):
    """One measured load against the running gunicorn: its results and the CPU snapshot
    of its measured window."""
    # The load process starts at a fixed wall-clock time, so that the CPU snapshots here
    # bracket exactly the measured window.
    start_at = time.time() + 3
    snapshots: list[CpuSnapshot] = []

    def snapshot_at_measure_start() -> None:
        time.sleep(max(0.0, start_at + args.warmup - time.time()))
        snapshots.append(CpuSnapshot(gunicorn.pid))

    timer = threading.Thread(target=snapshot_at_measure_start, daemon=True)
    timer.start()
    load_result = drive(args, port, raw_key, start_at, bulk_size=bulk_size, members=members)
    after = CpuSnapshot(gunicorn.pid)
    timer.join(timeout=5)
    return load_result, after.since(snapshots[0]) if snapshots else None


# -- 4. pgbench --------------------------------------------------------------------------


def run_pgbench(args: argparse.Namespace) -> tuple[float, float, float | None]:
    """tpcb-like TPS on a scratch database, the machine's busy share meanwhile, and the CPU
    seconds of one transaction (pgbench itself and its PostgreSQL backends, sampled every
    0.2 s while they run: what a backend spends after its last sample is not counted)."""
    import psycopg

    recreate_db(PGBENCH_DB)
    run([tool("pgbench"), "-i", "-q", "-s", str(args.pgbench_scale), PGBENCH_DB])
    backends: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(benchdb.database_url("postgres"), autocommit=True) as conn:
            while not done.wait(0.2):
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", [PGBENCH_DB]
                ).fetchall()
                for (pid,) in rows:
                    backends[pid] = max(backends.get(pid, 0.0), process_cpu(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.start()
    before = machine_cpu()
    out = run(
        [
            tool("pgbench"),
            "-b",
            "tpcb-like",
            "-c",
            str(args.clients),
            "-j",
            str(min(2, args.clients)),
            "-T",
            str(args.seconds),
            PGBENCH_DB,
        ],
        timeout=args.seconds + 300,
    )
    after = machine_cpu()
    done.set()
    sampler.join(timeout=10)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"could not read pgbench's TPS:\n{out}")
    tps = float(match.group(1))
    client = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    transactions = tps * args.seconds
    per_tx = (client + sum(backends.values())) / transactions if transactions else None
    total = after[1] - before[1]
    return tps, (after[0] - before[0]) / total if total else 0.0, per_tx


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="measured load time (s)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured load first (s)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument(
        "--worker-class", default="", help="gunicorn worker class (default: its own)"
    )
    parser.add_argument("--client-procs", type=int, default=1, help="load processes")
    parser.add_argument("--members", type=int, default=5000, help="member pool size")
    parser.add_argument(
        "--seed-members", type=int, default=4000, help="members created before the run"
    )
    parser.add_argument("--throttle-rate", default="1000000/s", help="API_THROTTLE_RATE")
    parser.add_argument("--pgbench-scale", type=int, default=1, help="pgbench -i -s")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument(
        "--idempotency-key", action="store_true", help="send an Idempotency-Key with each order"
    )
    parser.add_argument("--show-queries", action="store_true", help="list the queries of an order")
    parser.add_argument(
        "--floor",
        action="store_true",
        help=f"drive GET {MERCHANT_PATH} instead of orders: what authenticating and "
        "answering a request costs in this stack, the ceiling of any endpoint",
    )
    parser.add_argument(
        "--bulk-size",
        type=int,
        default=1000,
        help=f"orders a call of the bulk run ({BULK_PATH}), after the single run; 0: none",
    )
    parser.add_argument(
        "--bulk-clients", type=int, default=3, help="concurrent HTTP clients of the bulk run"
    )
    parser.add_argument(
        "--database-options",
        default="",
        help="query string added to DATABASE_URL (its OPTIONS), e.g. server_side_binding=true",
    )
    parser.add_argument(
        "--busy-member",
        action="store_true",
        help="after the spread-out run, the same load with every order for one member: "
        f"both rates and their ratio (target ≥ {TARGET_BUSY_RATIO}, no non-2xx answer)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true", help="do not drop loyalty_bench")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.seconds > 3600 or args.clients < 1 or args.clients > 256:
        parser.error("--seconds must be 1..3600 and --clients 1..256")
    if not 0 <= args.bulk_size <= 1000 or not 1 <= args.bulk_clients <= 64:
        parser.error("--bulk-size must be 0..1000 and --bulk-clients 1..64")
    args.seed_members = min(args.seed_members, args.members)
    return args


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM end the run through the ``finally`` below (gunicorn stopped, the
    # databases dropped), also when started in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupted)
    var_dir = tempfile.mkdtemp(prefix="loyalty-bench-")
    (Path(var_dir) / "static").mkdir()
    env = django_env(args, var_dir)
    log_path = Path(var_dir) / "gunicorn.log"
    gunicorn = None
    try:
        log(f"creating {BENCH_DB} and migrating it")
        recreate_db(BENCH_DB)
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env=env)
        configure_django(env)
        started = time.monotonic()
        raw_key = setup_data(args)
        log(
            f"merchant, program, tiers, rules, key, {args.seed_members} members in "
            f"{time.monotonic() - started:.1f}s"
        )
        queries = count_queries(raw_key, args.idempotency_key)

        port = free_port()
        label = f"--workers {args.workers} --threads {args.threads}"
        if args.worker_class:
            label += f" --worker-class {args.worker_class}"
        log(f"gunicorn config.wsgi {label} on 127.0.0.1:{port}")
        gunicorn = start_gunicorn(args, env, port, log_path)
        wait_ready(gunicorn, port, raw_key, log_path)

        log(f"{args.clients} clients: {args.warmup}s warm-up, then {args.seconds}s measured")
        load_result, cpu = measure(args, gunicorn, port, raw_key, bulk_size=0)
        busy = None
        if args.busy_member:
            log(f"{args.clients} clients, every order for one member: the same load again")
            busy = measure(args, gunicorn, port, raw_key, bulk_size=0, members=1)
        bulk = None
        if args.bulk_size:
            log(
                f"{args.bulk_clients} clients posting {args.bulk_size} orders a call to "
                f"{BULK_PATH}: {args.warmup}s warm-up, then {args.seconds}s measured"
            )
            bulk = measure(args, gunicorn, port, raw_key, bulk_size=args.bulk_size)
        stop_gunicorn(gunicorn)
        gunicorn_log = log_path.read_text(errors="replace")
        gunicorn = None

        pgbench_tps, pgbench_busy, pgbench_cpu = (None, None, None)
        if not args.skip_pgbench:
            log(
                f"pgbench -b tpcb-like -c {args.clients} -j 2 -T {args.seconds} (scale "
                f"{args.pgbench_scale})"
            )
            pgbench_tps, pgbench_busy, pgbench_cpu = run_pgbench(args)

        report(args, label, load_result, cpu, pgbench_tps, pgbench_busy, queries, gunicorn_log)
        if pgbench_cpu:
            print(
                f"pgbench CPU per tx  {pgbench_cpu * 1000:10.2f} ms   (pgbench and its "
                "PostgreSQL backends)"
            )
            if cpu and load_result["latencies"]:
                served = len(load_result["latencies"]) + load_result["tail"]
                ours = cpu["gunicorn_s"] + cpu["postgres_s"]
                ours += load_result["client_cpu_s"] * served / (served + load_result["warm"])
                print(
                    f"ratio at equal CPU  {pgbench_cpu / (ours / served):10.3f}   (pgbench's CPU "
                    "per transaction ÷ ours per order, load client included: the ratio on "
                    "a machine with nothing else running)"
                )
        if busy is not None:
            report_busy(args, load_result, busy[0], gunicorn_log)
        if bulk is not None:
            report_bulk(args, *bulk, pgbench_tps, gunicorn_log, pgbench_cpu)
        from loyalty.audit import ledger_audit

        audit = ledger_audit()
        log(f"audit_ledger: {audit}")
        errors = (
            load_result["errors"]
            + (bulk[0]["errors"] if bulk else 0)
            + (busy[0]["errors"] if busy else 0)
        )
        return 1 if errors or not audit.ok else 0
    finally:
        stop_gunicorn(gunicorn)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_db(BENCH_DB)
        drop_db(PGBENCH_DB)
        shutil.rmtree(var_dir, ignore_errors=True)


def report(args, label, load, cpu, pgbench_tps, pgbench_busy, queries, gunicorn_log) -> None:
    latencies = sorted(load["latencies"])
    ok = sum(count for status, count in load["statuses"].items() if 200 <= status < 300)
    rate = ok / args.seconds
    print()
    what = f"GET {MERCHANT_PATH} (--floor), counted as orders" if args.floor else "orders"
    print(f"== earn benchmark: {args.clients} clients, {args.seconds}s, gunicorn {label} ==")
    print(f"requests            {what}")
    print(
        f"orders/s            {rate:10.1f}   ({ok} orders in {args.seconds}s; "
        f"{load['warm']} in the warm-up, {load['tail']} after the window)"
    )
    if latencies:
        print(f"latency p50         {percentile(latencies, 0.50) * 1000:10.1f} ms")
        print(f"latency p99         {percentile(latencies, 0.99) * 1000:10.1f} ms")
        print(
            f"latency mean / max  {statistics.fmean(latencies) * 1000:10.1f} ms / "
            f"{latencies[-1] * 1000:.1f} ms"
        )
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(load["statuses"].items()))
    print(
        f"non-2xx responses   {load['errors']:10d}   (warm-up included; statuses in the "
        f"window: {statuses})"
    )
    if load["first_error"]:
        print(f"first error body:   {load['first_error']}")
        tail = "\n".join(gunicorn_log.strip().splitlines()[-40:])
        if tail:
            print(f"gunicorn log (last lines):\n{tail}")
    if pgbench_tps is not None:
        ratio = rate / pgbench_tps if pgbench_tps else 0.0
        verdict = "meets" if ratio >= TARGET_RATIO else "below"
        print(
            f"pgbench TPS         {pgbench_tps:10.1f}   (tpcb-like, scale {args.pgbench_scale}, "
            f"machine {pgbench_busy:.0%} busy)"
        )
        print(f"orders/s ÷ TPS      {ratio:10.3f}   ({verdict} the {TARGET_RATIO} target)")
    for case in queries:
        verdict = "meets" if case["count"] <= TARGET_QUERIES else "over"
        print(
            f"queries per order   {case['count']:10d}   {case['label']} "
            f"({verdict} the ≤ {TARGET_QUERIES} target)"
        )
    if cpu and ok:
        # The second snapshot comes after the in-flight requests finished.
        served = ok + load["tail"]
        per_order = (cpu["gunicorn_s"] + cpu["postgres_s"]) / served
        print(
            f"CPU per order       {per_order * 1000:10.1f} ms   (gunicorn "
            f"{cpu['gunicorn_s'] / served * 1000:.1f} ms, PostgreSQL backends "
            f"{cpu['postgres_s'] / served * 1000:.1f} ms; load client "
            f"{load['client_cpu_s'] / max(1, served + load['warm']) * 1000:.2f} ms)"
        )
        cores = os.cpu_count() or 1
        print(f"CPU-bound ceiling   {cores / per_order:10.1f}   orders/s on {cores} idle cores")
        wall = cpu["wall_s"] or 1.0
        ours = cpu["gunicorn_s"] + cpu["postgres_s"] + load["client_cpu_s"]
        print(
            f"cores in use        {cpu['machine_busy_s'] / wall:10.2f}   of {cores} (gunicorn "
            f"{cpu['gunicorn_s'] / wall:.2f}, PostgreSQL backends {cpu['postgres_s'] / wall:.2f}, "
            f"load client {load['client_cpu_s'] / wall:.2f}, everything else "
            f"{max(0.0, cpu['machine_busy_s'] - ours) / wall:.2f})"
        )
    if args.show_queries:
        for case in queries:
            print(f"\n-- {case['label']}: {case['count']} queries")
            for number, sql in enumerate(case["queries"], 1):
                print(f"{number:3d}. {_compact(sql)}")


def _ok_rate(load: dict, seconds: int) -> float:
    return sum(n for status, n in load["statuses"].items() if 200 <= status < 300) / seconds


def report_busy(args, spread: dict, busy: dict, gunicorn_log: str) -> None:
    """Every order for one member against the same load spread over ``--members``: each of
    them waits for the member's row lock, so they run one after the other in PostgreSQL."""
    spread_rate = _ok_rate(spread, args.seconds)
    busy_rate = _ok_rate(busy, args.seconds)
    latencies = sorted(busy["latencies"])
    print()
    print(
        f"== a busy member: {args.clients} clients, every order for one member, {args.seconds}s =="
    )
    print(
        f"orders/s            {busy_rate:10.1f}   (spread over {args.members} members: "
        f"{spread_rate:.1f})"
    )
    if latencies:
        print(f"latency p50         {percentile(latencies, 0.50) * 1000:10.1f} ms")
        print(f"latency p99         {percentile(latencies, 0.99) * 1000:10.1f} ms")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(busy["statuses"].items()))
    print(
        f"non-2xx responses   {busy['errors']:10d}   (warm-up included; statuses in the "
        f"window: {statuses})"
    )
    if busy["first_error"]:
        print(f"first error body:   {busy['first_error']}")
        tail = "\n".join(gunicorn_log.strip().splitlines()[-40:])
        if tail:
            print(f"gunicorn log (last lines):\n{tail}")
    ratio = busy_rate / spread_rate if spread_rate else 0.0
    verdict = "meets" if ratio >= TARGET_BUSY_RATIO and not busy["errors"] else "below"
    print(
        f"busy ÷ spread       {ratio:10.3f}   ({verdict} the {TARGET_BUSY_RATIO} target "
        "with no non-2xx answer)"
    )


def report_bulk(args, load, cpu, pgbench_tps, gunicorn_log, pgbench_cpu=None) -> None:
    """The bulk run: a call of 1,000 orders lasts seconds, so each call whose orders were
    all recorded counts for the share of its duration inside the window."""
    latencies = sorted(load["latencies"])
    ok = sum(count for status, count in load["statuses"].items() if 200 <= status < 300)
    ok -= load["statuses"].get(207, 0)
    orders = load["calls_in_window"] * args.bulk_size
    print()
    print(
        f"== bulk: {args.bulk_clients} clients, {args.bulk_size} orders a call to {BULK_PATH}, "
        f"{args.seconds}s =="
    )
    print(
        f"orders/s            {orders / args.seconds:10.1f}   ({load['calls_in_window']:.2f} "
        f"calls in {args.seconds}s; {ok} ended in it, {load['warm']} in the warm-up, "
        f"{load['tail']} after it)"
    )
    print(f"calls/s             {load['calls_in_window'] / args.seconds:10.2f}")
    if latencies:
        print(f"call p50            {percentile(latencies, 0.50) * 1000:10.1f} ms")
        print(f"call p99            {percentile(latencies, 0.99) * 1000:10.1f} ms")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(load["statuses"].items()))
    print(
        f"failed calls        {load['errors']:10d}   (a non-2xx answer or an item not "
        f"created; warm-up included; statuses in the window: {statuses})"
    )
    if load["first_error"]:
        print(f"first error:        {load['first_error'][:2000]}")
        tail = "\n".join(gunicorn_log.strip().splitlines()[-40:])
        if tail:
            print(f"gunicorn log (last lines):\n{tail}")
    if pgbench_tps:
        ratio = orders / args.seconds / pgbench_tps
        verdict = "meets" if ratio >= TARGET_BULK_RATIO else "below"
        print(
            f"bulk orders/s ÷ TPS {ratio:10.3f}   ({verdict} the {TARGET_BULK_RATIO} target; "
            f"pgbench {pgbench_tps:.1f} TPS)"
        )
    if cpu and load["calls_for_cpu"]:
        served = load["calls_for_cpu"] * args.bulk_size
        per_order = (cpu["gunicorn_s"] + cpu["postgres_s"]) / served
        print(
            f"CPU per order       {per_order * 1000:10.2f} ms   (gunicorn "
            f"{cpu['gunicorn_s'] / served * 1000:.2f} ms, PostgreSQL backends "
            f"{cpu['postgres_s'] / served * 1000:.2f} ms; load client "
            f"{load['client_cpu_s'] / max(1, served) * 1000:.3f} ms)"
        )
        if pgbench_cpu:
            with_client = per_order + load["client_cpu_s"] / max(1, served)
            print(
                f"ratio at equal CPU  {pgbench_cpu / with_client:10.3f}   (pgbench's CPU per "
                "transaction ÷ ours per order, load client included)"
            )
        wall = cpu["wall_s"] or 1.0
        ours = cpu["gunicorn_s"] + cpu["postgres_s"] + load["client_cpu_s"]
        print(
            f"cores in use        {cpu['machine_busy_s'] / wall:10.2f}   of {os.cpu_count() or 1} "
            f"(gunicorn {cpu['gunicorn_s'] / wall:.2f}, PostgreSQL backends "
            f"{cpu['postgres_s'] / wall:.2f}, load client {load['client_cpu_s'] / wall:.2f}, "
            f"everything else {max(0.0, cpu['machine_busy_s'] - ours) / wall:.2f})"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'Ctrl-C'}); gunicorn stopped, databases dropped")
        sys.exit(130)
