"""The provider's staff groups and the permissions each app gives them."""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured

STAFF_GROUPS = (
    "Operations",
    "Catalog",
    "Fulfillment",
    "Customer care",
    "Care leads",  # senior agents, on top of Customer care: approvals, reissues, erasure
    "Finance",
    "Marketing",  # segments and campaigns
)


def declared_group_permissions() -> dict[str, set[str]]:
    declared: dict[str, set[str]] = {name: set() for name in STAFF_GROUPS}
    for app_config in apps.get_app_configs():
        for group, perms in getattr(app_config, "staff_group_permissions", {}).items():
            if group not in declared:
                raise ImproperlyConfigured(f"{app_config.label} names unknown group {group!r}")
            declared[group].update(perms)
    return declared


def staff_groups_sync(*, using: str = "default") -> dict[str, int]:
    """Create the groups and add the declared permissions; permissions staff added by hand
    stay. Returns how many permissions each group was given now."""
    added: dict[str, int] = {}
    declared = declared_group_permissions()
    existing = _permissions_by_name(
        {dotted for perms in declared.values() for dotted in perms}, using
    )
    for name, perms in declared.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for dotted in sorted(perms):
            found = existing.get(dotted, [])
            if not found:
                raise ImproperlyConfigured(f"Unknown permission {dotted!r}")
            if len(found) > 1:
                raise Permission.MultipleObjectsReturned(
                    f"{dotted!r} names {len(found)} permissions"
                )
            wanted.append(found[0])
        have = set(group.permissions.values_list("pk", flat=True))
        new = [pk for pk in wanted if pk not in have]
        group.permissions.add(*new)
        added[name] = len(new)
    return added


def _permissions_by_name(dotted_names: set[str], using: str) -> dict[str, list[int]]:
    """The ids of the permissions named ``app_label.codename``, in one query (not one a
    name: a sync runs after every migrate)."""
    labels = {dotted.split(".", 1)[0] for dotted in dotted_names}
    codenames = {dotted.split(".", 1)[1] for dotted in dotted_names}
    found: dict[str, list[int]] = {}
    candidates = Permission.objects.using(using).filter(
        content_type__app_label__in=labels, codename__in=codenames
    )
    for pk, app_label, codename in candidates.order_by("pk").values_list(
        "pk", "content_type__app_label", "codename"
    ):
        dotted = f"{app_label}.{codename}"
        if dotted in dotted_names:
            found.setdefault(dotted, []).append(pk)
    return found
