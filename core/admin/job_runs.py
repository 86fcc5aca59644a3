"""Job runs in the admin: every run of every task, newest first, read only.

The task machinery writes them (``core.job_runs``); staff filter by outcome, job and who
started it. A run's page shows its state and, while it runs, polls a small fragment every
two seconds with htmx (served by django-unfold's static files), so the progress moves in
place; without JavaScript the page shows the state it had when it loaded. The traceback
of a failed run is shown only to superusers and holders of ``core.view_jobrun_traceback``:
it can quote data the run was handling."""

import datetime
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats, timezone
from django.utils.html import format_html
from django_celery_beat.models import PeriodicTask
from unfold.admin import ModelAdmin
from unfold.decorators import display

from core.admin.readonly import NoWrites
from core.models import JobOutcome, JobRun, JobStarter

TRACEBACK_PERMISSION = "core.view_jobrun_traceback"
OUTCOME_COLOURS = {
    JobOutcome.QUEUED: "",
    JobOutcome.RUNNING: "info",
    JobOutcome.SUCCEEDED: "success",
    JobOutcome.FAILED: "danger",
    JobOutcome.RETRYING: "warning",
    JobOutcome.SKIPPED: "",
}
ERROR_COLUMN_CHARS = 60
# While a run's page is open and the run is not finished, its state is asked again this
# often (htmx ``every``).
POLL_SECONDS = 2
AD_HOC = "__ad_hoc__"


def duration_words(duration: datetime.timedelta | None) -> str:
    """Short and precise where it is short: 31 ms, 1.2 s, 12 s, 3 min 4 s, 2 h 5 min."""
    if duration is None:
        return ""
    seconds = max(duration.total_seconds(), 0)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def moment_words(moment: datetime.datetime | None) -> str:
    """A run's times to the second (runs a minute apart must read apart), in the reader's
    time zone, named: ``7 Dec 2026, 15:45:03 UTC``."""
    if moment is None:
        return ""
    return formats.date_format(timezone.localtime(moment), "j M Y, H:i:s T")


def nowrap(text: str) -> str:
    return format_html('<span class="whitespace-nowrap">{}</span>', text) if text else ""


def starter_words(run: JobRun) -> str:
    if run.started_by == JobStarter.STAFF:
        user = run.started_by_user
        return (user.get_full_name() or user.get_username()) if user else "Staff (removed)"
    return run.get_started_by_display()


def progress_words(run: JobRun) -> str:
    if run.progress_done is None:
        return ""
    if run.progress_total:
        return f"{run.progress_done:,} of {run.progress_total:,}"
    return f"{run.progress_done:,} done"


class JobNameFilter(admin.SimpleListFilter):
    """The scheduled jobs by name (from their own small table, not a scan of the runs),
    and the tasks no schedule started."""

    title = "job"
    parameter_name = "job"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = PeriodicTask.objects.order_by("name").values_list("name", flat=True)
        return [(name, name) for name in names] + [(AD_HOC, "Other tasks")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> QuerySet[JobRun]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(job_name="" if value == AD_HOC else value)


@admin.register(JobRun)
class JobRunAdmin(NoWrites, ModelAdmin):
    list_display = (
        "job",
        "started_by_whom",
        "started",
        "took",
        "outcome_label",
        "rows_touched",
        "progress",
        "error_first_line",
    )
    list_filter = ("outcome", JobNameFilter, "started_by")
    list_select_related = ("started_by_user",)
    # The table grows by the minute: never count it all.
    show_full_result_count = False
    search_fields = ("=task_id",)
    search_help_text = "A Celery task id, exactly."
    change_form_outer_before_template = "admin/core/jobrun/state.html"

    fieldsets = (
        (None, {"fields": ("job", "task_name", "task_id", "started_by_whom", "worker")}),
        (
            "When",
            {"fields": ("first_seen", "queued", "started_exactly", "finished", "retries")},
        ),
        ("What it did", {"fields": ("rows_touched", "summary", "error")}),
    )
    traceback_fieldset = ("Traceback", {"fields": ("traceback_text",)})

    def get_fieldsets(self, request: HttpRequest, obj: JobRun | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.traceback and may_read_traceback(request):
            return (*fieldsets, self.traceback_fieldset)
        return fieldsets

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/state/",
                self.admin_site.admin_view(self.state_view),
                name="core_jobrun_state",
            ),
            *super().get_urls(),
        ]

    def state_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The run's state alone: what its page polls while it runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(JobRun.objects.select_related("started_by_user"), pk=pk)
        return TemplateResponse(request, "admin/core/jobrun/state_fragment.html", state(run))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        extra = {**(extra_context or {}), **(state(run) if run is not None else {})}
        return super().change_view(request, object_id, form_url, extra)

    # -- the columns -----------------------------------------------------------------------

    @display(description="Job", ordering="job_name")
    def job(self, run: JobRun) -> str:
        return run.job_name or run.task_name

    @display(description="Started by", ordering="started_by")
    def started_by_whom(self, run: JobRun) -> str:
        return starter_words(run)

    @display(description="Started", ordering="id")
    def started(self, run: JobRun) -> str:
        return nowrap(moment_words(run.began_at))

    # The page's times, to the second like the list's.
    @display(description="First seen")
    def first_seen(self, run: JobRun) -> str | None:
        return moment_words(run.created_at) or None

    @display(description="Queued")
    def queued(self, run: JobRun) -> str | None:
        return moment_words(run.queued_at) or None

    @display(description="Started")
    def started_exactly(self, run: JobRun) -> str | None:
        return moment_words(run.started_at) or None

    @display(description="Finished")
    def finished(self, run: JobRun) -> str | None:
        return moment_words(run.finished_at) or None

    @display(description="Took")
    def took(self, run: JobRun) -> str:
        return nowrap(duration_words(run.duration))

    @display(
        description="Outcome",
        ordering="outcome",
        label={value: colour for value, colour in OUTCOME_COLOURS.items() if colour},
    )
    def outcome_label(self, run: JobRun) -> tuple[str, str]:
        return run.outcome, run.get_outcome_display()

    @display(description="Rows", ordering="rows")
    def rows_touched(self, run: JobRun) -> str:
        return "" if run.rows is None else f"{run.rows:,}"

    @display(description="Progress")
    def progress(self, run: JobRun) -> str:
        return "" if run.is_finished else nowrap(progress_words(run))

    @display(description="Error")
    def error_first_line(self, run: JobRun) -> str:
        if not run.error:
            return ""
        if len(run.error) <= ERROR_COLUMN_CHARS:
            return run.error
        short = run.error[: ERROR_COLUMN_CHARS - 1].rstrip() + "…"
        return format_html('<span title="{}">{}</span>', run.error, short)

    @display(description="Traceback")
    def traceback_text(self, run: JobRun) -> str:
        # Styled by core/job_runs.css, which the page's state box brings.
        return format_html('<pre class="job-run-traceback">{}</pre>', run.traceback)


def may_read_traceback(request: HttpRequest) -> bool:
    return request.user.is_superuser or request.user.has_perm(TRACEBACK_PERMISSION)


def state(run: JobRun) -> dict[str, Any]:
    """What the state box shows, on the page and in the fragment it polls."""
    running = not run.is_finished
    return {
        "run": run,
        "outcome_colour": OUTCOME_COLOURS.get(run.outcome, ""),
        "progress_text": progress_words(run),
        "took": duration_words(run.duration),
        "started_words": moment_words(run.started_at),
        "rows_text": "" if run.rows is None else f"{run.rows:,}",
        "started_by_words": starter_words(run),
        "poll_every": f"every {POLL_SECONDS}s" if running else "",
    }
