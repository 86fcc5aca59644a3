"""Core's scheduled jobs run twice at once and then again (tests/jobs_twice.py), and the
list of jobs proven so is the list declared."""

import datetime
import importlib
import uuid

import pytest
from django.utils import timezone

from config.celery import app
from core.models import JobOutcome, JobRun, JobStarter, OpsCount
from core.schedules import declared_periodic_tasks
from core.tasks import prune_job_runs, snapshot_ops_cards
from tests.jobs_twice import COVERED, COVERED_ELSEWHERE, MODULES, covers, run, run_twice_at_once
from tests.merchants.factories import MerchantFactory


def test_every_declared_job_is_proven_safe_twice_at_once():
    for module in MODULES:
        importlib.import_module(module)
    declared = {spec["task"] for spec in declared_periodic_tasks()}

    assert COVERED.isdisjoint(COVERED_ELSEWHERE)
    assert COVERED | set(COVERED_ELSEWHERE) == declared
    for module in set(COVERED_ELSEWHERE.values()):
        assert importlib.util.find_spec(module) is not None, module


def test_every_declared_job_is_acknowledged_once_done_and_again_when_its_worker_dies():
    app.loader.import_default_modules()
    for spec in declared_periodic_tasks():
        task = app.tasks[spec["task"]]
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), spec["task"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@covers(prune_job_runs)
def test_prune_job_runs_twice_at_once_deletes_each_old_run_once(settings):
    settings.JOB_RUNS_KEEP_DAYS = 30
    now = timezone.now()
    old = [
        JobRun.objects.create(
            task_id=str(uuid.uuid4()),
            task_name="loyalty.expire_points",
            job_name="Expire points",
            outcome=JobOutcome.SUCCEEDED,
            started_by=JobStarter.BEAT,
            created_at=now - datetime.timedelta(days=31 + day),
        )
        for day in range(5)
    ]
    kept = JobRun.objects.create(
        task_id=str(uuid.uuid4()),
        task_name="loyalty.expire_points",
        job_name="Expire points",
        outcome=JobOutcome.SUCCEEDED,
        started_by=JobStarter.BEAT,
        created_at=now - datetime.timedelta(days=29),
    )

    deleted = run_twice_at_once(prune_job_runs)

    assert sum(deleted) == 5
    assert not JobRun.objects.filter(pk__in=[row.pk for row in old]).exists()
    assert JobRun.objects.filter(pk=kept.pk).exists()
    runs = set(JobRun.objects.values_list("pk", flat=True))
    assert run(prune_job_runs) == 0
    assert runs <= set(JobRun.objects.values_list("pk", flat=True))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@covers(snapshot_ops_cards)
def test_snapshot_ops_cards_twice_at_once_keeps_one_count_per_card():
    MerchantFactory(name="Applied Co", slug="applied-co")

    written = run_twice_at_once(snapshot_ops_cards)

    counts = set(OpsCount.objects.values_list("key", "day", "value"))
    assert written[0] == written[1] == len(counts) == OpsCount.objects.count() > 10
    assert [value for key, _day, value in counts if key == "merchants.review"] == [1]
    run(snapshot_ops_cards)
    assert set(OpsCount.objects.values_list("key", "day", "value")) == counts
