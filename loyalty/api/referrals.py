"""``GET /api/v1/members/{external_id}/referrals/``: a member's referral code and link,
the program's referral terms, and the friends they referred, by status, without any of
the friends' personal data (no id, name or address: a referral's own id and dates)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from core.money import money_text
from loyalty import selectors
from loyalty.api.views import MEMBER_ID
from loyalty.models import MemberStatus, ReferralStatus
from loyalty.referrals import selectors as referrals
from loyalty.referrals import services
from merchants.api.schema import problems
from merchants.api.views import MerchantAPIView

LISTED = 100


class ReferralTermsSerializer(serializers.Serializer):
    advocate_points = serializers.IntegerField(help_text="What the member earns per friend.")
    friend_points = serializers.IntegerField(help_text="What the friend earns.")
    min_order_total = serializers.CharField(
        help_text="The friend's first order counts from this total, in `currency`."
    )
    currency = serializers.CharField(help_text="The program's currency (ISO 4217).")
    pending_days = serializers.IntegerField(
        help_text="Days the first order must stand without a refund before both earn."
    )


class ReferralItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The referral's id (not the friend's).")
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    status_label = serializers.CharField()
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why it earns nothing (blocked, rejected, void); null otherwise. A flagged "
        "referral is being reviewed and says no more.",
    )
    created_at = serializers.DateTimeField(help_text="When the friend joined with the code.")
    qualifies_at = serializers.DateTimeField(
        allow_null=True, help_text="When both sides earn, once the first order is known."
    )
    decided_at = serializers.DateTimeField(allow_null=True, help_text="When it qualified or ended.")
    points_earned = serializers.IntegerField(help_text="What the member earned by it.")


class MemberReferralsSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True, help_text="Null for a member no longer active.")
    link = serializers.URLField(
        allow_null=True, help_text="The link to share: it leads to the store with `?ref=<code>`."
    )
    terms = ReferralTermsSerializer(
        allow_null=True, help_text="Null when the program takes no referrals."
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="The member's referrals in each status."
    )
    referrals = ReferralItemSerializer(many=True, help_text=f"The {LISTED} newest.")


def _item(referral) -> dict:
    entry = referral.advocate_entry
    return {
        "id": referral.pk,
        "status": referral.status,
        "status_label": referral.get_status_display(),
        "reason": referrals.referral_reason_words(referral),
        "created_at": referral.created_at,
        "qualifies_at": referral.qualifies_at,
        "decided_at": referral.decided_at,
        "points_earned": entry.points if entry is not None else 0,
    }


class MemberReferralsView(MerchantAPIView):
    @extend_schema(
        summary="A member's referral code, link and referrals",
        description="The code and link the member shares (made on the first call), what "
        "the program gives each side, how many referrals the member has in each status, "
        f"and the {LISTED} newest with their status and dates. No friend's personal data.",
        parameters=[MEMBER_ID],
        responses={200: MemberReferralsSerializer, **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        code = None
        if member.status == MemberStatus.ACTIVE:
            # The one write of this read: the member's code, made once, on first use.
            code = services.referral_code_get_or_create(member=member).code
        terms = services.referral_terms_get(merchant=self.merchant)
        body = {
            "code": code,
            "link": services.referral_link(code) if code else None,
            "terms": {
                "advocate_points": terms.advocate_points,
                "friend_points": terms.friend_points,
                "min_order_total": money_text(terms.min_order_total, terms.program.currency),
                "currency": terms.program.currency,
                "pending_days": terms.pending_days,
            }
            if terms is not None and terms.is_enabled
            else None,
            "counts": referrals.referral_counts(merchant=self.merchant, advocate=member),
            "referrals": [
                _item(referral)
                for referral in referrals.referral_list(
                    merchant=self.merchant, advocate=member, limit=LISTED
                )
            ],
        }
        return Response(MemberReferralsSerializer(body).data)
