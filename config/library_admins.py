"""The libraries' models (staff users and groups, scheduled jobs, sign-in attempts) on the
ops site with the admin frame's classes: each library's own admin class, with django-unfold's
``ModelAdmin`` and forms mixed in so its pages look and behave like the rest."""

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
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

from core.admin.scheduled_jobs import RunNowAdmin


class StaffUserAdmin(auth_admin.UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


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
