"""Members' privacy requests: their data archives, and their requests to delete their
account with the history of each (append-only)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import customercare.models.privacy
import customercare.models.tickets
from core.append_only import ACTOR_COLUMNS, append_only


class Migration(migrations.Migration):
    dependencies = [
        ("customercare", "0005_report_change_indexes"),
        ("loyalty", "0019_referrals_identity"),
        ("merchants", "0021_brand_sender"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountDeletionRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.CharField(blank=True, max_length=1000)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("done", "Done"),
                        ],
                        default="requested",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_note", models.CharField(blank=True, max_length=1000)),
                ("notify_email", models.EmailField(blank=True, max_length=254)),
                ("notify_locale", models.CharField(blank=True, max_length=10)),
                ("emailed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="loyalty.member",
                    ),
                ),
                (
                    "merchant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="AccountDeletionEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("from_status", models.CharField(blank=True, max_length=10)),
                ("to_status", models.CharField(max_length=10)),
                ("source", models.CharField(help_text="staff, member or system", max_length=10)),
                ("note", models.CharField(blank=True, max_length=1000)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "request",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="customercare.accountdeletionrequest",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="MemberDataExport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "token",
                    models.CharField(
                        default=customercare.models.privacy._export_token,
                        editable=False,
                        max_length=64,
                        unique=True,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("ready", "Ready"),
                            ("expired", "Expired"),
                            ("failed", "Failed"),
                        ],
                        default="requested",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("ready_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("emailed_at", models.DateTimeField(blank=True, null=True)),
                ("size", models.PositiveBigIntegerField(default=0, help_text="Bytes.")),
                (
                    "file",
                    models.FileField(
                        blank=True,
                        storage=customercare.models.tickets.care_attachment_storage,
                        upload_to=customercare.models.privacy._archive_path,
                    ),
                ),
                ("error", models.CharField(blank=True, max_length=300)),
                (
                    "source",
                    models.CharField(
                        help_text="Who asked: member, staff or system.", max_length=10
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="loyalty.member",
                    ),
                ),
                (
                    "merchant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddIndex(
            model_name="accountdeletionrequest",
            index=models.Index(fields=["status", "created_at"], name="accountdeletion_queue"),
        ),
        migrations.AddConstraint(
            model_name="accountdeletionrequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "requested")),
                fields=("merchant", "member"),
                name="account_deletion_one_open",
            ),
        ),
        migrations.AddIndex(
            model_name="memberdataexport",
            index=models.Index(fields=["status", "expires_at"], name="memberdataexport_expiry"),
        ),
        migrations.AddConstraint(
            model_name="memberdataexport",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "requested")),
                fields=("merchant", "member"),
                name="member_data_export_one_open",
            ),
        ),
        # A deletion request's history is append-only, as the tickets' is.
        append_only("customercare", {"AccountDeletionEvent": ACTOR_COLUMNS}),
    ]
