"""Every task can be sent: Celery refuses to send one whose soft time limit is above its
hard limit (its own or the settings' default), so beat would never run it."""

from django.conf import settings

from config.celery import app


def test_no_task_has_a_soft_limit_above_its_hard_limit():
    app.loader.import_default_modules()
    wrong = []
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
        hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        if soft and hard and soft > hard:
            wrong.append(f"{name}: soft {soft} s above hard {hard} s")
    assert wrong == []
    assert "loyalty.refresh_segments" in app.tasks
