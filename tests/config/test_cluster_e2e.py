"""The cluster of real hosts (``scripts/cluster``): up, the short check, down, on this machine.

It starts eleven network namespaces with PostgreSQL, PgBouncer, a standby, RabbitMQ, Redis,
nginx, two gunicorn hosts, two Celery workers and beat, so it runs on its own after the suite
(``.ci/run``: ``pytest -m cluster``); the suite's own run deselects it. It needs root and
network namespaces, and skips, saying which is missing, where either is refused. Its hosts
use their own prefix, subnet and scratch folder, so a developer's cluster is left alone.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "lyt"


def _namespaces_refused() -> str | None:
    if os.geteuid() != 0:
        return "scripts/cluster needs root (network namespaces)"
    if not shutil.which("ip"):
        return "iproute2's ip is missing"
    probe = subprocess.run(
        ["ip", "netns", "add", f"{PREFIX}-probe"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"network namespaces are refused here: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"{PREFIX}-probe"], check=False)
    return None


pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def _ours() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listed.stdout.splitlines() if line.startswith(f"{PREFIX}-")]


def test_the_cluster_comes_up_holds_every_check_and_leaves_nothing_behind():
    refused = _namespaces_refused()
    if refused:
        pytest.skip(refused)
    # Not under tmp_path: pytest makes its folder private again whenever a run starts,
    # and PostgreSQL's and RabbitMQ's users must reach the scratch folder.
    scratch = Path("/var/tmp") / f"loyalty-cluster-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CLUSTER_PREFIX": PREFIX,
        "CLUSTER_SUBNET": "10.232.0",
        "CLUSTER_DIR": str(scratch),
    }
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)

    def cluster(*args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / "scripts" / "cluster"), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )

    try:
        up = cluster("up", timeout=900)
        assert up.returncode == 0, up.stdout + up.stderr
        check = cluster("check", "--short", timeout=900)
        output = check.stdout + check.stderr
        assert check.returncode == 0, output
        results = [line.strip() for line in check.stdout.splitlines() if line.startswith("  ")]
        assert [line.split()[:2] for line in results] == [
            [f"{number}.", "ok"] for number in range(1, 7)
        ], output
        assert "all checks hold" in check.stdout
    finally:
        down = cluster("down", timeout=300)

    assert down.returncode == 0, down.stdout + down.stderr
    assert _ours() == []
    assert not scratch.exists()
    leftover = subprocess.run(
        ["pgrep", "-f", str(scratch)], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", "processes of the cluster are still running"
