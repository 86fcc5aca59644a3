from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """What every app shares and none owns: domain errors, actors, hooks, money and
    currency, the API's error format, the admin toolkit, staff groups and scheduled jobs."""

    name = "core"
    verbose_name = "Core"

    staff_group_permissions = {
        # Operations run the scheduled jobs (Run now), so they read every run and, to
        # tell a supplier's outage from a bug, its traceback.
        "Operations": ["core.view_jobrun", "core.view_jobrun_traceback"],
    }
    ops_cards = "core.job_cards.CARDS"
    periodic_tasks = [
        {
            "name": "Prune job runs",
            "task": "core.prune_job_runs",
            "crontab": "50 3 * * *",
            "description": "Deletes the job runs older than JOB_RUNS_KEEP_DAYS.",
        },
        {
            "name": "Count the ops home's cards",
            "task": "core.snapshot_ops_cards",
            "crontab": "*/15 * * * *",
            "description": "Keeps each card's count of the day, for the week drawn under it.",
        },
    ]

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, dispatch_uid="core.after_migrate")
        from core import job_runs

        job_runs.connect()


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
