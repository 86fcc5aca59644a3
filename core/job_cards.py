"""The Jobs card of the ops home (``core.ops_cards``): the scheduled jobs whose last run
failed or that missed their time; the home lists every job under it."""

import datetime

from core.jobs import scheduled_job_status
from core.ops_cards import Card, Figure, count


def _failing(now: datetime.datetime) -> Figure:
    jobs = scheduled_job_status(now=now)
    failing = [job for job in jobs if job.needs_attention]
    return count(len(failing), note=f"of {len(jobs)} scheduled jobs")


CARDS = [
    Card(
        key="jobs.failing",
        section="Jobs",
        title="Jobs failed or overdue",
        meaning="Scheduled jobs whose last run failed, or that have not succeeded for two "
        "of their periods: open the job, read the error, then Run now.",
        figure=_failing,
        link="admin:django_celery_beat_periodictask_changelist",
        rights_of="django_celery_beat.periodictask",
        tone="danger",
        badge=True,
    ),
]
