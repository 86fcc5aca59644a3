"""``scripts/replica`` against the local primary: start, start again, status, stop, stop again.

Each test runs its own standby in a scratch folder on a free port, so a standby already
running for the suite (``.ci/run``) is left alone. Needs the primary at 127.0.0.1:5432
(``DATABASE_URL``), its server binaries, and root or the postgres user.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
PRIMARY = settings.DATABASES["default"]


def skip_reason() -> str | None:
    if "postgresql" not in PRIMARY["ENGINE"] or PRIMARY["HOST"] not in {"127.0.0.1", "localhost"}:
        return "needs DATABASE_URL on the local PostgreSQL"
    if not any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        return "needs PostgreSQL's server binaries in /usr/lib/postgresql"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "needs root or the postgres user to run a second cluster"
    return None


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A standby is a copy of the whole primary cluster, synced to disk when made: in memory
# (tmpfs) where the machine has one, seconds faster on each start and stop than on disk.
SCRATCH_PARENT = next(
    (folder for folder in ("/dev/shm", "/var/tmp") if Path(folder).is_dir()), "/var/tmp"
)


@pytest.fixture
def scratch():
    # Opened up to the postgres user, who runs the standby.
    folder = Path(tempfile.mkdtemp(prefix="loyalty-replica-test-", dir=SCRATCH_PARENT))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def script(scratch):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "REPLICA_DIR": str(scratch / "standby"),
        "REPLICA_PORT": str(port),
        "REPLICA_PRIMARY_PORT": str(PRIMARY["PORT"] or 5432),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{PRIMARY['NAME']}",
    }

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BASE_DIR / "scripts" / "replica"), *args],
            cwd=BASE_DIR,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def launch(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(BASE_DIR / "scripts" / "replica"), *args],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    run.launch = launch
    run.port = port
    run.folder = scratch / "standby"
    yield run
    run("stop")


def standby_answer(port: int, sql: str) -> str:
    psql = ["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres"]
    return subprocess.run(
        [*psql, "-tAc", sql], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()


def postmaster_pid(folder: Path) -> str:
    return (folder / "postmaster.pid").read_text().splitlines()[0]


def test_start_twice_status_and_stop_twice(script):
    started = script("start")
    assert started.returncode == 0, started.stderr
    assert f"hot standby running on 127.0.0.1:{script.port}" in started.stdout
    assert standby_answer(script.port, "SELECT pg_is_in_recovery()") == "t"
    assert standby_answer(script.port, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
    pid = postmaster_pid(script.folder)

    again = script("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert postmaster_pid(script.folder) == pid

    elsewhere = script("start", REPLICA_PORT=str(free_port()))
    assert elsewhere.returncode == 1
    assert f"already running from {script.folder} on port {script.port}" in elsewhere.stderr
    assert postmaster_pid(script.folder) == pid

    status = script("status")
    assert status.returncode == 0, status.stderr
    assert f"running on 127.0.0.1:{script.port}" in status.stdout
    assert "bytes behind the primary" in status.stdout

    url = script("url")
    assert url.stdout.strip() == f"postgres://postgres@127.0.0.1:{script.port}/{PRIMARY['NAME']}"

    stopped = script("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not script.folder.exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", script.port)) != 0

    assert script("stop").returncode == 0
    after = script("status")
    assert after.returncode == 3
    assert "not running" in after.stdout


def test_two_starts_at_once_make_one_standby(script):
    first, second = script.launch("start"), script.launch("start")
    outputs = [process.communicate(timeout=180) for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    said = sorted("already running" in stdout for stdout, _ in outputs)
    assert said == [False, True]
    assert standby_answer(script.port, "SELECT pg_is_in_recovery()") == "t"


def test_start_refuses_a_taken_port_and_leaves_nothing(script):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", script.port))
        squatter.listen()

        result = script("start")

    assert result.returncode == 1
    assert f"port {script.port} is taken" in result.stderr
    assert not script.folder.exists()


@pytest.mark.skipif(
    int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 1,
    reason="any user may listen on port 1 here",
)
def test_a_standby_that_cannot_start_is_removed(script):
    # Port 1 is free, but no one but root may listen there: the copy is made, the server
    # fails, and the half-made standby goes.
    result = script("start", REPLICA_PORT="1")

    assert result.returncode == 1
    assert "the standby did not start" in result.stderr
    assert not script.folder.exists()
