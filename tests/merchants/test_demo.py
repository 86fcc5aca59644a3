"""The demo merchants: one at each stage of onboarding, live ones in several countries and
currencies, an ops superuser, and demo API keys that work, fresh on each load."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from merchants.models import Merchant, MerchantAPIKey, MerchantStatus

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_builds_merchants_at_each_stage_and_keeps_data_on_rerun(seeded_demo):
    assert "password" in seeded_demo.output
    statuses = set(Merchant.objects.values_list("status", flat=True))
    assert {MerchantStatus.LIVE, MerchantStatus.APPLIED, MerchantStatus.SUSPENDED} <= statuses
    live = Merchant.objects.filter(status=MerchantStatus.LIVE)
    assert live.count() >= 2
    assert len({m.default_currency for m in live}) >= 2
    assert len({m.country.code for m in live}) >= 2
    assert get_user_model().objects.get(username="ops").is_superuser
    first_count = Merchant.objects.count()

    out, _ = run("seed_demo")
    assert Merchant.objects.count() == first_count
    assert "password was printed when it was created" in out
    # Each run's demo keys work; the previous run's are revoked.
    usable = MerchantAPIKey.objects.filter(revoked=False, merchant__in=live)
    assert usable.count() == live.count()
    assert MerchantAPIKey.objects.filter(revoked=True).count() == live.count()
    curl = next(line for line in out.splitlines() if "curl" in line)
    raw_key = curl.split("Bearer ")[1].split('"')[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/v1/merchant/").status_code == 200
