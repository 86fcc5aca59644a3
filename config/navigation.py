"""The admin's sidebar, grouped by the work rather than by app.

Each section lists models (by their label) and the admin's own pages (by URL name). A
staff user sees an entry only when the admin lets them view it, and a section only when
it has an entry left; the plumbing section is for superusers alone. Every model on the
site sits in exactly one section (``tests/config/test_admin_frame.py`` holds it), so a new
admin never disappears from the sidebar."""

from dataclasses import dataclass
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class Entry:
    """A model's list (``target="loyalty.member"``) or an admin page (``target=":index"``,
    a URL name on the admin site after the colon)."""

    target: str
    icon: str
    title: str = ""
    # The model whose view right opens the page (a page's own entry), and its admin.
    rights_of: str = ""

    @property
    def is_page(self) -> bool:
        return self.target.startswith(":")


@dataclass(frozen=True)
class Section:
    title: str
    entries: tuple[Entry, ...]
    superusers_only: bool = False
    collapsible: bool = False


SECTIONS: tuple[Section, ...] = (
    Section(
        "Today",
        (
            Entry(":index", "space_dashboard", "Home"),
            Entry(
                ":fulfillment_supplierorder_health",
                "monitor_heart",
                "Supplier health",
                rights_of="fulfillment.supplierorder",
            ),
            Entry(
                ":customercare_ticket_reports",
                "insights",
                "Care reports",
                rights_of="customercare.ticket",
            ),
        ),
    ),
    Section(
        "Merchants",
        (
            Entry("merchants.merchant", "storefront"),
            Entry("merchants.store", "shopping_cart"),
            Entry("merchants.merchantmembership", "badge", "Portal users"),
            Entry("merchants.merchantapikey", "key"),
            Entry("merchants.feeplan", "sell"),
            Entry("merchants.billingprofile", "contact_mail"),
            Entry("merchants.invoice", "receipt_long"),
            Entry("merchants.usagerecord", "data_usage"),
            Entry("merchants.merchantevent", "history"),
        ),
    ),
    Section(
        "Programs and members",
        (
            Entry("loyalty.program", "loyalty"),
            Entry("loyalty.member", "group"),
            Entry("loyalty.order", "shopping_bag"),
            Entry("loyalty.refund", "undo"),
            Entry("loyalty.ledgerentry", "account_balance_wallet"),
            Entry("loyalty.activity", "bolt"),
            Entry("loyalty.memberattribute", "tune"),
            Entry("loyalty.segment", "filter_alt"),
            Entry("loyalty.campaign", "campaign"),
            Entry("loyalty.achievement", "emoji_events"),
            Entry("loyalty.achievementcompletion", "military_tech"),
            Entry("loyalty.referral", "share"),
            Entry("loyalty.flaggedreferral", "flag"),
            Entry("loyalty.referralterms", "gavel"),
            Entry("loyalty.messagetemplate", "mail"),
            Entry("loyalty.membermessage", "outgoing_mail"),
        ),
    ),
    Section(
        "Catalog",
        (
            Entry("catalog.brand", "label"),
            Entry("catalog.category", "category"),
            Entry("catalog.reward", "redeem"),
            Entry("catalog.merchantcatalogitem", "checklist", "Merchant selections"),
            Entry("catalog.supplieroffer", "local_offer"),
            Entry("loyalty.exchangerate", "currency_exchange"),
            Entry("catalog.catalogalert", "notification_important"),
        ),
    ),
    Section(
        "Fulfillment",
        (
            Entry("fulfillment.redemption", "card_giftcard"),
            Entry("fulfillment.shipment", "local_shipping"),
            Entry("fulfillment.supplierorder", "receipt"),
            Entry("catalog.supplier", "factory"),
            Entry("catalog.codepool", "inventory_2"),
            Entry("catalog.vouchercode", "confirmation_number"),
            Entry("fulfillment.codereveal", "visibility"),
        ),
    ),
    Section(
        "Care",
        (
            Entry("customercare.ticket", "support_agent"),
            Entry("customercare.goodwilladjustment", "volunteer_activism"),
            Entry("customercare.accountdeletionrequest", "person_remove"),
            Entry("customercare.cannedreply", "quickreply"),
            Entry("customercare.faqentry", "help"),
            Entry("customercare.programterms", "description"),
            Entry("customercare.slapolicy", "timer"),
            Entry("customercare.businesscalendar", "calendar_month"),
            Entry("customercare.agentprofile", "headset_mic"),
            Entry("customercare.caresettings", "settings"),
        ),
    ),
    Section(
        "Integrations",
        (
            Entry("integrations.inboxdelivery", "move_to_inbox"),
            Entry("merchants.webhookendpoint", "webhook"),
            Entry("merchants.webhookdelivery", "send"),
        ),
    ),
    Section(
        "Jobs",
        (
            Entry("django_celery_beat.periodictask", "schedule", "Scheduled jobs"),
            Entry("core.jobrun", "manage_history", "Job runs"),
        ),
    ),
    Section(
        "Staff and access",
        (
            Entry("auth.user", "person", "Staff users"),
            Entry("auth.group", "groups", "Staff groups"),
            Entry("axes.accessattempt", "lock_clock", "Failed sign-ins"),
            Entry("axes.accesslog", "login", "Sign-ins"),
            Entry("axes.accessfailurelog", "lock", "Sign-in failures"),
        ),
    ),
    Section(
        "Plumbing",
        (
            Entry("django_celery_beat.intervalschedule", "timelapse"),
            Entry("django_celery_beat.crontabschedule", "event_repeat"),
            Entry("django_celery_beat.solarschedule", "wb_twilight"),
            Entry("django_celery_beat.clockedschedule", "alarm"),
        ),
        superusers_only=True,
        collapsible=True,
    ),
)


def section_labels() -> dict[str, str]:
    """Every model label the sidebar lists, and the section it is in."""
    return {
        entry.target: section.title
        for section in SECTIONS
        for entry in section.entries
        if not entry.is_page
    }


def model_admin_for(site: AdminSite, label: str) -> Any:
    for model, model_admin in site._registry.items():
        if model._meta.label_lower == label:
            return model_admin
    return None


def _item(
    site: AdminSite, request: HttpRequest, entry: Entry, badges: dict[str, int]
) -> dict[str, Any] | None:
    model_admin = model_admin_for(site, entry.rights_of or entry.target)
    if entry.is_page:
        if entry.rights_of and not (
            model_admin and model_admin.has_view_or_change_permission(request)
        ):
            return None
        try:
            link = reverse(f"{site.name}{entry.target}")
        except NoReverseMatch:
            return None
        title = entry.title
    else:
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            return None
        meta = model_admin.model._meta
        link = reverse(f"{site.name}:{meta.app_label}_{meta.model_name}_changelist")
        plural = str(meta.verbose_name_plural)
        title = entry.title or plural[:1].upper() + plural[1:]
    index = reverse(f"{site.name}:index")
    active = request.path == link if link == index else request.path.startswith(link)
    return {
        "title": title,
        "icon": entry.icon,
        "link": link,
        "active": active,
        "has_permission": True,
        "badge": f"{badges[entry.target]:,}" if entry.target in badges else None,
        "badge_variant": "danger",
    }


def sidebar(site: AdminSite, request: HttpRequest, badges: dict[str, int]) -> list[dict[str, Any]]:
    """The sections this staff user sees, each with the entries they may open; an entry
    whose list holds work for a person carries its count (``badges``, by model label)."""
    groups = []
    for section in SECTIONS:
        if section.superusers_only and not request.user.is_superuser:
            continue
        items = [item for entry in section.entries if (item := _item(site, request, entry, badges))]
        if items:
            groups.append(
                {"title": section.title, "collapsible": section.collapsible, "items": items}
            )
    return groups
