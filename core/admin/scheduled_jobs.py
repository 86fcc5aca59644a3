"""The scheduled jobs' admin (django-celery-beat's, re-registered by ``config``): each job's
last run as columns of the list, and Run now, from the list (the library's "Run selected
tasks" action, replaced) and from the job's page.

Run now queues the job as beat would, with the staff user recorded as who started it
(``core.job_runs.job_run_now``), then opens the run. It needs the right to change the
scheduled job, like every other action on it: the site refuses the list's action without
it, and the page action checks it itself (unfold's ``@action(permissions=...)``)."""

import datetime
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import DurationField, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError
from unfold.decorators import action, display

from core.actors import Actor
from core.admin.job_runs import OUTCOME_COLOURS, duration_words, moment_words, nowrap
from core.job_runs import UnknownTask, job_run_now
from core.models import JobOutcome, JobRun


def runs_list_url(job_name: str) -> str:
    return reverse("admin:core_jobrun_changelist") + "?" + urlencode({"job": job_name})


class RunNowAdmin:
    """Mixed in before ``django_celery_beat.admin.PeriodicTaskAdmin``."""

    list_display = (
        "name",
        "enabled",
        "scheduler",
        "last_run_outcome",
        "last_run_started",
        "last_run_took",
    )
    actions_detail = ["run_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PeriodicTask]:
        # The last run of each job in the list's one query: a subquery a column, each on
        # the runs' (job_name, -id) index.
        runs = JobRun.objects.filter(job_name=OuterRef("name")).order_by("-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_run_outcome_value=Subquery(runs.values("outcome")[:1]),
                last_run_began_at=Subquery(
                    runs.values(began=Coalesce("started_at", "queued_at", "created_at"))[:1]
                ),
                last_run_duration=Subquery(
                    runs.values(
                        took=F("finished_at") - F("started_at"),
                    )[:1],
                    output_field=DurationField(),
                ),
            )
        )

    @display(
        description="Last run",
        label={value: colour for value, colour in OUTCOME_COLOURS.items() if colour},
    )
    def last_run_outcome(self, job: PeriodicTask) -> tuple[str, str] | str:
        value = getattr(job, "last_run_outcome_value", None)
        if not value:
            return "Never run"
        return value, JobOutcome(value).label

    @display(description="Last started")
    def last_run_started(self, job: PeriodicTask) -> str:
        began: datetime.datetime | None = getattr(job, "last_run_began_at", None)
        if began is None:
            return ""
        return format_html(
            '<a href="{}" class="whitespace-nowrap">{}</a>',
            runs_list_url(job.name),
            moment_words(began),
        )

    @display(description="Took")
    def last_run_took(self, job: PeriodicTask) -> str:
        return nowrap(duration_words(getattr(job, "last_run_duration", None)))

    # -- Run now -----------------------------------------------------------------------------

    @admin.action(description="Run selected jobs now", permissions=["change"])
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> HttpResponse:
        started = [
            (job, task_id)
            for job in queryset.order_by("name")
            if (task_id := self._run(request, job)) is not None
        ]
        if len(started) == 1:
            return self._to_run(*started[0])
        return HttpResponseRedirect(reverse("admin:core_jobrun_changelist"))

    @action(description="Run now", permissions=["change"], url_path="run-now", icon="play_arrow")
    def run_now(self, request: HttpRequest, object_id: str) -> HttpResponse:
        job = get_object_or_404(PeriodicTask, pk=object_id)
        if request.method != "POST":
            # A link opens this page: nothing runs until its form is posted.
            return TemplateResponse(
                request,
                "admin/core/run_now_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": f"Run {job.name} now?",
                    "job": job,
                    "arguments": ", ".join(
                        text for text in (job.args, job.kwargs) if text not in ("", "[]", "{}")
                    ),
                },
            )
        task_id = self._run(request, job)
        if task_id is None:
            return HttpResponseRedirect(
                reverse("admin:django_celery_beat_periodictask_change", args=[job.pk])
            )
        return self._to_run(job, task_id)

    def _run(self, request: HttpRequest, job: PeriodicTask) -> str | None:
        try:
            task_id = job_run_now(periodic_task=job, actor=Actor.staff(request.user))
        except UnknownTask:
            self.message_user(request, f"{job.name}: no task is named {job.task}", messages.ERROR)
            return None
        except OperationalError as error:
            self.message_user(
                request, f"{job.name}: could not reach the queue ({error})", messages.ERROR
            )
            return None
        self.message_user(request, f"{job.name}: queued to run now.", messages.SUCCESS)
        return task_id

    def _to_run(self, job: PeriodicTask, task_id: str) -> HttpResponse:
        """The run's page, or the job's runs while its row is not written yet."""
        pk = JobRun.objects.filter(task_id=task_id).values_list("pk", flat=True).first()
        if pk is None:
            return HttpResponseRedirect(runs_list_url(job.name))
        return HttpResponseRedirect(reverse("admin:core_jobrun_change", args=[pk]))
