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
import datetime
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin"
PREFIX = os.environ.get("CLUSTER_PREFIX", "lyc")
SUBNET = os.environ.get("CLUSTER_SUBNET", "10.231.0")


def _scratch_folder() -> Path:
    """CLUSTER_DIR, else var/cluster in the checkout when PostgreSQL's and RabbitMQ's users
    can reach it (every folder above it searchable by others), else one in /var/tmp."""
    if os.environ.get("CLUSTER_DIR"):
        return Path(os.environ["CLUSTER_DIR"]).resolve()
    here = ROOT / "var" / "cluster"
    if all(folder.stat().st_mode & 0o001 for folder in ROOT.parents if folder.exists()) and (
        ROOT.stat().st_mode & 0o001
    ):
        return here
    return Path("/var/tmp") / f"loyalty-cluster-{PREFIX}"  # noqa: S108 (ours, removed by down)


DIR = _scratch_folder()
MARKER = DIR / "loyalty-cluster"
HOSTS = {
    "db": 10,
    "replica": 11,
    "broker": 12,
    "web1": 21,
    "web2": 22,
    "lb": 30,
    "worker1": 41,
    "worker2": 42,
    "beat": 50,
    "client": 60,
}
WEB_HOSTS = ("web1", "web2")
WORKER_HOSTS = ("worker1", "worker2")
# gunicorn on each web host, and Celery's pool on each worker host: what the connection
# budget of check 6 counts.
WEB_WORKERS, WEB_THREADS = 3, 2
WORKER_CONCURRENCY = 2
PG_MAX_CONNECTIONS = 50
# PgBouncer's server connections to the database, at most; the rest of max_connections
# is left to the standby's WAL sender, the superuser's reserve and an operator's psql.
POOL_SIZE = 20
POOL_MAX_DB_CONNECTIONS = 30
PGBOUNCER_PORT = 6432
SUPPLIER_PORT = 8443
SUPPLIER_KEY = "cluster-supplier-key"
MERCHANT_SLUG = "cluster-outfitters"


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def ip(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def say(message: str) -> None:
    print(f"cluster: {message}", flush=True)


class ClusterError(Exception):
    pass


def run(cmd: list[str], *, check: bool = True, timeout: float = 300, **kwargs) -> str:
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if check and result.returncode != 0:
        output = (result.stderr or result.stdout)[-2000:]
        raise ClusterError(f"{' '.join(cmd)} failed ({result.returncode}): {output}")
    return result.stdout


def in_ns(host: str, cmd: list[str], **kwargs) -> str:
    return run(["ip", "netns", "exec", ns(host), *cmd], **kwargs)


def as_user(user: str, cmd: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd]


def spawn(host: str, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
    """A long-running process of ``host`` in its own session, its output in logs/."""
    log = open(DIR / "logs" / f"{host}-{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
    subprocess.Popen(
        ["ip", "netns", "exec", ns(host), *cmd],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    log.close()


def reachable(host: str, port: int, *, source: str = "client") -> bool:
    # bash's /dev/tcp from a host that is on the /24 (the root namespace is not).
    return (
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns(source),
                "bash",
                "-c",
                f"exec 3<>/dev/tcp/{ip(host)}/{port}",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        ).returncode
        == 0
    )


def wait_for(what: str, ready, *, timeout: float = 90, log: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            tail = ""
            if log and (DIR / "logs" / log).exists():
                tail = "\n" + "\n".join(
                    (DIR / "logs" / log).read_text(errors="replace").splitlines()[-20:]
                )
            raise ClusterError(f"{what} did not come up within {timeout:.0f} s{tail}")
        time.sleep(0.3)


def pg_bin(name: str) -> str:
    for version in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version / name).exists():
            return str(version / name)
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} is missing: install PostgreSQL's server package")
    return found


# -- up -------------------------------------------------------------------------------------


def preflight() -> None:
    if os.geteuid() != 0:
        raise ClusterError("run as root: network namespaces need it")
    probe = f"{PREFIX}-probe"
    result = subprocess.run(
        ["ip", "netns", "add", probe], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ClusterError(f"network namespaces are refused here: {result.stderr.strip()}")
    run(["ip", "netns", "del", probe])
    missing = [
        package
        for binary, package in (
            ("pgbouncer", "pgbouncer"),
            ("nginx", "nginx"),
            ("rabbitmq-server", "rabbitmq-server"),
            ("redis-server", "redis-server"),
        )
        if not shutil.which(binary) and not Path(f"/usr/sbin/{binary}").exists()
    ]
    if missing:
        say(f"installing {', '.join(missing)} (Debian's packages)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env, timeout=600)
        run(["apt-get", "install", "-y", "-qq", *missing], env=env, timeout=900)
    # Debian's packages start their own services on install: ours run in namespaces on
    # their own ports, so those may keep running.
    for user in ("postgres", "rabbitmq"):
        parent = DIR.parent
        parent.mkdir(parents=True, exist_ok=True)
        if subprocess.run(as_user(user, ["test", "-x", str(parent)]), check=False).returncode:
            raise ClusterError(
                f"the {user} user cannot reach {parent}: set CLUSTER_DIR to a folder it can"
            )


def namespaces() -> list[str]:
    listed = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    return [name for name in names if name.startswith(f"{PREFIX}-")]


def network_up() -> None:
    net = ns("net")
    run(["ip", "netns", "add", net])
    run(["ip", "-n", net, "link", "set", "lo", "up"])
    run(["ip", "-n", net, "link", "add", "br0", "type", "bridge"])
    run(["ip", "-n", net, "link", "set", "br0", "up"])
    for host in HOSTS:
        run(["ip", "netns", "add", ns(host)])
        run(["ip", "-n", ns(host), "link", "set", "lo", "up"])
        run(
            [
                "ip",
                "link",
                "add",
                f"v-{host}",
                "netns",
                net,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns(host),
            ]
        )
        run(["ip", "-n", net, "link", "set", f"v-{host}", "master", "br0", "up"])
        run(["ip", "-n", ns(host), "addr", "add", f"{ip(host)}/24", "dev", "eth0"])
        run(["ip", "-n", ns(host), "link", "set", "eth0", "up"])


def settings() -> dict[str, str]:
    saved = DIR / "secrets.json"
    if saved.exists():
        return json.loads(saved.read_text())
    import base64

    values = {
        "SECRET_KEY": secrets.token_urlsafe(60),
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    saved.write_text(json.dumps(values))
    saved.chmod(0o600)
    return values


def django_env(host: str, *, direct: bool = False) -> dict[str, str]:
    """A host's environment: production settings, the database through PgBouncer (or
    ``direct``ly, for migrations and the checks' own reads), RabbitMQ, the shared Redis
    cache, its own VAR_DIR and the media every host shares."""
    database_host, database_port = (ip("db"), 5432) if direct else (ip("db"), PGBOUNCER_PORT)
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "LANG", "LC_ALL", "TZ", "TERM")
    }
    env.update(settings())
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="production",
        DATABASE_URL=f"postgres://postgres@{database_host}:{database_port}/loyalty",
        DATABASE_REPLICA_URL=f"postgres://postgres@{ip('replica')}:5432/loyalty",
        DB_TRANSACTION_POOLING="false" if direct else "true",
        CELERY_BROKER_URL=f"amqp://guest:guest@{ip('broker')}:5672//",
        CACHE_URL=f"redis://{ip('broker')}:6379/0",
        EMAIL_URL="dummymail://",
        ALLOWED_HOSTS=",".join([ip("lb"), ip("web1"), ip("web2")]),
        PUBLIC_BASE_URL="https://loyalty.cluster.test",
        SECURE_SSL_REDIRECT="false",
        API_THROTTLE_RATE="1000000/s",
        LOG_LEVEL="WARNING",
        VAR_DIR=str(DIR / "hosts" / host),
        MEDIA_ROOT=str(DIR / "shared" / "media"),
        # The fake supplier's certificate is the only one the workers need to trust.
        SSL_CERT_FILE=str(DIR / "supplier" / "cert.pem"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        HOME=str(DIR / "hosts" / host),
    )
    (DIR / "hosts" / host).mkdir(parents=True, exist_ok=True)
    return env


def db_up() -> None:
    data = DIR / "db" / "data"
    sock = DIR / "db" / "sock"
    sock.mkdir(parents=True)
    run(["chown", "-R", "postgres:postgres", str(DIR / "db")])
    run(
        as_user(
            "postgres",
            [
                pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )
    )
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"""
# scripts/cluster
listen_addresses = '{ip("db")}'
port = 5432
unix_socket_directories = '{sock}'
max_connections = {PG_MAX_CONNECTIONS}
wal_level = replica
max_wal_senders = 4
timezone = 'UTC'
shared_buffers = 128MB
logging_collector = off
"""
        )
    (data / "pg_hba.conf").write_text(
        f"local all all trust\nhost all all {SUBNET}.0/24 trust\n"
        f"host replication all {SUBNET}.0/24 trust\n"
    )
    in_ns(
        "db",
        as_user(
            "postgres",
            [
                pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(DIR / "logs" / "db-postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
        ),
        stdin=subprocess.DEVNULL,
    )
    in_ns("db", ["createdb", "-h", str(sock), "-U", "postgres", "loyalty"])

    bouncer = DIR / "db" / "pgbouncer"
    bouncer.mkdir()
    (bouncer / "users.txt").write_text('"postgres" ""\n')
    (bouncer / "pgbouncer.ini").write_text(
        f"""[databases]
loyalty = host={ip("db")} port=5432 dbname=loyalty

[pgbouncer]
listen_addr = {ip("db")}
listen_port = {PGBOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {bouncer / "users.txt"}
admin_users = postgres
stats_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = {POOL_SIZE}
max_db_connections = {POOL_MAX_DB_CONNECTIONS}
reserve_pool_size = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits
"""
    )
    run(["chown", "-R", "postgres:postgres", str(bouncer)])
    spawn("db", "pgbouncer", as_user("postgres", ["pgbouncer", str(bouncer / "pgbouncer.ini")]))
    wait_for("PgBouncer", lambda: reachable("db", PGBOUNCER_PORT), log="db-pgbouncer.log")


def replica_up() -> None:
    data = DIR / "replica" / "data"
    sock = DIR / "replica" / "sock"
    sock.mkdir(parents=True)
    run(["chown", "-R", "postgres:postgres", str(DIR / "replica")])
    in_ns(
        "replica",
        as_user(
            "postgres",
            [
                pg_bin("pg_basebackup"),
                "-h",
                ip("db"),
                "-U",
                "postgres",
                "-D",
                str(data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-password",
            ],
        ),
    )
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"""
# the standby's own (scripts/cluster)
listen_addresses = '{ip("replica")}'
unix_socket_directories = '{sock}'
hot_standby = on
hot_standby_feedback = on
"""
        )
    in_ns(
        "replica",
        as_user(
            "postgres",
            [
                pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(DIR / "logs" / "replica-postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
        ),
        stdin=subprocess.DEVNULL,
    )


def broker_up() -> None:
    rabbit = DIR / "broker" / "rabbitmq"
    for sub in ("mnesia", "log"):
        (rabbit / sub).mkdir(parents=True)
    (rabbit / "enabled_plugins").write_text("[].\n")
    (rabbit / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {ip('broker')}:5672\nloopback_users = none\n"
    )
    run(["chown", "-R", "rabbitmq:rabbitmq", str(rabbit)])
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": "/var/lib/rabbitmq",  # its Erlang cookie
        "RABBITMQ_NODENAME": f"{PREFIX}@localhost",
        "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"),
        "RABBITMQ_LOG_BASE": str(rabbit / "log"),
        "RABBITMQ_CONFIG_FILE": str(rabbit / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(rabbit / "pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not Path(server).exists():
        server = shutil.which("rabbitmq-server") or "rabbitmq-server"
    spawn("broker", "rabbitmq", as_user("rabbitmq", ["env", *_pairs(env), server]))
    redis = DIR / "broker" / "redis"
    redis.mkdir(parents=True)
    spawn(
        "broker",
        "redis",
        [
            "redis-server",
            "--bind",
            ip("broker"),
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(redis),
            "--protected-mode",
            "no",
        ],
    )
    wait_for("Redis", lambda: reachable("broker", 6379), log="broker-redis.log")
    wait_for("RabbitMQ", lambda: reachable("broker", 5672), timeout=120, log="broker-rabbitmq.log")


def _pairs(env: dict[str, str]) -> list[str]:
    return [f"{name}={value}" for name, value in env.items()]


def supplier_certificate() -> None:
    """A self-signed certificate for the fake supplier's address (the workers trust it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster fake supplier")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip("client")))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = DIR / "supplier"
    folder.mkdir()
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def migrate() -> None:
    env = django_env("web1", direct=True)
    in_ns(
        "web1",
        [str(PYTHON / "python"), "manage.py", "migrate", "--noinput"],
        env=env,
        cwd=ROOT,
        timeout=900,
    )


def web_up(host: str) -> None:
    spawn(
        host,
        "gunicorn",
        [
            str(PYTHON / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"{ip(host)}:8000",
            "--workers",
            str(WEB_WORKERS),
            "--threads",
            str(WEB_THREADS),
            "--graceful-timeout",
            "5",
            "--timeout",
            "60",
        ],
        env=django_env(host),
    )


def worker_up(host: str) -> None:
    spawn(
        host,
        "celery",
        [
            str(PYTHON / "celery"),
            "-A",
            "config",
            "worker",
            "-n",
            f"{host}@cluster",
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        env=django_env(host),
    )


def beat_up(name: str = "beat") -> None:
    spawn(
        "beat",
        name,
        [
            str(PYTHON / "celery"),
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile",
            str(DIR / "hosts" / "beat" / f"{name}.pid"),
        ],
        env=django_env("beat"),
    )


def lb_up() -> None:
    lb = DIR / "lb"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (lb / "tmp" / sub).mkdir(parents=True)
    run(["chown", "-R", "www-data:www-data", str(lb / "tmp")])
    upstreams = "\n".join(
        f"        server {ip(host)}:8000 max_fails=1 fail_timeout=5s;" for host in WEB_HOSTS
    )
    (lb / "nginx.conf").write_text(
        f"""user www-data;
worker_processes 1;
pid {lb / "nginx.pid"};
error_log {DIR / "logs" / "lb-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams
        '$msec $status $upstream_addr $upstream_status $request_method $uri $request_time';
    access_log {DIR / "logs" / "lb-access.log"} upstreams;
    client_body_temp_path {lb / "tmp" / "body"};
    proxy_temp_path {lb / "tmp" / "proxy"};
    fastcgi_temp_path {lb / "tmp" / "fastcgi"};
    uwsgi_temp_path {lb / "tmp" / "uwsgi"};
    scgi_temp_path {lb / "tmp" / "scgi"};
    client_max_body_size 20m;
    upstream web {{
{upstreams}
    }}
    server {{
        listen {ip("lb")}:80;
        location / {{
            proxy_pass http://web;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # A host that does not accept the connection within a second is marked down
            # for fail_timeout, and the request goes to the other (it was never sent).
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""
    )
    spawn("lb", "nginx", ["nginx", "-c", str(lb / "nginx.conf"), "-g", "daemon off;"])


def http_ok(host: str, port: int, path: str) -> bool:
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns("client"),
            str(PYTHON / "python"),
            "-c",
            _PROBE,
            ip(host),
            str(port),
            path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


_PROBE = """
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
try:
    conn.request("GET", sys.argv[3])
    sys.exit(0 if conn.getresponse().status == 200 else 1)
except OSError:
    sys.exit(1)
"""


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
