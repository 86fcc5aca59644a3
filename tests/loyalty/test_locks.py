"""loyalty.locks: several members are locked in primary-key order, whatever order the
caller names them in (so two jobs over overlapping batches queue, not deadlock)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty import locks
from tests.loyalty.factories import member_make, program_merchant


@pytest.mark.django_db
def test_a_batch_of_members_is_locked_in_primary_key_order():
    merchant, _ = program_merchant()
    members = [member_make(merchant) for _ in range(4)]
    ids = [member.pk for member in members]

    with CaptureQueriesContext(connection) as captured:
        locked = locks.members_lock_batch(reversed(ids))

    assert [member.pk for member in locked] == sorted(ids)
    (query,) = captured.captured_queries
    assert "ORDER BY" in query["sql"]
    if connection.vendor == "postgresql":
        assert query["sql"].endswith("FOR UPDATE SKIP LOCKED")
