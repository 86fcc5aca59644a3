"""The member portal's signed-in pages: home, history, ways to earn, achievements, refer a
friend, profile, and the language switch. Every page reads through ``request.member`` and
``request.merchant`` (``portals.member_session.member_page``): nothing here takes a member
or a merchant from the URL's query or a form."""

import datetime
from decimal import Decimal
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language_info, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import formatting
from core.i18n import supported_language
from fulfillment.models import Redemption
from loyalty.achievements.selectors import member_achievement_list
from loyalty.exceptions import NoActiveProgram
from loyalty.models import (
    Achievement,
    EarningRule,
    LedgerEntry,
    MessageKind,
    MessageOptOut,
    Referral,
    ReferralStatus,
)
from loyalty.models.ledger import LedgerEntryKind
from loyalty.program_config import program_config
from loyalty.referrals.services import referral_code_get_or_create, referral_link
from loyalty.selectors import campaigns_for_member, member_points_outlook
from loyalty.services.members import member_upsert
from loyalty.tier_progress import TierProgress, tier_progress
from portals.member_session import local_date, member_page, member_render, safe_next
from portals.views.member_rewards import affordable_cards, redemption_url
from portals.views.member_words import CampaignWords, campaign_words, entry_words, rule_words

HISTORY_PAGE_SIZE = 20
EXPIRY_HORIZON = datetime.timedelta(days=30)
# Achievements at least this far along count as "close" on the home page.
CLOSE_SHARE = Decimal("0.5")
# The campaigns "For you right now" shows on the home page; Ways to earn lists them all.
HOME_CAMPAIGNS = 3
# The rewards "You can get these now" shows on the home page.
HOME_REWARDS = 3
HISTORY_FILTERS = {
    "earned": Q(kind__in=[LedgerEntryKind.EARN, LedgerEntryKind.RELEASE]),
    "spent": Q(kind=LedgerEntryKind.REDEEM),
    "other": ~Q(kind__in=[LedgerEntryKind.EARN, LedgerEntryKind.RELEASE, LedgerEntryKind.REDEEM]),
}
# The messages a member may turn off from the profile, as the unsubscribe page names them.
PREFERENCE_KINDS = [
    (MessageKind.POINTS_EXPIRING, gettext_lazy("Reminders about expiring points")),
    (MessageKind.TIER_REACHED, gettext_lazy("Tier updates")),
    (MessageKind.ACHIEVEMENT_COMPLETED, gettext_lazy("Achievement news")),
    (MessageKind.REFERRAL_REWARDED, gettext_lazy("Referral rewards")),
]


def _campaigns(request: HttpRequest, now: datetime.datetime) -> list[CampaignWords]:
    """The campaigns the member is offered now, in their words (none for a control group's
    member: see ``campaigns_for_member``)."""
    program = request.program
    if program is None:
        return []
    return [
        campaign_words(
            campaign,
            points_name=program.points_name,
            currency=program.currency,
            tz=request.merchant.timezone,
        )
        for campaign in campaigns_for_member(
            merchant=request.merchant, member=request.member, now=now
        )
    ]


def _tier_progress(request: HttpRequest) -> TierProgress | None:
    # The storefront widget's reading of the tiers: one rule for both faces.
    merchant = request.merchant
    try:
        config = program_config(merchant_id=merchant.pk, version=merchant.config_version)
    except NoActiveProgram:
        return None
    return tier_progress(config=config, member=request.member, at=timezone.now())


@require_GET
@member_page
def member_home(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    member, now = request.member, timezone.now()
    outlook = member_points_outlook(
        merchant=request.merchant,
        member=member,
        now=now,
        horizon=EXPIRY_HORIZON,
        day=lambda moment: local_date(request, moment),
    )
    achievements = [
        status
        for status in member_achievement_list(merchant=request.merchant, member=member, now=now)
        if status.open_now
        and not status.done_for_now
        and status.progress.goal
        and status.progress.current >= status.progress.goal * CLOSE_SHARE
    ][:3]
    return member_render(
        request,
        "home.html",
        "home",
        pending=[{"date": day, "points": points} for day, points in outlook.pending],
        expiring_points=outlook.expiring_total,
        first_expiry=outlook.expiring[0][0] if outlook.expiring else None,
        progress=_tier_progress(request),
        achievements=achievements,
        campaigns=_campaigns(request, now)[:HOME_CAMPAIGNS],
        rewards=affordable_cards(request, limit=HOME_REWARDS),
    )


def _redemptions_of(request: HttpRequest, entries) -> dict[int, Redemption]:
    """The redemptions the page's spends and refunds were for, by entry id (one query)."""
    ids = [
        entry.pk
        for entry in entries
        if entry.kind in (LedgerEntryKind.REDEEM, LedgerEntryKind.REDEMPTION_REFUND)
    ]
    if not ids:
        return {}
    found: dict[int, Redemption] = {}
    for redemption in (
        Redemption.objects.filter(merchant=request.merchant, member=request.member)
        .filter(Q(spend_entry_id__in=ids) | Q(refund_entry_id__in=ids))
        .select_related("reward")
    ):
        found[redemption.spend_entry_id] = redemption
        if redemption.refund_entry_id:
            found[redemption.refund_entry_id] = redemption
    return found


def _achievements_of(request: HttpRequest, entries) -> dict[str, str]:
    """The names of the achievements the page's entries reward, by the entries'
    ``source_ref`` (the achievement's id; one query)."""
    ids = {
        entry.source_ref
        for entry in entries
        if entry.source_type == LedgerEntry.Source.ACHIEVEMENT and entry.source_ref.isdigit()
    }
    if not ids:
        return {}
    return {
        str(pk): name
        for pk, name in Achievement.objects.filter(
            merchant=request.merchant, pk__in=[int(one) for one in ids]
        ).values_list("pk", "name")
    }


@require_GET
@member_page
def member_history(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    shown = request.GET.get("show", "")
    entries = (
        LedgerEntry.objects.filter(merchant=request.merchant, member=request.member)
        .select_related("order", "activity")
        .order_by("-created_at", "-id")
    )
    if shown in HISTORY_FILTERS:
        entries = entries.filter(HISTORY_FILTERS[shown])
    else:
        shown = ""
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    points_name = request.program.points_name if request.program else ""
    rewards = _redemptions_of(request, page)
    achievements = _achievements_of(request, page)
    lines = []
    for entry in page:
        redemption = rewards.get(entry.pk)
        words = entry_words(
            entry,
            points_name=points_name,
            reward=redemption.reward.name if redemption else "",
            achievement=achievements.get(entry.source_ref, "")
            if entry.source_type == LedgerEntry.Source.ACHIEVEMENT
            else "",
        )
        url = redemption_url(request, redemption) if redemption else ""
        lines.append((words, local_date(request, entry.created_at), url))
    return member_render(
        request,
        "history.html",
        "history",
        page=page,
        lines=lines,
        shown=shown,
        filters=[
            ("", _("Everything")),
            ("earned", _("Earned")),
            ("spent", _("Spent")),
            ("other", _("Other changes")),
        ],
    )


@require_GET
@member_page
def member_earn(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    program, now = request.program, timezone.now()
    rules = []
    if program is not None:
        rules = [
            rule_words(rule, points_name=program.points_name, currency=program.currency)
            for rule in EarningRule.objects.filter(program=program, is_active=True, segment=None)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .order_by("priority", "pk")
        ]
    base = ""
    if program is not None and program.base_earn_rate:
        base = _("%(points)s %(name)s for every %(amount)s you spend") % {
            "points": formatting.number(program.base_earn_rate, places=0)
            if program.base_earn_rate == program.base_earn_rate.to_integral_value()
            else formatting.number(program.base_earn_rate, places=2),
            "name": program.points_name,
            "amount": formatting.money(1, program.currency),
        }
    return member_render(
        request, "earn.html", "earn", base=base, rules=rules, campaigns=_campaigns(request, now)
    )


@require_GET
@member_page
def member_achievements(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    statuses = member_achievement_list(
        merchant=request.merchant, member=request.member, now=timezone.now()
    )
    return member_render(request, "achievements.html", "achievements", statuses=statuses)


REFERRAL_WORDS = {
    ReferralStatus.PENDING: gettext_lazy("Waiting for your friend's first order"),
    ReferralStatus.FLAGGED: gettext_lazy("Being checked"),
    ReferralStatus.QUALIFIED: gettext_lazy("Rewarded"),
    ReferralStatus.BLOCKED: gettext_lazy("Did not qualify"),
    ReferralStatus.REJECTED: gettext_lazy("Did not qualify"),
    ReferralStatus.VOID: gettext_lazy("Did not qualify"),
}


@require_GET
@member_page
def member_refer(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    code = referral_code_get_or_create(member=request.member)
    link = referral_link(code)
    # The friend is never named: their status and the date only.
    referrals = [
        {"created_at": created_at, "status": REFERRAL_WORDS.get(status, "")}
        for created_at, status in Referral.objects.filter(
            merchant=request.merchant, advocate=request.member
        )
        .order_by("-created_at", "-pk")
        .values_list("created_at", "status")[:50]
    ]
    subject = _("A gift from %(merchant)s") % {"merchant": request.merchant.name}
    body = _("Join %(merchant)s's rewards program with my link: %(link)s") % {
        "merchant": request.merchant.name,
        "link": link,
    }
    mailto = f"mailto:?subject={quote(subject)}&body={quote(body)}"
    return member_render(
        request,
        "refer.html",
        "refer",
        code=code.code,
        link=link,
        mailto=mailto,
        referrals=referrals,
    )


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=120, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=120, required=False)
    locale = forms.ChoiceField(label=gettext_lazy("Language"), choices=())
    marketing_consent = forms.BooleanField(
        label=gettext_lazy("Send me news and offers by email"), required=False
    )
    messages = forms.MultipleChoiceField(
        label=gettext_lazy("Emails about my points"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=(),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["locale"].choices = [
            (code, _language_name(code)) for code, _name in settings.LANGUAGES
        ]
        self.fields["messages"].choices = [(str(k), label) for k, label in PREFERENCE_KINDS]


def _language_name(code: str) -> str:
    return get_language_info(code)["name_local"]


def _preferences_save(request: HttpRequest, wanted: set[str]) -> None:
    """Opt the member out of the kinds they unticked and back in to those they ticked."""
    member, merchant = request.member, request.merchant
    kinds = {str(kind) for kind, _label in PREFERENCE_KINDS}
    MessageOptOut.objects.filter(merchant=merchant, member=member, kind__in=kinds & wanted).delete()
    for kind in sorted(kinds - wanted):
        MessageOptOut.objects.get_or_create(
            merchant=merchant, member=member, kind=kind, defaults={"source": "portal"}
        )


@require_http_methods(["GET", "HEAD", "POST"])
@member_page
def member_profile(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    member = request.member
    opted_out = set(
        MessageOptOut.objects.filter(merchant=request.merchant, member=member).values_list(
            "kind", flat=True
        )
    )
    initial = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "locale": request.member_frame.language,
        "marketing_consent": member.marketing_consent,
        "messages": [str(k) for k, _label in PREFERENCE_KINDS if str(k) not in opted_out],
    }
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            member_upsert(
                merchant=request.merchant,
                external_id=member.external_id,
                fields={
                    "first_name": data["first_name"],
                    "last_name": data["last_name"],
                    "locale": data["locale"],
                    "marketing_consent": data["marketing_consent"],
                },
            )
            _preferences_save(request, set(data["messages"]))
            url = reverse("member:profile", kwargs={"merchant_slug": merchant_slug})
            return HttpResponseRedirect(url + "?saved=1")
        return member_render(request, "profile.html", "profile", form=form)
    form = ProfileForm(initial=initial)
    return member_render(
        request, "profile.html", "profile", form=form, saved=request.GET.get("saved") == "1"
    )


@require_POST
@member_page
def member_language(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """The header's language switch: the member's locale becomes the one chosen."""
    codes = {code for code, _name in settings.LANGUAGES}
    chosen = request.POST.get("language", "")
    if chosen in codes:
        member_upsert(
            merchant=request.merchant,
            external_id=request.member.external_id,
            fields={"locale": supported_language(chosen)},
        )
    return HttpResponseRedirect(safe_next(request, request.merchant, request.POST.get("next")))
