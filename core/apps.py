from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """What every app shares and none owns: domain errors, actors, hooks, money and
    currency, the API's error format, the admin toolkit, staff groups and scheduled jobs."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, dispatch_uid="core.after_migrate")


def _after_migrate(sender: AppConfig, using: str = "default", **kwargs) -> None:
    """Once the last app has migrated (every permission exists), create the staff groups and
    the scheduled jobs that are missing. Neither overwrites what staff changed in the admin."""
    from django.apps import apps

    # post_migrate is sent once per app that has models, in INSTALLED_APPS order.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return
    from core.schedules import periodic_tasks_sync
    from core.staff_groups import staff_groups_sync

    staff_groups_sync(using=using)
    periodic_tasks_sync(using=using)
