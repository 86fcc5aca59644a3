"""The cluster's hosts (``scripts/cluster``): its settings, the network namespaces on
their bridge, running commands and processes in them, and the environment every Django
process of the cluster gets."""

import json
import os
import secrets
import shutil
import subprocess
import time
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
