"""Scheduled jobs: each app declares its own (``periodic_tasks`` on its AppConfig); they are
written to django-celery-beat's tables, where staff can retime or pause them in the admin."""

import json

from django.apps import apps
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def declared_periodic_tasks() -> list[dict]:
    return [
        spec
        for app_config in apps.get_app_configs()
        for spec in getattr(app_config, "periodic_tasks", [])
    ]


def _schedule(spec: dict, using: str) -> dict:
    if "interval_seconds" in spec:
        interval, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=spec["interval_seconds"], period=IntervalSchedule.SECONDS
        )
        return {"interval": interval}
    minute, hour, day_of_month, month_of_year, day_of_week = spec["crontab"].split()
    crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    return {"crontab": crontab}


def periodic_tasks_sync(*, using: str = "default", reset: bool = False) -> list[str]:
    """Create the declared jobs that are missing (all of them again with ``reset``).
    Returns the names written."""
    written = []
    for spec in declared_periodic_tasks():
        exists = PeriodicTask.objects.using(using).filter(name=spec["name"]).exists()
        if exists and not reset:
            continue
        defaults = {
            "task": spec["task"],
            "description": spec.get("description", ""),
            "kwargs": json.dumps(spec.get("kwargs", {})),
            "enabled": True,
            "interval": None,
            "crontab": None,
            **_schedule(spec, using),
        }
        PeriodicTask.objects.using(using).update_or_create(name=spec["name"], defaults=defaults)
        written.append(spec["name"])
    return written
