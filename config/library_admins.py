"""The libraries' models (staff users and groups, scheduled jobs, sign-in attempts) on the
ops site with the admin frame's classes: each library's own admin class, with django-unfold's
``ModelAdmin`` and forms mixed in so its pages look and behave like the rest."""

from allauth.mfa.models import Authenticator
from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from config import staff_mfa
from core.admin.scheduled_jobs import RunNowAdmin


class StaffUserAdmin(auth_admin.UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = [*auth_admin.UserAdmin.list_display, "second_factor"]
    actions = ["reset_second_factor"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
        return super().get_queryset(request).annotate(has_totp=Exists(totp))

    @admin.display(description="Second factor", boolean=False, ordering="has_totp")
    def second_factor(self, obj: User) -> str:
        return "on" if getattr(obj, "has_totp", False) else "off"

    def has_superuser_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    @admin.action(
        description="Reset the second factor of the selected users",
        permissions=["superuser"],
    )
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet) -> None:
        """For a colleague who lost their phone and recovery codes, after checking who asks:
        their authenticator and codes go, and (where required) they set up a new one at their
        next sign-in. Each reset is in the user's history (Django's admin log)."""
        if not self.has_superuser_permission(request):
            raise PermissionDenied
        done = 0
        for user in queryset.exclude(pk=request.user.pk):
            if staff_mfa.staff_second_factor_reset(user=user, actor=request.user):
                self.log_change(request, user, "Second factor reset")
                done += 1
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(
                request,
                "Your own second factor is not reset here: use Two-factor authentication in "
                "the account menu.",
                messages.WARNING,
            )
        self.message_user(request, f"{done} user(s) will set up a new second factor.")


class StaffGroupAdmin(auth_admin.GroupAdmin, ModelAdmin):
    pass


class PeriodicTaskAdmin(RunNowAdmin, beat_admin.PeriodicTaskAdmin, ModelAdmin):
    """Each job's last run in the list; Run now records the staff user (core's job runs)."""


class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin, ModelAdmin):
    pass


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin, ModelAdmin):
    pass


class SolarScheduleAdmin(beat_admin.SolarScheduleAdmin, ModelAdmin):
    pass


class IntervalScheduleAdmin(beat_admin.IntervalScheduleAdmin, ModelAdmin):
    pass


class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin, ModelAdmin):
    pass


class AccessLogAdmin(axes_admin.AccessLogAdmin, ModelAdmin):
    pass


class AccessFailureLogAdmin(axes_admin.AccessFailureLogAdmin, ModelAdmin):
    pass


ADMINS = {
    User: StaffUserAdmin,
    Group: StaffGroupAdmin,
    PeriodicTask: PeriodicTaskAdmin,
    ClockedSchedule: ClockedScheduleAdmin,
    CrontabSchedule: CrontabScheduleAdmin,
    SolarSchedule: SolarScheduleAdmin,
    IntervalSchedule: IntervalScheduleAdmin,
    AccessAttempt: AccessAttemptAdmin,
    AccessLog: AccessLogAdmin,
    AccessFailureLog: AccessFailureLogAdmin,
}


def register() -> None:
    for model, admin_class in ADMINS.items():
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, admin_class)
