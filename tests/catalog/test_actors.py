"""Who the catalog's history and alerts say acted: the user behind a typed actor, nobody
for a job."""

import pytest

from catalog import services
from catalog.alerts import alert_clear, alert_raise
from catalog.models import AlertKind, RewardStatus
from core.actors import Actor
from tests.catalog.factories import RewardFactory
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_a_status_change_by_a_staff_actor_records_the_user_and_by_a_job_records_none():
    reward, staff = RewardFactory(), StaffFactory()
    services.rewards_set_status(
        rewards=[reward], status=RewardStatus.PAUSED, actor=Actor.staff(staff)
    )
    assert reward.history.latest().history_user == staff
    services.rewards_set_status(
        rewards=[reward], status=RewardStatus.ACTIVE, actor=Actor.system("import")
    )
    assert reward.history.latest().history_user is None


def test_an_alert_cleared_by_staff_names_them_and_one_cleared_by_a_job_names_nobody():
    staff = StaffFactory()
    by_staff = alert_raise(kind=AlertKind.LOW_STOCK, subject="pool:1", message="low")
    by_job = alert_raise(kind=AlertKind.LOW_STOCK, subject="pool:2", message="low")
    alert_clear(kind=AlertKind.LOW_STOCK, subject="pool:1", actor=Actor.staff(staff))
    alert_clear(kind=AlertKind.LOW_STOCK, subject="pool:2", actor=Actor.system("check_code_pools"))
    by_staff.refresh_from_db()
    by_job.refresh_from_db()
    assert (by_staff.resolved_by, by_job.resolved_by) == (staff, None)
    assert by_staff.resolved_at is not None
    assert by_job.resolved_at is not None
