"""Who may open which merchant-portal page: the one table of roles.

An owner may do everything; an analyst reads reports and exports; support reads the
members pages. Every portal view names its roles (``portal_view(roles=...)``) from the
sets below, and the navigation shows a link only to the roles of its page, so a page and
its link cannot disagree. Owners must have an authenticator (TOTP) before any portal page
opens; the other roles may add one from their account page.
"""

from merchants.models import MembershipRole

OWNER = MembershipRole.OWNER.value
ANALYST = MembershipRole.ANALYST.value
SUPPORT = MembershipRole.SUPPORT.value

EVERYONE = frozenset({OWNER, ANALYST, SUPPORT})
# Members pages (read-only): everyone on the team.
MEMBERS = EVERYONE
# Reports, their CSV exports and the monthly PDF reports.
REPORTS = frozenset({OWNER, ANALYST})
# Top members by name: analysts and owners (support reads members one by one).
TOP = REPORTS
INVOICES = frozenset({OWNER})
# The nightly members CSV: every member's personal data at once.
MEMBER_EXPORTS = frozenset({OWNER})
TEAM = frozenset({OWNER})
# Webhook endpoints: their secrets sign what the merchant's systems trust.
WEBHOOKS = frozenset({OWNER})

# Roles that must sign in with a second factor (TOTP) before any portal page.
MFA_REQUIRED = frozenset({OWNER})


def mfa_required(role: str) -> bool:
    return role in MFA_REQUIRED
