"""A small cluster of real hosts on this machine, and the checks that it stays correct.

Each host is a network namespace with its own address on a private /24 (a bridge inside a
namespace of its own: the root namespace has no address on it and nothing leaves the
machine). ``scripts/cluster up`` starts:

- ``db``: a PostgreSQL cluster of its own (initdb into the scratch folder, max_connections
  50) with PgBouncer in transaction pooling in front of it;
- ``replica``: a hot standby of ``db`` (``pg_basebackup -R``), read by the reports' router;
- ``broker``: RabbitMQ (the broker), and Redis (the cache every web process shares);
- ``web1``, ``web2``: gunicorn each, behind ``lb``: nginx, both as upstreams, a host that
  stops answering taken out (passive health checks) and its requests sent to the other;
- ``worker1``, ``worker2``: a Celery worker each; ``beat``: Celery beat;
- ``client``: where ``check`` runs, with the fake supplier (HTTPS, counting orders per
  idempotency key).

``check`` runs the six checks of docs/scaling.md and prints each; ``down`` (or an interrupt
of ``up`` or ``check``) stops every process of every namespace, deletes the namespaces and
the scratch folder. Run as root. Settings by environment: CLUSTER_DIR (the scratch folder,
default var/cluster, or /var/tmp/loyalty-cluster-lyc where the checkout is private),
CLUSTER_PREFIX (the namespaces' prefix, default lyc), CLUSTER_SUBNET
(the /24's first three numbers, default 10.231.0).
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from cluster_hosts import (
    DIR,
    HOSTS,
    MARKER,
    PG_MAX_CONNECTIONS,
    PGBOUNCER_PORT,
    POOL_MAX_DB_CONNECTIONS,
    SUBNET,
    WEB_HOSTS,
    WEB_THREADS,
    WEB_WORKERS,
    WORKER_CONCURRENCY,
    WORKER_HOSTS,
    ClusterError,
    ip,
    namespaces,
    network_up,
    ns,
    preflight,
    run,
    say,
    wait_for,
)
from cluster_services import (
    beat_up,
    broker_up,
    db_up,
    http_ok,
    lb_up,
    migrate,
    replica_up,
    supplier_certificate,
    web_up,
    worker_up,
)


def up() -> None:
    preflight()
    if namespaces() or MARKER.exists():
        raise ClusterError(
            "a cluster is already up (or was left behind): run `scripts/cluster down` first"
        )
    started = time.monotonic()
    DIR.mkdir(parents=True, exist_ok=True)
    MARKER.touch()
    (DIR / "logs").mkdir()
    # PostgreSQL and RabbitMQ run as their own users and write their logs here too.
    os.chmod(DIR / "logs", 0o1777)  # noqa: S103 (sticky, as /tmp)
    os.chmod(DIR, 0o755)  # noqa: S103 (the services reach their folders)
    say(f"hosts on {SUBNET}.0/24, scratch folder {DIR}")
    network_up()
    supplier_certificate()
    db_up()
    say(
        f"db: PostgreSQL on {ip('db')}:5432 (max_connections {PG_MAX_CONNECTIONS}), "
        f"PgBouncer on {ip('db')}:{PGBOUNCER_PORT} (transaction pooling, at most "
        f"{POOL_MAX_DB_CONNECTIONS} server connections)"
    )
    broker_up()
    say(f"broker: RabbitMQ on {ip('broker')}:5672, Redis (cache) on {ip('broker')}:6379")
    migrate()
    say("db: migrated")
    replica_up()
    say(f"replica: hot standby on {ip('replica')}:5432")
    for host in WEB_HOSTS:
        web_up(host)
    for host in WORKER_HOSTS:
        worker_up(host)
    beat_up()
    lb_up()
    for host in WEB_HOSTS:
        wait_for(
            f"{host}",
            lambda host=host: http_ok(host, 8000, "/healthz"),
            timeout=120,
            log=f"{host}-gunicorn.log",
        )
    wait_for("lb", lambda: http_ok("lb", 80, "/healthz"), log="lb-error.log")
    say(
        f"web1, web2: gunicorn ({WEB_WORKERS} workers x {WEB_THREADS} threads) behind lb "
        f"(nginx) on http://{ip('lb')}/"
    )
    say(f"worker1, worker2: Celery (concurrency {WORKER_CONCURRENCY}); beat")
    say(f"up in {time.monotonic() - started:.0f} s; logs in {DIR / 'logs'}")


# -- down and status ---------------------------------------------------------------------------


def down() -> None:
    names = namespaces()
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        pids = _pids(names)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _pids(names) and time.monotonic() < deadline:
            time.sleep(0.2)
    for name in names:
        run(["ip", "netns", "del", name], check=False)
    if DIR.exists():
        if not MARKER.exists():
            raise ClusterError(f"{DIR} was not made by this script: leaving it alone")
        shutil.rmtree(DIR)
    left = namespaces()
    if left:
        raise ClusterError(f"namespaces left behind: {', '.join(left)}")
    say(f"down: {len(names)} namespace(s) removed" + (f", {DIR} removed" if names else ""))


def _pids(names: list[str]) -> list[int]:
    pids = []
    for name in names:
        out = run(["ip", "netns", "pids", name], check=False)
        pids += [int(pid) for pid in out.split()]
    return pids


def status() -> int:
    names = namespaces()
    if not names:
        say("not up")
        return 3
    for host in HOSTS:
        pids = _pids([ns(host)])
        commands = Counter()
        for pid in pids:
            try:
                command = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            commands[command] += 1
        listing = ", ".join(f"{name} x{count}" for name, count in sorted(commands.items()))
        print(f"  {host:8} {ip(host):14} {listing or '-'}")
    return 0


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "check", "down", "status"])
    parser.add_argument("--seconds", type=float, default=20, help="check: seconds of load (20)")
    parser.add_argument("--short", action="store_true", help="check: the quick version")
    args = parser.parse_args()

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        elif args.command == "status":
            return status()
        else:
            from cluster_check import check

            return check(args)
    except KeyboardInterrupt:
        if args.command in ("up", "check"):
            say("interrupted: taking everything down")
            down()
        return 130
    except ClusterError as error:
        say(str(error))
        if args.command == "up":
            say("taking down what was started")
            try:
                down()
            except ClusterError as cleanup_error:
                say(str(cleanup_error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
