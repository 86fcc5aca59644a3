"""Staff rights on the admin's custom pages.

A custom page (a URL an admin adds with ``get_urls``) checks the permission of what it
does, never only ``change`` of the model it sits under. A page that makes one of several
named changes (``<pk>/act/<name>/``) lists them in the admin's ``page_actions``, each
with the one permission it needs: the page refuses a name it does not know (404) and a
user without the permission (403), and shows the buttons of those the user holds. The
site refuses changelist actions the same way (``config.admin``)."""

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

PageActions = Mapping[str, str]


def require(request: HttpRequest, *perms: str) -> None:
    """Refuse (403) a user who lacks any of ``perms``."""
    if not request.user.has_perms(perms):
        raise PermissionDenied


def page_action_allowed(page_actions: PageActions, request: HttpRequest, name: str) -> bool:
    permission = page_actions.get(name)
    return permission is not None and request.user.has_perm(permission)


def require_page_action(page_actions: PageActions, request: HttpRequest, name: str) -> None:
    if name not in page_actions:
        raise Http404
    require(request, page_actions[name])
