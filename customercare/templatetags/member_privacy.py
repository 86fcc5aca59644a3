"""What a member's profile page says of their privacy requests: an archive ready to
download (and until when), one being made, a deletion request waiting for ops. Reads
only."""

from dataclasses import dataclass

from babel.dates import format_date
from django import template
from django.utils import translation

from customercare.account_deletion import account_deletion_open
from customercare.member_data_requests import member_data_export_latest
from customercare.models import DataExportStatus, MemberDataExport
from loyalty.models import Member

register = template.Library()


@dataclass(frozen=True)
class PrivacyState:
    archive: MemberDataExport | None
    archive_expires: str
    archive_pending: bool
    deletion_pending: bool


@register.simple_tag
def member_privacy(member: Member) -> PrivacyState:
    latest = member_data_export_latest(member=member)
    ready = latest if latest is not None and latest.status == DataExportStatus.READY else None
    expires = ""
    if ready is not None:
        expires = format_date(
            ready.expires_at.astimezone(member.merchant.timezone).date(),
            format="long",
            locale=translation.to_locale(translation.get_language() or "en"),
        )
    return PrivacyState(
        archive=ready,
        archive_expires=expires,
        archive_pending=latest is not None and latest.status == DataExportStatus.REQUESTED,
        deletion_pending=account_deletion_open(merchant=member.merchant, member=member) is not None,
    )
