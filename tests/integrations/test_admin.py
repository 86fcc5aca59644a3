"""The inbox and the connection page in the admin, for Operations staff."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from core.staff_groups import staff_groups_sync
from integrations.models import InboxDelivery, InboxStatus
from loyalty.models import Order
from tests.integrations.helpers import connected_store, sample, shopify_post
from tests.merchants.factories import StaffFactory


@pytest.fixture
def ops(db):
    staff_groups_sync()
    user = StaffFactory(username="ops-agent")
    user.groups.add(Group.objects.get(name="Operations"))
    return user


def paid_order():
    payload = sample("shopify/orders_create.json")
    payload["financial_status"] = "paid"
    return payload


def test_the_inbox_lists_each_delivery_with_its_outcome(client, ops, merchant, deliver):
    store, secret = connected_store(merchant, "shopify")
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    deliver(shopify_post, store, secret, "products/update", {"id": 1})
    client.force_login(ops)
    response = client.get(reverse("admin:integrations_inboxdelivery_changelist"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Earned 394 points." in text
    assert "The topic &#x27;products/update&#x27; is not one we use." in text
    assert 'class="inbox-status inbox-status--ignored">Ignored<' in text
    page = client.get(
        reverse(
            "admin:integrations_inboxdelivery_change",
            args=[InboxDelivery.objects.get(topic="orders/paid").pk],
        )
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "Order: 820982911946154508" in body
    assert "X-Shopify-Topic: orders/paid" in body
    assert "Process again" in body


def test_a_failed_delivery_replayed_after_the_cause_is_fixed_is_processed(
    client, ops, merchant, deliver, django_capture_on_commit_callbacks
):
    store, secret = connected_store(merchant, "shopify")
    program = merchant.programs.get(is_active=True)
    program.is_active = False
    program.save(update_fields=["is_active"])
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    delivery = InboxDelivery.objects.get(store=store)
    assert delivery.status == InboxStatus.FAILED
    assert "program" in delivery.outcome.lower()
    program.is_active = True
    program.save(update_fields=["is_active"])
    client.force_login(ops)
    url = reverse("admin:integrations_inboxdelivery_act", args=[delivery.pk, "replay"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"apply": "1"})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (InboxStatus.PROCESSED, 2)
    assert Order.objects.filter(merchant=merchant).count() == 1


def test_the_connection_page_shows_the_url_and_the_secret_to_those_who_may_set_it(
    client, ops, merchant
):
    store, secret = connected_store(merchant, "woocommerce")
    client.force_login(ops)
    page = client.get(reverse("admin:integrations_inboxdelivery_connect", args=[store.pk]))
    text = page.content.decode()
    assert f"http://testserver/api/v1/integrations/woocommerce/{store.public_id}/webhooks/" in text
    assert secret in text
    assert "No delivery has arrived yet." in text
    care = StaffFactory(username="no-secret")
    care.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename="view_inboxdelivery")
    )
    client.force_login(care)
    hidden = client.get(reverse("admin:integrations_inboxdelivery_connect", args=[store.pk]))
    assert hidden.status_code == 200
    assert secret not in hidden.content.decode()
    assert "Shown to staff who may set webhook secrets." in hidden.content.decode()


def test_the_store_page_links_to_its_connection_and_sets_what_earns(client, ops, merchant):
    store, _ = connected_store(merchant, "shopify")
    client.force_login(ops)
    page = client.get(reverse("admin:merchants_store_change", args=[store.pk]))
    text = page.content.decode()
    assert reverse("admin:integrations_inboxdelivery_connect", args=[store.pk]) in text
    for field in ("earn_on", "earn_on_tax", "earn_on_shipping"):
        assert f'name="{field}"' in text
