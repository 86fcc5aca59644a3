from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants"

    # Each app may declare the permissions its models give the provider's staff groups
    # (``staff_group_permissions``) and its scheduled jobs (``periodic_tasks``); the sync
    # functions in merchants.staff_groups and merchants.schedules read them from every app.
    staff_group_permissions = {
        "Operations": [
            "merchants.add_merchant",
            "merchants.change_merchant",
            "merchants.view_merchant",
            "merchants.transition_merchant",
            "merchants.view_merchantevent",
            "merchants.view_onboardingchecklistitem",
            "merchants.change_onboardingchecklistitem",
            "merchants.add_store",
            "merchants.change_store",
            "merchants.view_store",
            "merchants.set_webhook_secret",
            "merchants.add_merchantapikey",
            "merchants.change_merchantapikey",
            "merchants.view_merchantapikey",
            "merchants.add_merchantmembership",
            "merchants.change_merchantmembership",
            "merchants.delete_merchantmembership",
            "merchants.view_merchantmembership",
            "merchants.add_feeplan",
            "merchants.view_feeplan",
            "django_celery_beat.view_periodictask",
            "django_celery_beat.change_periodictask",
            # Admin sign-in lockouts: see them, and unlock by deleting the attempt row.
            "axes.view_accessattempt",
            "axes.delete_accessattempt",
            "axes.view_accessfailurelog",
            "axes.view_accesslog",
        ],
        "Catalog": ["merchants.view_merchant"],
        "Fulfillment": ["merchants.view_merchant"],
        "Customer care": ["merchants.view_merchant", "merchants.view_store"],
        "Finance": [
            "merchants.view_merchant",
            "merchants.view_merchantevent",
            "merchants.add_feeplan",
            "merchants.view_feeplan",
            "merchants.view_usagerecord",
        ],
    }
    periodic_tasks = [
        {
            "name": "Worker heartbeat",
            "task": "merchants.record_worker_heartbeat",
            "interval_seconds": 60,
            "description": "Lets /healthz report whether a worker and beat are running.",
        },
        {
            "name": "Purge expired Idempotency-Key records",
            "task": "merchants.purge_idempotency_records",
            "crontab": "17 3 * * *",
            "description": "Deletes stored API responses past IDEMPOTENCY_KEY_TTL_HOURS.",
        },
    ]

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, dispatch_uid="merchants.after_migrate")


def _after_migrate(sender: AppConfig, using: str = "default", **kwargs) -> None:
    """Once the last app has migrated (every permission exists), create the staff groups and
    the scheduled jobs that are missing. Neither overwrites what staff changed in the admin."""
    from django.apps import apps

    # post_migrate is sent once per app that has models, in INSTALLED_APPS order.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return
    from merchants.schedules import periodic_tasks_sync
    from merchants.staff_groups import staff_groups_sync

    staff_groups_sync(using=using)
    periodic_tasks_sync(using=using)
