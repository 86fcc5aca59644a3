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
    for name, perms in declared_group_permissions().items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for dotted in sorted(perms):
            app_label, codename = dotted.split(".", 1)
            try:
                wanted.append(
                    Permission.objects.using(using).get(
                        content_type__app_label=app_label, codename=codename
                    )
                )
            except Permission.DoesNotExist:
                raise ImproperlyConfigured(f"Unknown permission {dotted!r}") from None
        have = set(group.permissions.values_list("pk", flat=True))
        new = [perm for perm in wanted if perm.pk not in have]
        group.permissions.add(*new)
        added[name] = len(new)
    return added
