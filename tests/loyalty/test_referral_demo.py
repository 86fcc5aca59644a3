"""The demo's referrals: terms on every demo program, and on each live merchant a
referral that qualified (both sides rewarded) and one flagged for a review."""

import pytest

from loyalty.models import LedgerEntry, Program, Referral, ReferralStatus, ReferralTerms
from merchants.models import MerchantStatus

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]


def test_the_demo_has_referral_terms_a_qualified_referral_and_a_flagged_one(seeded_demo):
    assert ReferralTerms.objects.count() == Program.objects.count() > 0
    live = Program.objects.filter(merchant__status=MerchantStatus.LIVE, is_active=True)
    assert live.exists()
    for program in live:
        referrals = Referral.objects.filter(merchant=program.merchant)
        qualified = referrals.get(status=ReferralStatus.QUALIFIED)
        flagged = referrals.get(status=ReferralStatus.FLAGGED)
        assert qualified.advocate_entry.points == 500
        assert qualified.friend_entry.source_type == LedgerEntry.Source.REFERRAL
        assert [reason["code"] for reason in flagged.reasons] == ["same_device"]
