"""What a member's profile page says of their privacy requests: an archive ready to
download (and until when), one being made, when they may ask for another, a deletion
request waiting for ops. Reads only."""

import datetime
from dataclasses import dataclass

from babel import Locale
from babel.dates import format_date, format_time
from django import template
from django.utils import translation

from customercare.account_deletion import account_deletion_open
from customercare.member_data_requests import (
    member_data_export_latest,
    member_data_request_next_at,
)
from customercare.models import DataExportStatus, MemberDataExport
from loyalty.models import Member

register = template.Library()


@dataclass(frozen=True)
class PrivacyState:
    archive: MemberDataExport | None
    archive_expires: str
    archive_pending: bool
    # When the member may ask for another archive ("" when they may now), for their eyes.
    archive_next_at: str
    deletion_pending: bool


@register.simple_tag
def member_privacy(member: Member) -> PrivacyState:
    latest = member_data_export_latest(member=member)
    ready = latest if latest is not None and latest.status == DataExportStatus.READY else None
    locale = translation.to_locale(translation.get_language() or "en")
    expires = ""
    if ready is not None:
        expires = format_date(
            ready.expires_at.astimezone(member.merchant.timezone).date(),
            format="long",
            locale=locale,
        )
    next_at = member_data_request_next_at(member=member)
    return PrivacyState(
        archive=ready,
        archive_expires=expires,
        archive_pending=latest is not None and latest.status == DataExportStatus.REQUESTED,
        archive_next_at=member_data_request_next_text(next_at, member, locale),
        deletion_pending=account_deletion_open(merchant=member.merchant, member=member) is not None,
    )


def member_data_request_next_text(
    next_at: datetime.datetime | None, member: Member, locale: str
) -> str:
    """When the member may ask for their data again, in their language and the merchant's
    time zone; "" when they may now."""
    if next_at is None:
        return ""
    # Shown to the minute, rounded up: "from 10:43" must not be refused at 10:43:10.
    if next_at.second or next_at.microsecond:
        next_at = next_at.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    local = next_at.astimezone(member.merchant.timezone)
    where = Locale.parse(locale)
    time = f"{format_time(local, 'short', locale=where)} {local.tzname()}"
    return (
        where.datetime_formats["medium"]
        .replace("'", "")
        .replace("{0}", time)
        .replace("{1}", format_date(local.date(), "medium", locale=where))
    )
