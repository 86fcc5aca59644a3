"""Two owners demoting each other at the same moment: the memberships are locked and the
owners counted under the lock, so one wins and the merchant keeps an owner."""

import threading

import pytest
from django.db import connection

from core.actors import Actor
from merchants.exceptions import LastOwner
from merchants.models import MerchantMembership
from merchants.services import team
from tests.merchants.factories import MerchantFactory
from tests.portals.factories import portal_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    merchant = MerchantFactory(live=True)
    first = portal_user(merchant, "owner")
    second = portal_user(merchant, "owner")
    pairs = [
        (MerchantMembership.objects.get(user=second).pk, first),
        (MerchantMembership.objects.get(user=first).pk, second),
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(membership_id: int, by) -> None:
        try:
            barrier.wait()
            team.membership_role_change(
                merchant=merchant,
                membership_id=membership_id,
                role="analyst",
                actor=Actor.portal(by),
            )
            outcomes.append("done")
        except LastOwner:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["done", "refused"]
    assert MerchantMembership.objects.filter(merchant=merchant, role="owner").count() == 1
