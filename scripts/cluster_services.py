"""What the cluster's hosts run (``scripts/cluster up``): PostgreSQL and PgBouncer, the
hot standby, RabbitMQ and Redis, the fake supplier's certificate, gunicorn, Celery
workers and beat, and nginx in front of the web hosts."""

import datetime
import os
import shutil
import subprocess
from pathlib import Path

from cluster_hosts import (
    DIR,
    PG_MAX_CONNECTIONS,
    PGBOUNCER_PORT,
    POOL_MAX_DB_CONNECTIONS,
    POOL_SIZE,
    PREFIX,
    PYTHON,
    ROOT,
    SUBNET,
    WEB_HOSTS,
    WEB_THREADS,
    WEB_WORKERS,
    WORKER_CONCURRENCY,
    as_user,
    django_env,
    in_ns,
    ip,
    ns,
    pg_bin,
    reachable,
    run,
    spawn,
    wait_for,
)


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
