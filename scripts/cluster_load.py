"""What ``scripts/cluster check`` works with: its results, the client's Django and the
fake supplier, the world it sets up (a merchant, its program, members and a reward), the
load of orders and refunds through ``lb``, and the samplers of connections and CPU."""

import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cluster_hosts import (
    DIR,
    MERCHANT_SLUG,
    PGBOUNCER_PORT,
    ROOT,
    SUPPLIER_KEY,
    SUPPLIER_PORT,
    WEB_HOSTS,
    ip,
    ns,
)

# -- results --------------------------------------------------------------------------------


@dataclass
class Results:
    lines: list[tuple[int, bool, str]] = field(default_factory=list)

    def record(self, number: int, ok: bool, text: str) -> None:
        self.lines.append((number, ok, text))
        print(f"{number}. {'ok' if ok else 'FAILED'}: {text}", flush=True)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.lines)


# -- the client's Django and the fake supplier ----------------------------------------------------


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.chdir(ROOT)
    import django

    django.setup()


def fake_supplier():
    """The aggregator of the adapter's tests, served over HTTPS on the client's address."""
    from tests.fulfillment.adapters.aggregator import Aggregator, QuietServer, make_handler

    state = Aggregator(api_key=SUPPLIER_KEY)
    server = QuietServer((ip("client"), SUPPLIER_PORT), make_handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(DIR / "supplier" / "cert.pem", DIR / "supplier" / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.base_url = f"https://{ip('client')}:{SUPPLIER_PORT}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server, state


@dataclass
class World:
    key: str
    reward_id: int
    members: list[str]


def world_of(state) -> World:
    """The check's merchant, with an API key, a gift card from the fake supplier and members
    with points; made once, a new API key each run."""

    from benchdb import gift_card_on_offer, live_merchant_with_program
    from django.db import transaction
    from django.utils import timezone

    from catalog.models import (
        Reward,
    )
    from core.actors import SYSTEM
    from loyalty import ledger
    from loyalty.models import Member
    from loyalty.services.members import member_upsert
    from merchants.models import Merchant, Scope
    from merchants.services.api_keys import api_key_issue

    members = [f"cm-{number:03d}" for number in range(40)]
    merchant = Merchant.objects.filter(slug=MERCHANT_SLUG).first()
    if merchant is None:
        merchant, _, _, _ = live_merchant_with_program(
            name="Cluster Outfitters",
            slug=MERCHANT_SLUG,
            timezone_name="UTC",
            silver=1000,
            gold=5000,
        )
        gift_card_on_offer(
            merchant=merchant,
            slug="cluster-gift-card",
            denominations=["10"],
            adapter="http_json",
            adapter_config={"base_url": state.base_url, "api_key": SUPPLIER_KEY, "timeout_s": 10},
        )
        for external_id in members:
            member, _ = member_upsert(
                merchant=merchant,
                external_id=external_id,
                fields={"country": "US", "email": f"{external_id}@example.com"},
            )
            with transaction.atomic():
                ledger.points_adjust(
                    member=Member.objects.get(pk=member.pk),
                    points=1_000_000,
                    reason="cluster check",
                    at=timezone.now(),
                    expires_at=None,
                    actor=SYSTEM,
                )
    reward = Reward.objects.get(slug="cluster-gift-card")
    _, key = api_key_issue(
        merchant=merchant, name="cluster check", scopes=[Scope.READ, Scope.WRITE], actor=SYSTEM
    )
    return World(key=key, reward_id=reward.pk, members=members)


# -- load through lb ----------------------------------------------------------------------------


@dataclass
class Load:
    sent: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    orders: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    failures: list[tuple[float, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def request_json(conn, method: str, path: str, key: str, body: dict) -> tuple[int, str]:
    conn.request(
        method,
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, response.read().decode(errors="replace")


def run_load(world: World, *, seconds: float, clients: int, prefix: str) -> Load:
    """Orders (and a refund of every fifth) through lb from ``clients`` threads."""
    load = Load()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)  # noqa: S311 (a load, not a secret)
        conn = http.client.HTTPConnection(ip("lb"), 80, timeout=60)
        sequence = 0
        while time.monotonic() < stop:
            sequence += 1
            external_id = f"{prefix}-{number}-{sequence}"
            member = rng.choice(world.members)
            total = rng.randint(500, 20000) / 100
            body = {
                "external_id": external_id,
                "member": {"external_id": member},
                "total": f"{total:.2f}",
                "currency": "USD",
                "placed_at": datetime.now(UTC).isoformat(),
                "lines": [
                    {
                        "sku": "SKU-1",
                        "category": "camping",
                        "quantity": 1,
                        "unit_price": f"{total:.2f}",
                    }
                ],
            }
            kind = "order"
            try:
                status, text = request_json(conn, "POST", "/api/v1/orders/", world.key, body)
                if status == 201 and sequence % 5 == 0:
                    with load.lock:
                        load.sent[kind] += 1
                        load.statuses[status] += 1
                        load.orders.append(external_id)
                    kind = "refund"
                    status, text = request_json(
                        conn,
                        "POST",
                        f"/api/v1/orders/{external_id}/refunds/",
                        world.key,
                        {"external_id": f"r-{external_id}", "amount": f"{total / 2:.2f}"},
                    )
            except (OSError, http.client.HTTPException) as error:
                status, text = 0, repr(error)
                conn.close()
                conn = http.client.HTTPConnection(ip("lb"), 80, timeout=60)
            with load.lock:
                load.sent[kind] += 1
                load.statuses[status] += 1
                if status == 201:
                    (load.orders if kind == "order" else load.refunds).append(external_id)
                else:
                    load.failures.append((time.monotonic(), status, text[:300]))
        conn.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def served_by() -> Counter:
    """Requests each web host answered, from lb's log."""
    served = Counter()
    for line in (DIR / "logs" / "lb-access.log").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[4] == "POST":
            for upstream in parts[2].split(","):
                served[upstream.strip().split(":")[0]] += 1
    return served


# -- 1 and 6: orders and refunds, and the connections meanwhile ---------------------------


class ConnectionSampler(threading.Thread):
    """Samples PostgreSQL's client backends and PgBouncer's pools every half second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.backends_max = 0
        self.clients_max = 0
        self.servers_max = 0
        self.waiting_max = 0

    def run(self) -> None:
        import psycopg

        with (
            psycopg.connect(f"host={ip('db')} port=5432 user=postgres dbname=loyalty") as pg,
            psycopg.connect(
                f"host={ip('db')} port={PGBOUNCER_PORT} user=postgres dbname=pgbouncer",
                autocommit=True,
                # The admin console speaks the simple protocol only: never prepare.
                prepare_threshold=None,
            ) as bouncer,
        ):
            pg.autocommit = True
            while not self.stopped.wait(0.5):
                backends = pg.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                ).fetchone()[0]
                self.backends_max = max(self.backends_max, backends)
                pools = bouncer.execute("SHOW POOLS")
                names = [column.name for column in pools.description]
                for row in pools.fetchall():
                    pool = dict(zip(names, row, strict=False))
                    if pool["database"] != "loyalty":
                        continue
                    clients = pool["cl_active"] + pool["cl_waiting"]
                    servers = pool["sv_active"] + pool["sv_idle"] + pool["sv_used"]
                    self.clients_max = max(self.clients_max, clients)
                    self.servers_max = max(self.servers_max, servers)
                    self.waiting_max = max(self.waiting_max, pool["cl_waiting"])


def cpu_seconds(host: str, command: str | None = None) -> float:
    """CPU time used so far by the processes of ``host`` (only ``command``'s, if given)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = subprocess.run(
        ["ip", "netns", "pids", ns(host)], capture_output=True, text=True, check=False
    ).stdout.split()
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if command and name != command:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cpu_now() -> dict[str, float]:
    return {
        "web": sum(cpu_seconds(host) for host in WEB_HOSTS),
        "postgres": cpu_seconds("db", "postgres"),
        "pgbouncer": cpu_seconds("db", "pgbouncer"),
        "lb": cpu_seconds("lb"),
    }
