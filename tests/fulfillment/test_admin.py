"""The Fulfillment team's admin through the test client: queues and filters, the
read-only redemption page with masked codes, the staff actions (from the list and from a
redemption's page), code reveals, supplier orders and the supplier health page."""

import datetime
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from catalog.alerts import alert_raise
from catalog.models import AlertKind, CatalogAlert, Supplier
from fulfillment.admin.redemptions import RedemptionAdmin
from fulfillment.models import CodeReveal, DeliveredCode, Redemption, RedemptionEvent, Shipment
from fulfillment.services import dispatch
from tests.fulfillment.test_interventions import (
    POINTS,
    fresh_sandbox,  # noqa: F401 (an autouse fixture, shared)
    manual,
    order_of,
    redeem,
    sandbox,
    shop,
)
from tests.loyalty.factories import member_make
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

REDEMPTIONS = reverse("admin:fulfillment_redemption_changelist")
ORDERS = reverse("admin:fulfillment_supplierorder_changelist")
HEALTH = reverse("admin:fulfillment_supplierorder_health")
REVEALS = reverse("admin:fulfillment_codereveal_changelist")
SELECTED = re.compile(r'name="_selected_action" value="(\d+)"')

WORK = [
    "fulfillment.view_redemption",
    "fulfillment.change_redemption",
    "fulfillment.view_supplierorder",
    "fulfillment.view_codereveal",
]


def staff_with(*perms: str):
    user = StaffFactory()
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def agent():
    return staff_with(*WORK)


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def change_url(redemption: Redemption) -> str:
    return reverse("admin:fulfillment_redemption_change", args=[redemption.pk])


def act_url(redemption: Redemption, name: str) -> str:
    return reverse("admin:fulfillment_redemption_act", args=[redemption.pk, name])


def graph() -> dict:
    """One redemption in each state the team works with."""
    good = sandbox("good")
    merchant, reward = shop(good, sandbox("flaky", failure_rate=1, terminal_share=0))
    delivered = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    Supplier.objects.filter(pk=good.pk).update(is_active=False)
    failing = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())  # good is paused: fails over to flaky

    vague_merchant, vague_reward = shop(sandbox("vague", unknown_rate=1), member="v-1")
    unknown = redeem(vague_merchant, vague_reward, member="v-1")
    dispatch.process_due(now=timezone.now())

    hand_merchant, hand_reward = shop(manual(), member="h-1")
    by_hand = redeem(hand_merchant, hand_reward, member="h-1")
    dispatch.process_due(now=timezone.now())
    for redemption in (delivered, failing, unknown, by_hand):
        redemption.refresh_from_db()
    assert (delivered.status, failing.status, unknown.status, by_hand.status) == (
        "delivered",
        "failed",
        "pending",
        "submitted",
    )
    return {
        "delivered": delivered,
        "failing": failing,
        "unknown": unknown,
        "by_hand": by_hand,
        "code": DeliveredCode.objects.get(redemption=delivered),
    }


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in SELECTED.findall(response.content.decode())}


# -- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["superuser", "staff"])
def test_every_fulfillment_page_loads(who, admin_client, agent_client):
    client = admin_client if who == "superuser" else agent_client
    objects = graph()
    for url in (REDEMPTIONS, ORDERS, HEALTH, REVEALS):
        assert client.get(url).status_code == 200, url
    for queue in ("stuck", "failing", "manual", "unknown"):
        assert client.get(REDEMPTIONS, {"queue": queue}).status_code == 200
    for key in ("delivered", "failing", "unknown", "by_hand"):
        redemption = objects[key]
        assert client.get(change_url(redemption)).status_code == 200, key
        order = order_of(redemption)
        page = reverse("admin:fulfillment_supplierorder_change", args=[order.pk])
        assert client.get(page).status_code == 200
    for name in ("retry_now", "fail_over", "cancel_and_refund"):
        assert client.get(act_url(objects["failing"], name)).status_code == 200, name
    assert client.get(act_url(objects["by_hand"], "mark_delivered")).status_code == 200
    assert not RedemptionEvent.objects.filter(source="staff").exists()  # a GET changes nothing


def test_pages_need_the_fulfillment_permissions(client):
    redemption = graph()["failing"]
    client.force_login(staff_with("fulfillment.view_redemption"))
    assert client.get(REDEMPTIONS).status_code == 200
    assert client.get(HEALTH).status_code == 403
    assert client.get(act_url(redemption, "retry_now")).status_code == 403
    client.post(
        REDEMPTIONS,
        {"action": "cancel_and_refund", "_selected_action": [redemption.pk], "apply": "1"},
    )
    assert Redemption.objects.get(pk=redemption.pk).status == "failed"


def test_queues_and_filters_pick_the_right_redemptions(admin_client):
    objects = graph()
    ids = {key: objects[key].pk for key in ("delivered", "failing", "unknown", "by_hand")}

    def ids_for(**params) -> set[int]:
        return listed(admin_client.get(REDEMPTIONS, params))

    assert ids_for(queue="failing") == {ids["failing"]}
    assert ids_for(queue="unknown") == {ids["unknown"]}
    assert ids_for(queue="manual") == {ids["by_hand"]}
    assert ids_for(queue="stuck") == set()
    Redemption.objects.filter(pk=ids["unknown"]).update(
        updated_at=timezone.now() - datetime.timedelta(hours=2)
    )
    Redemption.objects.filter(pk=ids["delivered"]).update(
        updated_at=timezone.now() - datetime.timedelta(hours=2)
    )
    assert ids_for(queue="stuck") == {ids["unknown"]}  # delivered is not open
    Redemption.objects.filter(pk=ids["delivered"]).update(needs_care=True)
    assert ids_for(queue="manual") == {ids["by_hand"], ids["delivered"]}

    flaky = Supplier.objects.get(slug="flaky")
    assert ids_for(supplier=flaky.pk) == {ids["failing"]}
    assert ids_for(merchant__id__exact=objects["by_hand"].merchant_id) == {ids["by_hand"]}
    assert ids_for(country="US") == set(ids.values())
    assert ids_for(country="FR") == set()
    assert ids_for(age="hour") == set(ids.values())
    assert ids_for(age="older") == set()
    Redemption.objects.filter(pk=ids["failing"]).update(
        created_at=timezone.now() - datetime.timedelta(days=3)
    )
    assert ids_for(age="week") == {ids["failing"]}


# -- codes -----------------------------------------------------------------------------------


def test_codes_are_never_shown_in_clear_on_list_or_change_pages(admin_client):
    objects = graph()
    code = objects["code"]
    for url in (
        REDEMPTIONS,
        change_url(objects["delivered"]),
        ORDERS,
        reverse("admin:fulfillment_supplierorder_change", args=[code.supplier_order_id]),
        act_url(objects["failing"], "cancel_and_refund"),
    ):
        content = admin_client.get(url).content.decode()
        assert code.code not in content, url
        assert code.claim_url not in content, url
    page = admin_client.get(change_url(objects["delivered"])).content.decode()
    assert code.masked in page
    assert "Reveal" in page


def test_reveal_shows_the_code_once_asked_and_records_it(admin_client, admin_user):
    objects = graph()
    code = objects["code"]
    url = reverse("admin:fulfillment_redemption_reveal", args=[objects["delivered"].pk, code.pk])

    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert code.code not in confirm.content.decode()
    assert not CodeReveal.objects.exists()

    shown = admin_client.post(url)

    assert shown.status_code == 200
    assert code.code in shown.content.decode()
    assert code.pin in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    reveal = CodeReveal.objects.get()
    assert (reveal.code, reveal.user, reveal.via) == (code, admin_user, "admin")
    assert code.code not in admin_client.get(REVEALS).content.decode()


def test_only_staff_allowed_to_reveal_see_the_button_or_the_code(client, agent):
    objects = graph()
    code = objects["code"]
    url = reverse("admin:fulfillment_redemption_reveal", args=[objects["delivered"].pk, code.pk])
    client.force_login(agent)
    page = client.get(change_url(objects["delivered"])).content.decode()
    assert code.masked in page
    assert url not in page
    assert client.post(url).status_code == 403
    assert not CodeReveal.objects.exists()

    # Seeing that codes exist is not enough to read them.
    client.force_login(staff_with(*WORK, "fulfillment.view_deliveredcode"))
    assert client.post(url).status_code == 403
    client.force_login(staff_with(*WORK, "fulfillment.reveal_code"))
    assert url in client.get(change_url(objects["delivered"])).content.decode()
    assert code.code in client.post(url).content.decode()
    assert CodeReveal.objects.count() == 1


def test_a_code_of_another_redemption_is_not_found_through_this_one(admin_client):
    objects = graph()
    url = reverse(
        "admin:fulfillment_redemption_reveal", args=[objects["failing"].pk, objects["code"].pk]
    )
    assert admin_client.post(url).status_code == 404
    assert not CodeReveal.objects.exists()


# -- actions ---------------------------------------------------------------------------------


def post_action(client, action: str, redemptions, **data):
    return client.post(
        REDEMPTIONS,
        {
            "action": action,
            "_selected_action": [r.pk for r in redemptions],
            "apply": "1",
            **data,
        },
        follow=True,
    )


def test_cancel_and_refund_asks_a_reason_then_cancels_with_the_user(agent_client, agent):
    objects = graph()
    failing, unknown = objects["failing"], objects["unknown"]

    asked = agent_client.post(
        REDEMPTIONS, {"action": "cancel_and_refund", "_selected_action": [failing.pk]}
    )
    assert b'name="reason"' in asked.content
    assert Redemption.objects.get(pk=failing.pk).status == "failed"

    response = post_action(
        agent_client, "cancel_and_refund", [failing, unknown], reason="member asked"
    )

    messages = [str(m) for m in response.context["messages"]]
    assert any("cancelled, points given back" in m for m in messages)
    assert any("not said whether" in m for m in messages)  # the unknown one is refused
    failing.refresh_from_db()
    assert failing.status == "cancelled"
    event = failing.events.get(to_value="cancelled")
    assert (event.source, event.actor) == ("staff", agent)
    assert (event.actor_label, event.api_key) == (agent.get_username(), None)
    assert "member asked" in event.note
    assert Redemption.objects.get(pk=unknown.pk).status == "pending"


def test_fail_over_and_retry_now_from_the_list(agent_client, agent):
    objects = graph()
    failing = objects["failing"]
    post_action(agent_client, "retry_now", [failing])
    assert order_of(failing).next_try_at <= timezone.now()
    assert failing.events.filter(to_value="retry_now", actor=agent).exists()

    post_action(agent_client, "fail_over", [failing], reason="flaky all day")

    failing.refresh_from_db()
    assert failing.status == "refunded"  # both offers tried
    assert failing.events.get(to_value="refunded").actor == agent


def test_actions_from_a_redemption_page(agent_client, agent):
    objects = graph()
    failing = objects["failing"]
    page = agent_client.get(change_url(failing)).content.decode()
    assert act_url(failing, "cancel_and_refund") in page
    assert (
        act_url(objects["delivered"], "retry_now")
        not in agent_client.get(change_url(objects["delivered"])).content.decode()
    )

    response = agent_client.post(
        act_url(failing, "cancel_and_refund"), {"apply": "1", "reason": "duplicate"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(failing)
    assert Redemption.objects.get(pk=failing.pk).status == "cancelled"


def test_mark_delivered_takes_codes_or_tracking_for_manual_orders(agent_client, agent):
    objects = graph()
    by_hand = objects["by_hand"]
    url = act_url(by_hand, "mark_delivered")
    empty = agent_client.post(url, {"apply": "1", "codes": ""})
    assert b"Give the code(s), the tracking, or both." in empty.content
    wrong = agent_client.post(url, {"apply": "1", "codes": "A\nB"})
    assert b"One code per unit" in wrong.content

    response = agent_client.post(
        url,
        {
            "apply": "1",
            "codes": "HAND-CODE-7777 | 4321",
            "carrier": "DHL",
            "tracking_number": "JD42",
        },
    )

    assert response.status_code == 302
    by_hand.refresh_from_db()
    assert (by_hand.status, by_hand.delivery_status) == ("delivered", "shipped")
    code = DeliveredCode.objects.get(redemption=by_hand)
    assert (code.code, code.pin) == ("HAND-CODE-7777", "4321")
    assert by_hand.events.get(field="delivery").actor == agent
    shipment = Shipment.objects.get(redemption=by_hand)
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == (
        "DHL",
        "JD42",
        "shipped",
    )
    page = agent_client.get(change_url(by_hand)).content.decode()
    assert "HAND-CODE-7777" not in page
    assert "JD42" in page  # the shipment, on the redemption's page


def test_mark_delivered_refuses_sandbox_orders(agent_client):
    objects = graph()
    response = post_action(agent_client, "mark_delivered", [objects["failing"]], codes="X")
    assert any(
        "no submitted order of a manual supplier" in str(m) for m in response.context["messages"]
    )


# -- query counts ----------------------------------------------------------------------------


def many(count: int, merchant, reward) -> None:
    for _ in range(count):
        redeem(merchant, reward)


@pytest.mark.parametrize(("who", "queries"), [("superuser", 7), ("staff", 9)])
def test_redemption_list_query_count_does_not_grow_with_rows(
    who, queries, admin_client, agent_client, django_assert_max_num_queries
):
    # Session, user (and a staff user's two permission queries), the supplier, country
    # and merchant filters, the count and the page (suppliers are annotated, not fetched).
    client = admin_client if who == "superuser" else agent_client
    merchant, reward = shop(sandbox("good"))
    member_make(merchant, "cust-2", points=POINTS, country="US")
    many(3, merchant, reward)
    client.get(REDEMPTIONS)
    with django_assert_max_num_queries(queries):
        assert client.get(REDEMPTIONS).status_code == 200
    many(30, merchant, reward)
    with django_assert_max_num_queries(queries):
        assert client.get(REDEMPTIONS, {"queue": "manual"}).status_code == 200
    with django_assert_max_num_queries(queries):
        response = client.get(REDEMPTIONS)
    assert response.status_code == 200
    assert response.content.count(b'name="_selected_action"') == 33


def test_redemption_page_query_count_does_not_grow_with_history(
    admin_client, django_assert_max_num_queries
):
    merchant, reward = shop(sandbox("flaky", failure_rate=1, terminal_share=0))
    redemption = redeem(merchant, reward)
    now = timezone.now()
    dispatch.process_due(now=now)
    url = change_url(redemption)
    admin_client.get(url)
    # The page's own 13, and one capped count per list of related records it links to.
    with django_assert_max_num_queries(13 + len(RedemptionAdmin.related) + 1) as before:
        admin_client.get(url)
    for _ in range(3):
        now = order_of(redemption).next_try_at
        dispatch.process_due(now=now)
    assert redemption.events.count() >= 2
    with django_assert_max_num_queries(len(before)):
        assert admin_client.get(url).status_code == 200


def test_supplier_order_list_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    merchant, reward = shop(sandbox("good"))
    many(3, merchant, reward)
    admin_client.get(ORDERS)
    with django_assert_max_num_queries(7) as before:
        admin_client.get(ORDERS)
    many(20, merchant, reward)
    with django_assert_max_num_queries(len(before)):
        response = admin_client.get(ORDERS)
    assert response.content.count(b'name="_selected_action"') == 0  # read-only: no actions
    assert response.content.count(b"rdm-") >= 23


# -- supplier health -------------------------------------------------------------------------


def test_health_page_shows_each_supplier_and_activates_a_paused_one(
    client, django_assert_max_num_queries
):
    good, flaky = sandbox("good"), sandbox("flaky", failure_rate=1, terminal_share=1)
    merchant, reward = shop(good)
    many(2, merchant, reward)
    dispatch.process_due(now=timezone.now())
    other, other_reward = shop(flaky, member="o-1")
    redeem(other, other_reward, member="o-1")
    dispatch.process_due(now=timezone.now())  # refused, nothing else: refunded
    Supplier.objects.filter(pk=flaky.pk).update(is_active=False)
    alert_raise(kind=AlertKind.SUPPLIER_PAUSED, subject=f"supplier:{flaky.pk}", message="x")
    manager = staff_with(*WORK, "fulfillment.resume_supplier")
    client.force_login(manager)
    client.get(HEALTH)  # the sidebar's badges are counted once a minute, not per page

    # Session, user, two permission queries, suppliers, counts, delivery times.
    with django_assert_max_num_queries(7):
        page = client.get(HEALTH).content.decode()

    good_row = page.split('class="supplier-good"')[1].split("</tr>")[0]
    assert [cell.split("</td>")[0] for cell in good_row.split("<td>")[3:10]] == [
        "2",
        "2",
        "0",
        "100 %",
        "0 s",
        "0",
        "Active",
    ]
    flaky_row = page.split('class="supplier-flaky"')[1].split("</tr>")[0]
    assert "Paused" in flaky_row
    assert "0 %" in flaky_row
    assert "Activate again" in flaky_row

    response = client.post(
        reverse("admin:fulfillment_supplierorder_activate", args=[flaky.pk]), follow=True
    )

    assert response.status_code == 200
    assert Supplier.objects.get(pk=flaky.pk).is_active
    assert CatalogAlert.objects.get().resolved_by == manager
    assert "Activate again" not in client.get(HEALTH).content.decode()


@pytest.mark.parametrize("extra", [(), ("catalog.change_supplier",)])
def test_only_staff_who_may_resume_suppliers_activate_one(client, extra):
    paused = sandbox("down")
    Supplier.objects.filter(pk=paused.pk).update(is_active=False)
    client.force_login(staff_with(*WORK, *extra))
    assert "Activate again" not in client.get(HEALTH).content.decode()
    url = reverse("admin:fulfillment_supplierorder_activate", args=[paused.pk])
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 405
    assert not Supplier.objects.get(pk=paused.pk).is_active


def test_health_numbers_cover_the_last_day_only():
    from fulfillment.admin.supplier_orders import supplier_health

    merchant, reward = shop(sandbox("good"))
    many(2, merchant, reward)
    dispatch.process_due(now=timezone.now())
    (row,) = supplier_health(now=timezone.now() + datetime.timedelta(hours=25))
    assert (row.orders, row.delivered, row.open_orders, row.success_rate) == (0, 0, 0, "-")
    (row,) = supplier_health(now=timezone.now())
    assert (row.orders, row.delivered) == (2, 2)
    assert json.dumps(row.median)  # a label, never a float
