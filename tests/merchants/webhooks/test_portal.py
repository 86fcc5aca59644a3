"""The portal's webhook pages: owners add, edit, disable, rotate, test and replay; the
secret is shown once; another merchant's endpoint is a 404; other roles are refused."""

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.models import EndpointStatus, WebhookDelivery, WebhookEndpoint
from merchants.webhooks import delivery
from tests.loyalty.factories import member_make, program_merchant
from tests.merchants.webhooks.conftest import endpoint_make
from tests.portals.factories import portal_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(shop):
    return signed_in(portal_user(shop, "owner"))


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(shop, owner, receiver):
    page = owner.post(
        reverse("portals:webhooks"),
        {"url": receiver.url, "description": "CRM", "event_types": ["member.created"]},
    )
    assert page.status_code == 200
    endpoint = WebhookEndpoint.objects.get(merchant=shop)
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in page.content.decode()
    listing = owner.get(reverse("portals:webhooks")).content.decode()
    assert receiver.url in listing
    assert endpoint.secret not in listing
    assert (
        endpoint.secret
        not in owner.get(reverse("portals:webhook", args=[endpoint.pk])).content.decode()
    )


def test_an_unsafe_url_gets_a_clear_form_error(shop, owner, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    page = owner.post(
        reverse("portals:webhooks"),
        {"url": "http://169.254.169.254/", "event_types": ["member.created"]},
    )
    assert page.status_code == 400
    assert "link-local" in page.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_owner_edits_disables_enables_and_rotates(shop, owner, receiver):
    endpoint, secret = endpoint_make(shop, receiver.url)
    url = reverse("portals:webhook", args=[endpoint.pk])
    manage = reverse("portals:webhook_manage", args=[endpoint.pk])
    assert (
        owner.post(url, {"url": receiver.url, "event_types": ["points.earned"]}).status_code == 302
    )
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["points.earned"]
    owner.post(manage, {"action": "disable", "reason": "maintenance"})
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (EndpointStatus.DISABLED, "maintenance")
    owner.post(manage, {"action": "enable"})
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ACTIVE
    page = owner.post(manage, {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret != secret
    assert endpoint.secret in page.content.decode()
    assert endpoint.previous_secret == secret


def test_a_test_event_and_a_replay_from_the_portal(
    shop, owner, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_make(shop, receiver.url)
    manage = reverse("portals:webhook_manage", args=[endpoint.pk])
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(manage, {"action": "test"})
    assert [r.headers["webhook-id"].startswith("evt_") for r in receiver.received] == [True]
    log = owner.get(reverse("portals:webhook", args=[endpoint.pk])).content.decode()
    assert "webhook.test" in log
    sent = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(manage, {"action": "replay", "deliveries": [sent.pk]})
    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body


def test_another_merchants_endpoint_and_deliveries_are_out_of_reach(shop, owner, receiver):
    other, _ = program_merchant()
    theirs, _ = endpoint_make(other, receiver.url)
    member_make(other, "theirs")
    delivery.webhooks_dispatch(now=timezone.now())
    for name in ("portals:webhook", "portals:webhook_manage"):
        assert owner.get(reverse(name, args=[theirs.pk])).status_code == 404
        assert owner.post(reverse(name, args=[theirs.pk]), {"action": "test"}).status_code == 404
    mine, _ = endpoint_make(shop, receiver.url)
    their_delivery = WebhookDelivery.objects.get(endpoint=theirs)
    owner.post(
        reverse("portals:webhook_manage", args=[mine.pk]),
        {"action": "replay", "deliveries": [their_delivery.pk]},
    )
    their_delivery.refresh_from_db()
    assert their_delivery.replayed_at is None
    assert receiver.url not in owner.get(reverse("portals:webhooks")).content.decode() or (
        WebhookEndpoint.objects.filter(merchant=shop).exists()
    )


@pytest.mark.parametrize("role", ["analyst", "support"])
def test_only_owners_manage_endpoints(shop, receiver, role):
    endpoint, _ = endpoint_make(shop, receiver.url)
    client = signed_in(portal_user(shop, role))
    assert client.get(reverse("portals:webhooks")).status_code == 403
    response = client.post(
        reverse("portals:webhook_manage", args=[endpoint.pk]), {"action": "rotate"}
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.get().secret == endpoint.secret
