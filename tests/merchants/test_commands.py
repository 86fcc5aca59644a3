from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import override_settings
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from core.staff_groups import STAFF_GROUPS
from merchants.models import Merchant, MerchantAPIKey
from tests.merchants.factories import MerchantFactory


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_issue_api_key_prints_a_working_key_once():
    merchant = MerchantFactory(live=True, slug="acme")
    out, err = run("issue_api_key", "acme", "--scopes", "read")
    raw_key = out.strip()
    key = MerchantAPIKey.objects.get(merchant=merchant)
    assert key.scopes == ["read"]
    assert raw_key.startswith(key.prefix + ".")
    assert raw_key not in err
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/v1/merchant/").json()["slug"] == "acme"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No merchant"),
        (["acme", "--scopes", "read,root"], "Unknown scope"),
        (["acme", "--store", "nope.example"], "no store"),
    ],
)
def test_issue_api_key_refuses_bad_input_and_issues_nothing(args, message):
    MerchantFactory(live=True, slug="acme")
    with pytest.raises(CommandError, match=message):
        run("issue_api_key", *args)
    assert not MerchantAPIKey.objects.exists()


@pytest.mark.django_db
@override_settings(PRODUCTION=True)
def test_seed_demo_is_refused_in_production():
    with pytest.raises(CommandError, match="production"):
        run("seed_demo")
    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_staff_groups_and_schedules_exist_after_migrate_and_admin_edits_survive_a_sync():
    assert set(Group.objects.values_list("name", flat=True)) >= set(STAFF_GROUPS)
    finance = Group.objects.get(name="Finance")
    assert finance.permissions.filter(codename="add_feeplan").exists()
    assert not finance.permissions.filter(codename="change_merchant").exists()
    heartbeat = PeriodicTask.objects.get(name="Worker heartbeat")
    assert heartbeat.interval.every == 60

    heartbeat.enabled = False
    heartbeat.save()
    run("sync_ops_setup")
    heartbeat.refresh_from_db()
    assert heartbeat.enabled is False

    run("sync_ops_setup", "--reset-schedules")
    heartbeat.refresh_from_db()
    assert heartbeat.enabled is True
