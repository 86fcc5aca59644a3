"""The run command's database: every migration applies to a fresh SQLite file.

The suite itself runs on PostgreSQL in CI, and SQLite alters a table by rebuilding it,
which triggers that point at the table can refuse: this runs the migrations the way
``make run`` does on a new machine."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_every_migration_applies_to_a_fresh_sqlite_database(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    for args in (["--noinput"], ["--check"]):  # everything applied, then nothing left
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0", *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
