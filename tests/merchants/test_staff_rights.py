"""Who may do what in the admin: one staff user per group, every changelist action and
every custom page of the admin site, through the test client.

``RIGHTS`` is the matrix: one row per action or page and the groups allowed. A row is
one request: ``action <app>.<model> <name>`` posts the action from the model's list (and
the list must offer it to exactly those groups); ``GET <url name>`` opens a custom page,
``POST <url name>`` submits it; ``:<name>`` is one of the named changes of a page that
makes several (``page_actions``). Allowed is a 200 or a redirect, refused a 403; anything
else fails. The rows are read against the site's registry, so a new action or page
without a row fails ``test_every_action_and_custom_page_has_a_row``.

"Care leads" is a user in Customer care and Care leads, as the README says leads are."""

import copy
import uuid
from decimal import Decimal
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import RequestFactory
from django.urls import URLPattern, reverse
from django_celery_beat.models import PeriodicTask

from catalog.alerts import alert_raise
from catalog.models import AlertKind, CodePool, Supplier
from config.admin import StaffRightsMixin
from core.actors import SYSTEM, Actor
from core.models import JobRun
from core.staff_groups import staff_groups_sync
from customercare import goodwill
from customercare.account_deletion import account_deletion_request
from customercare.models import CareSettings, GoodwillStatus, TicketAttachment, TicketCategory
from fulfillment.adapters.sandbox import sandbox_reset
from fulfillment.models import DeliveredCode
from integrations.models import InboxDelivery
from loyalty.models import LedgerEntry, MessageTemplate, Program, Segment
from loyalty.segments.services import segment_save
from merchants import invoices
from merchants.models import MembershipRole, MerchantMembership, Scope
from merchants.services.api_keys import api_key_issue
from merchants.services.stores import store_create
from tests.catalog.factories import (
    SupplierFactory,
    merchant_with_program,
    rate,
)
from tests.customercare.factories import agent_make, member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered, sandbox_offer
from tests.loyalty.campaigns.helpers import campaign_make
from tests.loyalty.factories import points_give
from tests.merchants.factories import (
    StaffFactory,
    UserFactory,
    billing_profile_make,
    fee_plan_make,
)
from tests.module_data import kept_for_the_module

pytestmark = pytest.mark.django_db

OPS = "Operations"
CATALOG = "Catalog"
FULFILLMENT = "Fulfillment"
CARE = "Customer care"
LEADS = "Care leads"
FINANCE = "Finance"
MARKETING = "Marketing"
GROUPS = {
    OPS: [OPS],
    CATALOG: [CATALOG],
    FULFILLMENT: [FULFILLMENT],
    CARE: [CARE],
    LEADS: [CARE, LEADS],
    FINANCE: [FINANCE],
    MARKETING: [MARKETING],
}
AGENTS = {CARE, LEADS}
NOBODY: set[str] = set()

RIGHTS: list[tuple[str, set[str]]] = [
    # -- merchants ------------------------------------------------------------------------
    ("action merchants.merchant transition_to_in_review", {OPS}),
    ("action merchants.merchant transition_to_approved", {OPS}),
    ("action merchants.merchant transition_to_rejected", {OPS}),
    ("action merchants.merchant transition_to_live", {OPS}),
    ("action merchants.merchant transition_to_suspended", {OPS}),
    ("action merchants.merchant transition_to_offboarded", {OPS}),
    ("action merchants.merchant tick_checklist", {OPS}),
    ("action merchants.merchant delete_selected", NOBODY),
    ("GET merchants_merchant_transition:in_review", {OPS}),
    ("POST merchants_merchant_transition:in_review", {OPS}),
    ("GET merchants_merchant_transition:approved", {OPS}),
    ("POST merchants_merchant_transition:approved", {OPS}),
    ("GET merchants_merchant_transition:rejected", {OPS}),
    ("POST merchants_merchant_transition:rejected", {OPS}),
    ("GET merchants_merchant_transition:live", {OPS}),
    ("POST merchants_merchant_transition:live", {OPS}),
    ("GET merchants_merchant_transition:suspended", {OPS}),
    ("POST merchants_merchant_transition:suspended", {OPS}),
    ("GET merchants_merchant_transition:offboarded", {OPS}),
    ("POST merchants_merchant_transition:offboarded", {OPS}),
    ("GET merchants_merchant_checklist", {OPS}),
    ("POST merchants_merchant_checklist", {OPS}),
    ("GET merchants_merchant_issue_key", {OPS}),
    ("POST merchants_merchant_issue_key", {OPS}),
    ("GET merchants_merchant_invite_portal_user", {OPS}),
    ("POST merchants_merchant_invite_portal_user", {OPS}),
    ("GET merchants_merchant_view_portal", {OPS, CARE, LEADS}),
    ("POST merchants_merchant_view_portal", {OPS, CARE, LEADS}),
    ("action merchants.store rotate_webhook_secret", {OPS}),
    ("action merchants.store delete_selected", NOBODY),
    ("action merchants.merchantapikey revoke", {OPS}),
    ("action merchants.merchantapikey delete_selected", NOBODY),
    ("action merchants.merchantevent delete_selected", NOBODY),
    ("action merchants.feeplan delete_selected", NOBODY),
    ("action merchants.merchantmembership delete_selected", {OPS}),
    ("action merchants.merchantmembership reset_second_factor", {OPS}),
    ("action merchants.usagerecord delete_selected", NOBODY),
    ("action merchants.webhookendpoint disable_endpoints", {OPS}),
    ("action merchants.webhookendpoint enable_endpoints", {OPS}),
    ("action merchants.webhookendpoint send_test_event", {OPS}),
    ("action merchants.webhookendpoint delete_selected", NOBODY),
    ("action merchants.webhookdelivery replay_deliveries", {OPS}),
    ("action merchants.webhookdelivery delete_selected", NOBODY),
    ("action merchants.invoice redraft", {FINANCE}),
    ("action merchants.invoice issue", {FINANCE}),
    ("action merchants.invoice record_payment", {FINANCE}),
    ("action merchants.invoice void", {FINANCE}),
    ("action merchants.invoice credit", {FINANCE}),
    ("action merchants.invoice export_csv", {FINANCE}),
    ("action merchants.invoice delete_selected", NOBODY),
    ("GET merchants_invoice_act:redraft", {FINANCE}),
    ("POST merchants_invoice_act:redraft", {FINANCE}),
    ("GET merchants_invoice_act:issue", {FINANCE}),
    ("POST merchants_invoice_act:issue", {FINANCE}),
    ("GET merchants_invoice_act:record_payment", {FINANCE}),
    ("POST merchants_invoice_act:record_payment", {FINANCE}),
    ("GET merchants_invoice_act:void", {FINANCE}),
    ("POST merchants_invoice_act:void", {FINANCE}),
    ("GET merchants_invoice_act:credit", {FINANCE}),
    ("POST merchants_invoice_act:credit", {FINANCE}),
    ("GET merchants_invoice_pdf", {FINANCE}),
    ("action merchants.billingprofile delete_selected", NOBODY),
    # -- loyalty --------------------------------------------------------------------------
    ("action loyalty.member adjust_points", {OPS}),
    ("action loyalty.member anonymise", {OPS, LEADS}),
    ("action loyalty.member delete_selected", NOBODY),
    ("action loyalty.memberattribute delete_selected", {OPS}),
    ("action loyalty.segment refresh_now", {OPS, MARKETING}),
    ("action loyalty.segment delete_selected", {MARKETING}),
    ("GET loyalty_segment_members_csv", {OPS, MARKETING}),
    ("action loyalty.campaign delete_selected", {MARKETING}),
    # An achievement ends by being switched off: its completions keep pointing at it.
    ("action loyalty.achievement delete_selected", NOBODY),
    ("action loyalty.achievementcompletion delete_selected", NOBODY),
    ("GET loyalty_campaign_move:scheduled", {OPS, MARKETING}),
    ("POST loyalty_campaign_move:scheduled", {OPS, MARKETING}),
    ("GET loyalty_campaign_move:running", {OPS, MARKETING}),
    ("POST loyalty_campaign_move:running", {OPS, MARKETING}),
    ("GET loyalty_campaign_move:paused", {OPS, MARKETING}),
    ("POST loyalty_campaign_move:paused", {OPS, MARKETING}),
    ("GET loyalty_campaign_move:draft", {OPS, MARKETING}),
    ("POST loyalty_campaign_move:draft", {OPS, MARKETING}),
    ("GET loyalty_campaign_move:ended", {OPS, MARKETING}),
    ("POST loyalty_campaign_move:ended", {OPS, MARKETING}),
    ("GET loyalty_campaign_report", {OPS, MARKETING}),
    ("GET loyalty_campaign_report_csv", {OPS, MARKETING}),
    ("action loyalty.messagetemplate delete_selected", {OPS, MARKETING}),
    ("action loyalty.membermessage delete_selected", NOBODY),
    ("GET loyalty_messagetemplate_preview", {OPS, MARKETING}),
    ("action loyalty.referral approve", {OPS}),
    ("action loyalty.referral reject", {OPS}),
    ("action loyalty.referral delete_selected", NOBODY),
    ("action loyalty.flaggedreferral approve", {OPS}),
    ("action loyalty.flaggedreferral reject", {OPS}),
    ("action loyalty.flaggedreferral delete_selected", NOBODY),
    ("action loyalty.referralterms delete_selected", NOBODY),
    ("GET loyalty_program_simulate", {OPS, MARKETING}),
    ("POST loyalty_program_simulate", {OPS, MARKETING}),
    ("GET loyalty_member_act:adjust_points", {OPS}),
    ("POST loyalty_member_act:adjust_points", {OPS}),
    ("GET loyalty_member_act:anonymise", {OPS, LEADS}),
    ("POST loyalty_member_act:anonymise", {OPS, LEADS}),
    ("GET loyalty_member_export", {OPS}),
    ("POST loyalty_member_export", {OPS}),
    ("GET loyalty_member_import", {OPS}),
    ("POST loyalty_member_import", {OPS}),
    ("POST loyalty_member_process_import", {OPS}),
    ("action loyalty.program delete_selected", NOBODY),
    ("action loyalty.ledgerentry delete_selected", NOBODY),
    ("action loyalty.order delete_selected", NOBODY),
    ("action loyalty.refund delete_selected", NOBODY),
    ("action loyalty.activity delete_selected", NOBODY),
    ("action loyalty.exchangerate delete_selected", NOBODY),
    ("GET loyalty_exchangerate_export", {OPS, CATALOG, FINANCE}),
    ("POST loyalty_exchangerate_export", {OPS, CATALOG, FINANCE}),
    ("GET loyalty_exchangerate_import", {CATALOG}),
    ("POST loyalty_exchangerate_import", {CATALOG}),
    ("POST loyalty_exchangerate_process_import", {CATALOG}),
    # -- catalog --------------------------------------------------------------------------
    ("action catalog.category delete_selected", NOBODY),
    ("GET catalog_category_export", {CATALOG}),
    ("POST catalog_category_export", {CATALOG}),
    ("GET catalog_category_import", {CATALOG}),
    ("POST catalog_category_import", {CATALOG}),
    ("POST catalog_category_process_import", {CATALOG}),
    ("action catalog.brand delete_selected", NOBODY),
    ("GET catalog_brand_export", {CATALOG, OPS, *AGENTS}),
    ("POST catalog_brand_export", {CATALOG, OPS, *AGENTS}),
    ("GET catalog_brand_import", {CATALOG}),
    ("POST catalog_brand_import", {CATALOG}),
    ("POST catalog_brand_process_import", {CATALOG}),
    ("action catalog.supplier delete_selected", NOBODY),
    ("action catalog.reward set_paused", {CATALOG}),
    ("action catalog.reward set_active", {CATALOG}),
    ("action catalog.reward set_retired", {CATALOG}),
    ("action catalog.reward delete_selected", NOBODY),
    ("GET catalog_reward_export", {CATALOG, OPS, *AGENTS, FINANCE}),
    ("POST catalog_reward_export", {CATALOG, OPS, *AGENTS, FINANCE}),
    ("GET catalog_reward_import", {CATALOG}),
    ("POST catalog_reward_import", {CATALOG}),
    ("POST catalog_reward_process_import", {CATALOG}),
    ("GET catalog_reward_simple_history", {CATALOG, OPS, *AGENTS, FINANCE}),
    ("POST catalog_reward_simple_history", NOBODY),
    ("action catalog.supplieroffer delete_selected", NOBODY),
    ("GET catalog_supplieroffer_export", {CATALOG, FINANCE}),
    ("POST catalog_supplieroffer_export", {CATALOG, FINANCE}),
    ("GET catalog_supplieroffer_import", {CATALOG}),
    ("POST catalog_supplieroffer_import", {CATALOG}),
    ("POST catalog_supplieroffer_process_import", {CATALOG}),
    ("GET catalog_supplieroffer_simple_history", {CATALOG, FINANCE}),
    ("POST catalog_supplieroffer_simple_history", NOBODY),
    ("action catalog.codepool delete_selected", NOBODY),
    ("action catalog.vouchercode delete_selected", NOBODY),
    ("action catalog.catalogalert mark_resolved", {CATALOG}),
    ("action catalog.catalogalert delete_selected", NOBODY),
    ("action catalog.merchantcatalogitem delete_selected", NOBODY),
    ("GET catalog_merchantcatalogitem_add_rewards", {CATALOG, OPS}),
    ("POST catalog_merchantcatalogitem_add_rewards", {CATALOG, OPS}),
    ("GET catalog_merchantcatalogitem_simple_history", {CATALOG, OPS, FINANCE}),
    ("POST catalog_merchantcatalogitem_simple_history", NOBODY),
    # -- fulfillment ----------------------------------------------------------------------
    ("action fulfillment.redemption retry_now", {FULFILLMENT}),
    ("action fulfillment.redemption fail_over", {FULFILLMENT}),
    ("action fulfillment.redemption cancel_and_refund", {FULFILLMENT}),
    ("action fulfillment.redemption mark_delivered", {FULFILLMENT}),
    ("action fulfillment.redemption resend_email", {FULFILLMENT}),
    ("action fulfillment.redemption add_tracking", {FULFILLMENT}),
    ("action fulfillment.redemption move_shipment", {FULFILLMENT}),
    ("action fulfillment.redemption delete_selected", NOBODY),
    ("GET fulfillment_redemption_act:retry_now", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:retry_now", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:fail_over", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:fail_over", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:cancel_and_refund", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:cancel_and_refund", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:mark_delivered", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:mark_delivered", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:resend_email", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:resend_email", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:add_tracking", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:add_tracking", {FULFILLMENT}),
    ("GET fulfillment_redemption_act:move_shipment", {FULFILLMENT}),
    ("POST fulfillment_redemption_act:move_shipment", {FULFILLMENT}),
    ("GET fulfillment_redemption_reveal", {FULFILLMENT}),
    ("POST fulfillment_redemption_reveal", {FULFILLMENT}),
    ("action fulfillment.shipment delete_selected", NOBODY),
    ("action fulfillment.supplierorder delete_selected", NOBODY),
    ("GET fulfillment_supplierorder_health", {FULFILLMENT, *AGENTS, FINANCE}),
    ("POST fulfillment_supplierorder_activate", {FULFILLMENT}),
    ("action fulfillment.codereveal delete_selected", NOBODY),
    # -- customer care --------------------------------------------------------------------
    ("action customercare.ticket take_selected", AGENTS),
    ("action customercare.ticket delete_selected", NOBODY),
    ("POST customercare_ticket_act:reply", AGENTS),
    ("POST customercare_ticket_act:note", AGENTS),
    ("POST customercare_ticket_act:status", AGENTS),
    ("POST customercare_ticket_act:priority", AGENTS),
    ("POST customercare_ticket_act:category", AGENTS),
    ("POST customercare_ticket_act:assign", AGENTS),
    ("POST customercare_ticket_act:take", AGENTS),
    ("POST customercare_ticket_act:merge", AGENTS),
    ("POST customercare_ticket_act:resend", AGENTS),
    ("POST customercare_ticket_act:goodwill", AGENTS),
    ("POST customercare_ticket_act:goodwill_approve", {LEADS}),
    ("POST customercare_ticket_act:goodwill_reject", {LEADS}),
    ("POST customercare_ticket_act:reissue", {LEADS}),
    ("GET customercare_ticket_attachment", {*AGENTS, OPS}),
    ("GET customercare_ticket_open", AGENTS),
    ("POST customercare_ticket_open", AGENTS),
    ("GET customercare_ticket_reports", {*AGENTS, OPS, FINANCE}),
    ("action customercare.goodwilladjustment approve_selected", {LEADS}),
    ("action customercare.goodwilladjustment reject_selected", {LEADS}),
    ("action customercare.goodwilladjustment delete_selected", NOBODY),
    ("GET customercare_goodwilladjustment_decide:approve", {LEADS}),
    ("POST customercare_goodwilladjustment_decide:approve", {LEADS}),
    ("GET customercare_goodwilladjustment_decide:reject", {LEADS}),
    ("POST customercare_goodwilladjustment_decide:reject", {LEADS}),
    ("action customercare.slapolicy delete_selected", NOBODY),
    ("action customercare.businesscalendar delete_selected", NOBODY),
    ("action customercare.agentprofile delete_selected", NOBODY),
    ("action customercare.caresettings delete_selected", NOBODY),
    ("action customercare.cannedreply delete_selected", NOBODY),
    ("action customercare.faqentry delete_selected", NOBODY),
    ("action customercare.programterms delete_selected", NOBODY),
    ("action customercare.accountdeletionrequest approve_selected", {OPS, LEADS}),
    ("action customercare.accountdeletionrequest reject_selected", {OPS, LEADS}),
    ("action customercare.accountdeletionrequest delete_selected", NOBODY),
    # -- store integrations -------------------------------------------------------------
    ("action integrations.inboxdelivery replay", {OPS}),
    ("action integrations.inboxdelivery delete_selected", NOBODY),
    ("GET integrations_inboxdelivery_act:replay", {OPS}),
    ("POST integrations_inboxdelivery_act:replay", {OPS}),
    ("GET integrations_inboxdelivery_connect", {OPS}),
    # -- admin sign-in lockouts: Operations unlock by deleting the attempt ---------------
    ("action axes.accessattempt delete_selected", {OPS}),
    ("action axes.accessattempt cleanup_expired_attempts", NOBODY),
    ("action axes.accesslog delete_selected", NOBODY),
    ("action axes.accessfailurelog delete_selected", NOBODY),
    # -- scheduled jobs (Operations), users and groups (superusers only) -----------------
    ("action django_celery_beat.periodictask enable_tasks", {OPS}),
    ("action django_celery_beat.periodictask disable_tasks", {OPS}),
    ("action django_celery_beat.periodictask toggle_tasks", {OPS}),
    ("action django_celery_beat.periodictask run_tasks", {OPS}),
    ("action django_celery_beat.periodictask delete_selected", NOBODY),
    ("action django_celery_beat.intervalschedule delete_selected", NOBODY),
    ("action django_celery_beat.crontabschedule delete_selected", NOBODY),
    ("action django_celery_beat.solarschedule delete_selected", NOBODY),
    ("action django_celery_beat.clockedschedule delete_selected", NOBODY),
    ("action auth.user delete_selected", NOBODY),
    ("action auth.user reset_second_factor", NOBODY),  # superusers only
    ("GET auth_user_password_change", NOBODY),
    ("POST auth_user_password_change", NOBODY),
    ("action auth.group delete_selected", NOBODY),
    # -- job runs: read by Operations, written by the task machinery alone; Run now -----
    ("action core.jobrun delete_selected", NOBODY),
    ("GET core_jobrun_state", {OPS}),
    ("GET django_celery_beat_periodictask_run_now", {OPS}),
    ("POST django_celery_beat_periodictask_run_now", {OPS}),
]

# The views every model admin has, whose rights are Django's own (view, add, change,
# delete of the model).
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


# -- the registry ----------------------------------------------------------------------------


def superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory.build(is_staff=True, is_superuser=True)
    return request


def registered_actions() -> set[str]:
    """Every changelist action of every model admin: declared, and added per request."""
    request = superuser_request()
    names = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        declared = {name for _, name, _ in model_admin._get_base_actions()}
        for name in declared | set(model_admin.get_actions(request)):
            names.add(f"action {label} {name}")
    return names


def custom_pages() -> set[str]:
    """Every URL an admin adds beyond Django's own views, one per named change for a page
    that makes several (its admin's ``page_actions``)."""
    pages = set()
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue  # the redirect of an old-style change URL
            if pattern.name.removeprefix(prefix) in STANDARD_VIEWS:
                continue
            if "<str:" in str(pattern.pattern):
                pages.update(f"{pattern.name}:{name}" for name in model_admin.page_actions)
            else:
                pages.add(pattern.name)
    return pages


def row_target(row: str) -> str:
    return row if row.startswith("action ") else row.split(" ", 1)[1]


def test_every_action_and_custom_page_has_a_row():
    names = [name for name, _ in RIGHTS]
    assert len(names) == len(set(names)), "a row is listed twice"
    targets = {row_target(name) for name in names}
    registered = registered_actions() | custom_pages()
    assert sorted(registered - targets) == [], "actions or pages with no row in RIGHTS"
    assert sorted(targets - registered) == [], "rows of actions or pages that do not exist"
    assert all(groups <= set(GROUPS) for _, groups in RIGHTS)


def test_every_admin_on_the_site_refuses_actions_its_user_may_not_run():
    assert all(isinstance(ma, StaffRightsMixin) for ma in admin.site._registry.values())


# -- the objects the pages act on --------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
def shared_world(django_db_setup, django_db_blocker):
    """One of each thing an action or page works on, built once for the module's tests."""
    with kept_for_the_module(django_db_blocker):
        with django_db_blocker.unblock():
            built = build_world()
        yield built
    sandbox_reset()


@pytest.fixture
def world(shared_world, db):
    """The shared objects, this test's own copies."""
    return copy.deepcopy(shared_world)


def build_world() -> dict:
    staff_groups_sync()
    sandbox_reset()
    merchant, _ = merchant_with_program()
    CareSettings.objects.create(
        merchant=merchant, goodwill_approval_threshold=100, goodwill_max_per_30_days=5
    )
    store, _ = store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="shop.example.com", actor=SYSTEM
    )
    api_key, _ = api_key_issue(merchant=merchant, name="App", scopes=[Scope.READ], actor=SYSTEM)
    MerchantMembership.objects.create(
        merchant=merchant, user=UserFactory(), role=MembershipRole.ANALYST
    )
    rate("EUR", "USD", "1.1")
    fee_plan_make(merchant)
    billing_profile_make(merchant)
    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    member = member_of(merchant, 0)
    points_give(member, 10_000)
    offer = sandbox_offer(merchant)
    redemption = redemption_delivered(merchant, member, offer)
    CodePool.objects.create(offer=offer, face_value=Decimal("25"))
    paused = SupplierFactory(slug="down", is_active=False)
    alert_raise(kind=AlertKind.SUPPLIER_PAUSED, subject=f"supplier:{paused.pk}", message="down")

    ticket = ticket_open(
        member,
        category=TicketCategory.REWARD_NOT_RECEIVED,
        redemption=redemption,
        attachments=[SimpleUploadedFile("photo.png", PNG, "image/png")],
    )
    agent = agent_make(available=False)
    pending = goodwill.goodwill_request(
        ticket=ticket,
        points=500,
        reason="delivery_delay",
        note="Late",
        key=uuid.uuid4(),
        actor=Actor.staff(agent),
    )
    assert pending.status == GoodwillStatus.PENDING_APPROVAL
    leaving = member_of(merchant, 0, email="leaving@example.com")
    account_deletion_request(merchant=merchant, member=leaving, actor=Actor.member())
    return {
        "merchant": merchant,
        "invoice": invoice,
        "store": store,
        "api_key": api_key,
        "member": member,
        "reward": offer.reward,
        "offer": offer,
        "item": merchant.catalog_items.get(),
        "redemption": redemption,
        "code": DeliveredCode.objects.get(redemption=redemption),
        "paused": paused,
        "ticket": ticket,
        "attachment": TicketAttachment.objects.get(message__ticket=ticket),
        "goodwill": pending,
        "agent": agent,
        "heartbeat": PeriodicTask.objects.get(name="Worker heartbeat"),
        "segment": segment_save(
            segment=Segment(merchant=merchant, name="Everyone", definition={"groups": []}),
            actor=SYSTEM,
        ),
        "campaign": campaign_make(Program.objects.get(merchant=merchant, is_active=True)),
        "program": Program.objects.get(merchant=merchant, is_active=True),
        "message_template": MessageTemplate.objects.create(
            merchant=merchant, kind="points_expiring", locale="en", subject="Hi", body="Bye"
        ),
        "inbox": InboxDelivery.objects.create(
            merchant=merchant, store=store, platform="shopify", topic="x/y", delivery_id="1"
        ),
    }


def history_args(obj) -> list:
    return [obj.pk, obj.history.order_by("-history_id").first().history_id]


# What each page needs: the URL's arguments, and what a POST sends.
PAGES = {
    "merchants_merchant_transition": lambda w, name: ([w["merchant"].pk, name], {}),
    "merchants_merchant_checklist": lambda w, _: ([w["merchant"].pk], {}),
    "merchants_merchant_issue_key": lambda w, _: ([w["merchant"].pk], {}),
    "merchants_merchant_invite_portal_user": lambda w, _: (
        [w["merchant"].pk],
        {"email": "invited@example.com", "role": "analyst"},
    ),
    "merchants_merchant_view_portal": lambda w, _: ([w["merchant"].pk], {}),
    "merchants_invoice_act": lambda w, name: ([w["invoice"].pk, name], {}),
    "merchants_invoice_pdf": lambda w, _: ([w["invoice"].pk], {}),
    "catalog_reward_simple_history": lambda w, _: (history_args(w["reward"]), {}),
    "catalog_supplieroffer_simple_history": lambda w, _: (history_args(w["offer"]), {}),
    "catalog_merchantcatalogitem_simple_history": lambda w, _: (history_args(w["item"]), {}),
    "catalog_merchantcatalogitem_add_rewards": lambda w, _: ([], {}),
    "loyalty_segment_members_csv": lambda w, _: ([w["segment"].pk], {}),
    "loyalty_campaign_move": lambda w, name: ([w["campaign"].pk, name], {"reason": "checking"}),
    "loyalty_campaign_report": lambda w, _: ([w["campaign"].pk], {}),
    "loyalty_campaign_report_csv": lambda w, _: ([w["campaign"].pk], {}),
    "loyalty_messagetemplate_preview": lambda w, _: ([w["message_template"].pk], {}),
    "loyalty_program_simulate": lambda w, _: (
        [w["program"].pk],
        {
            "member": w["member"].external_id,
            "total": "20.00",
            "currency": "USD",
            "placed_at": "2026-11-20 10:00:00",
        },
    ),
    "loyalty_member_act": lambda w, name: ([w["member"].pk, name], {}),
    "fulfillment_redemption_act": lambda w, name: ([w["redemption"].pk, name], {}),
    "fulfillment_redemption_reveal": lambda w, _: ([w["redemption"].pk, w["code"].pk], {}),
    "fulfillment_supplierorder_health": lambda w, _: ([], {}),
    "fulfillment_supplierorder_activate": lambda w, _: ([w["paused"].pk], {}),
    "customercare_ticket_act": lambda w, name: (
        [w["ticket"].pk, name],
        {"adjustment": w["goodwill"].pk} if name == "goodwill_approve" else {},
    ),
    "customercare_ticket_attachment": lambda w, _: ([w["ticket"].pk, w["attachment"].pk], {}),
    "customercare_ticket_reports": lambda w, _: ([], {}),
    "customercare_ticket_open": lambda w, _: (
        [w["member"].pk],
        {"category": "other", "priority": "normal", "subject": "A call", "note": "On the phone"},
    ),
    "customercare_goodwilladjustment_decide": lambda w, name: ([w["goodwill"].pk, name], {}),
    "auth_user_password_change": lambda w, _: ([w["agent"].pk], {}),
    "integrations_inboxdelivery_act": lambda w, name: ([w["inbox"].pk, name], {}),
    "integrations_inboxdelivery_connect": lambda w, _: ([w["store"].pk], {}),
    "core_jobrun_state": lambda w, _: ([job_run_make().pk], {}),
    "django_celery_beat_periodictask_run_now": lambda w, _: ([w["heartbeat"].pk], {}),
}


def job_run_make() -> JobRun:
    """A run for the page that shows one (made inside the attempt, rolled back with it)."""
    return JobRun.objects.create(task_id=str(uuid.uuid4()), task_name="x", outcome="running")


IMPORT_EXPORT = ("_import", "_process_import", "_export")


def page_request(world: dict, target: str) -> tuple[str, dict]:
    url_name, _, name = target.partition(":")
    if url_name.endswith(IMPORT_EXPORT):
        return reverse(f"admin:{url_name}"), {}
    args, data = PAGES[url_name](world, name)
    return reverse(f"admin:{url_name}", args=args), data


def allowed(response, row: str) -> bool:
    assert response.status_code in (200, 302, 403), f"{row}: {response.status_code}"
    return response.status_code != 403


def selected_pk(model) -> int:
    return model._default_manager.order_by("pk").values_list("pk", flat=True).first() or 0


def attempt(client, world: dict, row: str) -> bool:
    """Make the row's request; whatever it changes is rolled back."""
    with transaction.atomic():
        if row.startswith("action "):
            _, label, name = row.split(" ")
            model = next(m for m in admin.site._registry if m._meta.label_lower == label)
            response = client.post(
                reverse(f"admin:{label.replace('.', '_')}_changelist"),
                {"action": name, "index": "0", "_selected_action": [selected_pk(model)]},
            )
        else:
            method, target = row.split(" ")
            url, data = page_request(world, target)
            response = client.get(url) if method == "GET" else client.post(url, data)
        transaction.set_rollback(True)
    return allowed(response, row)


def offered_actions(client, label: str) -> set[str] | None:
    """The actions the model's list offers the user (None: the list is closed to them)."""
    response = client.get(reverse(f"admin:{label.replace('.', '_')}_changelist"))
    if response.status_code == 403:
        return None
    assert response.status_code == 200, label
    form = response.context.get("action_form")
    if form is None:
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def staff_in_groups(group: str):
    user = StaffFactory(username=f"staff-{group.lower().replace(' ', '-')}")
    user.groups.add(*Group.objects.filter(name__in=GROUPS[group]))
    assert user.groups.count() == len(GROUPS[group])
    return user


@pytest.mark.parametrize("group", list(GROUPS))
def test_each_group_may_do_what_its_rows_say_and_nothing_else(client, world, group):
    client.force_login(staff_in_groups(group))
    expected = {row for row, groups in RIGHTS if group in groups}

    done = {row for row, _ in RIGHTS if attempt(client, world, row)}

    assert sorted(done - expected) == [], f"{group} may do what its rows do not allow"
    assert sorted(expected - done) == [], f"{group} is refused what its rows allow"


@pytest.mark.parametrize("group", list(GROUPS))
def test_each_list_offers_a_group_the_actions_of_its_rows_only(client, world, group):
    client.force_login(staff_in_groups(group))
    by_list: dict[str, set[str]] = {}
    for row, groups in RIGHTS:
        if row.startswith("action "):
            _, label, name = row.split(" ")
            if group in groups:
                by_list.setdefault(label, set()).add(name)
            else:
                by_list.setdefault(label, set())

    offered = {label: offered_actions(client, label) for label in by_list}

    for label, names in by_list.items():
        if offered[label] is None:
            assert names == set(), f"{group} may run actions of {label} but not open its list"
        else:
            assert offered[label] == names, label


def test_a_refused_action_is_refused_even_when_the_list_has_no_action_for_the_user(client, world):
    client.force_login(staff_in_groups(FINANCE))  # may read members, runs no action on them
    member = world["member"]
    entries = LedgerEntry.objects.filter(member=member).count()
    response = client.post(
        reverse("admin:loyalty_member_changelist"),
        {"action": "adjust_points", "_selected_action": [member.pk], "apply": "1", "points": "5"},
    )
    assert response.status_code == 403
    assert LedgerEntry.objects.filter(member=member).count() == entries


def test_pages_show_no_button_the_user_may_not_use(client, world):
    merchant, redemption = world["merchant"], world["redemption"]
    merchant_page = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    transition = reverse("admin:merchants_merchant_transition", args=[merchant.pk, "suspended"])
    issue_key = reverse("admin:merchants_merchant_issue_key", args=[merchant.pk])
    checklist = reverse("admin:merchants_merchant_checklist", args=[merchant.pk])
    client.force_login(staff_in_groups(FINANCE))
    page = client.get(merchant_page).content.decode()
    assert transition not in page
    assert issue_key not in page
    assert checklist not in page
    client.force_login(staff_in_groups(OPS))
    page = client.get(merchant_page).content.decode()
    assert transition in page
    assert issue_key in page
    assert checklist in page

    Supplier.objects.filter(pk=world["paused"].pk).update(is_active=False)
    health = reverse("admin:fulfillment_supplierorder_health")
    client.force_login(staff_in_groups(FINANCE))
    assert "Activate again" not in client.get(health).content.decode()
    client.force_login(staff_in_groups(FULFILLMENT))
    assert "Activate again" in client.get(health).content.decode()

    client.force_login(staff_in_groups(CARE))
    members = client.get(reverse("admin:loyalty_member_changelist")).content.decode()
    assert reverse("admin:loyalty_member_export") not in members
    assert reverse("admin:loyalty_member_import") not in members
    page = client.get(
        reverse("admin:fulfillment_redemption_change", args=[redemption.pk])
    ).content.decode()
    assert "/act/" not in page
    assert "/reveal/" not in page


# -- rights no group shows on its own ----------------------------------------------------------


def staff_with(*perms: str):
    user = StaffFactory()
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def test_editing_a_store_does_not_set_its_webhook_secret(client, world):
    store = world["store"]
    secret = store.webhook_secret
    client.force_login(staff_with("merchants.view_store", "merchants.change_store"))
    page = reverse("admin:merchants_store_change", args=[store.pk])
    merchant_page = reverse("admin:merchants_merchant_change", args=[world["merchant"].pk])
    assert "new_webhook_secret" not in client.get(page).content.decode()

    response = client.post(
        page,
        {
            "merchant": store.merchant_id,
            "name": "Renamed",
            "platform": store.platform,
            "domain": store.domain,
            "is_active": "on",
            "earn_on": "paid",
            "new_webhook_secret": "chosen-by-someone-who-may-not",
        },
    )

    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.name, store.webhook_secret) == ("Renamed", secret)
    client.force_login(
        staff_with("merchants.view_merchant", "merchants.change_merchant", "merchants.change_store")
    )
    assert "new_webhook_secret" not in client.get(merchant_page).content.decode()
    client.force_login(staff_in_groups(OPS))
    assert "new_webhook_secret" in client.get(page).content.decode()
    assert "new_webhook_secret" in client.get(merchant_page).content.decode()


def test_a_library_action_that_names_no_permission_needs_the_right_to_change(client, world):
    heartbeat = world["heartbeat"]
    client.force_login(staff_with("django_celery_beat.view_periodictask"))
    assert offered_actions(client, "django_celery_beat.periodictask") == set()

    response = client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "index": "0", "_selected_action": [heartbeat.pk]},
    )

    assert response.status_code == 403
    heartbeat.refresh_from_db()
    assert heartbeat.enabled


@pytest.mark.parametrize(
    ("migration", "function", "group", "dotted"),
    [
        (
            "fulfillment.migrations.0007_resume_supplier_permission",
            "fulfillment_stops_editing_suppliers",
            FULFILLMENT,
            "catalog.change_supplier",
        ),
        (
            "customercare.migrations.0002_staff_rights",
            "care_leads_stop_changing_care_settings",
            LEADS,
            "customercare.change_caresettings",
        ),
    ],
)
def test_upgrading_takes_back_what_a_group_no_longer_gets(migration, function, group, dotted):
    staff_groups_sync()
    app_label, codename = dotted.split(".")
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    before = Group.objects.get(name=group)
    before.permissions.add(permission)  # as the groups were set up before
    others = list(Group.objects.filter(permissions=permission).exclude(pk=before.pk))

    # The data step reads only the editor's connection.
    getattr(import_module(migration), function)(django_apps, SimpleNamespace(connection=connection))

    assert not before.permissions.filter(pk=permission.pk).exists()
    assert list(Group.objects.filter(permissions=permission)) == others
