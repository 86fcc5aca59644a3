"""The demo data (``seed_demo``), loaded once and read by every test module marked
``pytest.mark.seeded_demo``.

A first load records months of history through the services, draws every image and
renders PDF reports: tens of seconds. The marked modules share one: it runs in a
transaction left open from the first marked module on (each test is a savepoint inside
it, rolled back as usual), and rolled back before the first test of any module that is
not marked, or at the end of the session. The collection puts the marked modules first,
so that a process loads the demo once.
"""

import datetime
import shutil
import tempfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone


@dataclass(frozen=True)
class SeededDemo:
    output: str  # what the first seed_demo printed
    finished_at: datetime.datetime  # when it returned
    media: Path  # the MEDIA_ROOT it drew its files into


class SharedDemo:
    def __init__(self) -> None:
        self.loaded: SeededDemo | None = None
        self._atomic = None
        self._blocker = None

    def load(self, django_db_blocker) -> SeededDemo:
        if self.loaded is not None:
            return self.loaded
        self._blocker = django_db_blocker
        media = Path(tempfile.mkdtemp(prefix="loyalty-test-demo-"))
        out = StringIO()
        with django_db_blocker.unblock():
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            try:
                with override_settings(MEDIA_ROOT=media):
                    call_command("seed_demo", stdout=out, stderr=StringIO())
            except BaseException:
                self._roll_back()
                shutil.rmtree(media, ignore_errors=True)
                raise
        self.loaded = SeededDemo(output=out.getvalue(), finished_at=timezone.now(), media=media)
        return self.loaded

    def discard(self) -> None:
        if self.loaded is None:
            return
        with self._blocker.unblock():
            self._roll_back()
        shutil.rmtree(self.loaded.media, ignore_errors=True)
        self.loaded = None

    def _roll_back(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        self._atomic = None


SHARED_DEMO = SharedDemo()
