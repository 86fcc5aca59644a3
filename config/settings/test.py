"""Settings for the test suite: the same as development, with Celery run eagerly."""

import tempfile
from pathlib import Path

from . import *  # noqa: F403
from . import REST_FRAMEWORK

DJANGO_ENV = "test"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min"},
}
# Many tests send bad keys on purpose from one address; the tests of this throttle set
# their own small budget.
API_AUTH_FAILURE_RATE = (100000, 60)
# Uploaded and drawn files (brand logos, reward images) go to a scratch folder, not var/.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="loyalty-test-media-"))
CARE_ATTACHMENT_ROOT = Path(tempfile.mkdtemp(prefix="loyalty-test-care-"))
STORAGES = {
    **STORAGES,  # noqa: F405
    "care_attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(CARE_ATTACHMENT_ROOT), "base_url": None},
    },
}
# Report reads stay on the primary even with DATABASE_REPLICA_URL set: a test reads what it
# has just written, uncommitted or not yet replayed. tests/config/test_replica.py turns
# this on where it reads the replica on purpose.
REPORTS_READ_FROM_REPLICA = False
# A test reads its report right after a write: a snapshot is read only while nothing it
# was computed from changed (tests/portals/test_snapshots.py sets a lag where it tests one).
REPORT_SNAPSHOT_MAX_LAG_SECONDS = 0
# The webhook tests run a receiver on 127.0.0.1 over plain http.
WEBHOOKS_ALLOW_HTTP = True
WEBHOOKS_ALLOW_LOOPBACK = True
