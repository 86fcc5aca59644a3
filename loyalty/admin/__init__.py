"""Admin for programs, members (the unified customer view), the ledger, orders and rates,
and, from their own packages, achievements, campaigns, messages, referrals and segments."""

from loyalty.achievements import admin as achievements_admin
from loyalty.admin import ledger, members, programs, rates
from loyalty.admin.members import MemberAdmin
from loyalty.campaigns import admin as campaigns_admin
from loyalty.messages import admin as messages_admin
from loyalty.referrals import admin as referrals_admin
from loyalty.segments import admin as segments_admin

__all__ = [
    "MemberAdmin",
    "achievements_admin",
    "campaigns_admin",
    "ledger",
    "members",
    "messages_admin",
    "programs",
    "rates",
    "referrals_admin",
    "segments_admin",
]
