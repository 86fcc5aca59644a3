"""The demo's expiry warning: on each live merchant, a member whose stars expire within
the last warning window got the 7-day warning while the demo was loaded (the development
run prints it in its console email), and the job run again sends nothing more."""

import pytest

from loyalty.messages import jobs
from loyalty.models import MemberMessage, MessageKind, MessageStatus, Program
from merchants.models import MerchantStatus

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]


def test_the_demo_warns_a_member_of_each_live_merchant_once(seeded_demo):
    live = Program.objects.filter(merchant__status=MerchantStatus.LIVE, is_active=True)
    assert live.exists()
    for program in live:
        warning = MemberMessage.objects.get(
            merchant=program.merchant, kind=MessageKind.POINTS_EXPIRING
        )
        assert warning.status == MessageStatus.SENT
        assert warning.key.endswith(":7")
        assert warning.subject.startswith("250 Stars expire on ")

    again = jobs.expiry_warnings_send(now=seeded_demo.finished_at)

    assert again.sent == 0
