"""The tabs of the admin's member page, the unified customer view.

Loyalty shows what it holds (points, orders, tiers, segments, achievements, referrals,
consents, history); the apps that build on it add theirs (redemptions, tickets) by
declaring ``member_tabs = "<app>.<module>.member_tabs"`` on their AppConfig, a function
returning their tabs: loyalty never imports them. A tab renders only when it is open
(``?tab=<key>``), so the page reads the tables of one tab at a time."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from core.hooks import app_hooks
from loyalty.models import Member

Context = Callable[[HttpRequest, Member], dict[str, Any]]


@dataclass(frozen=True)
class MemberTab:
    key: str
    title: str
    template: str  # a fragment rendered with ``context(request, member)`` and ``member``
    context: Context
    # The user needs one of these to see the tab; none: whoever may see the member.
    permissions: tuple[str, ...] = ()
    # Where the tab sits among the others (lower first).
    order: int = 100

    def allowed(self, request: HttpRequest) -> bool:
        return not self.permissions or any(request.user.has_perm(p) for p in self.permissions)


@dataclass(frozen=True)
class MemberAction:
    """A button at the top of the member page: a page of its own that asks, then acts."""

    title: str
    url: Callable[[Member], str]
    permission: str
    applies: Callable[[Member], bool] = lambda member: True


def other_apps_tabs() -> list[MemberTab]:
    return [tab for hook in app_hooks("member_tabs") for tab in hook()]


def other_apps_actions() -> list[MemberAction]:
    return [action for hook in app_hooks("member_actions") for action in hook()]
