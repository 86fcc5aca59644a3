"""The report aggregates: per-merchant daily sums kept by loyalty.reports, and the
incremental job's watermarks."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0006_ledger_triggers"),
        ("merchants", "0011_append_only_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportWatermark",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(max_length=20, unique=True)),
                ("last_id", models.BigIntegerField(default=0)),
                ("seen_id", models.BigIntegerField(default=0)),
                ("seen_at", models.DateTimeField(blank=True, null=True)),
                ("covered_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["source"],
            },
        ),
        migrations.CreateModel(
            name="ReportCohortDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "cohort",
                    models.DateField(
                        help_text="The first day of the month the lots were earned in."
                    ),
                ),
                ("movement", models.CharField(max_length=20)),
                ("points", models.BigIntegerField(help_text="Signed: what was taken is negative.")),
                (
                    "merchant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("merchant", "day", "cohort", "movement"),
                        name="report_cohort_day_unique",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportEntryDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("kind", models.CharField(max_length=20)),
                ("source_type", models.CharField(max_length=12)),
                ("points", models.BigIntegerField()),
                ("pending", models.BigIntegerField()),
                ("entries", models.PositiveIntegerField()),
                (
                    "merchant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("merchant", "day", "kind", "source_type"),
                        name="report_entry_day_unique",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportJoinDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("country", models.CharField(blank=True, max_length=2)),
                ("members", models.PositiveIntegerField()),
                (
                    "merchant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("merchant", "day", "country"), name="report_join_day_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportMemberDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("earned", models.BooleanField()),
                ("spent", models.BooleanField(help_text="Spent points (any redeem entry).")),
                (
                    "redeemed",
                    models.BooleanField(help_text="Spent points on a reward (a redemption)."),
                ),
                ("ordered", models.BooleanField()),
                ("points_earned", models.BigIntegerField()),
                ("orders", models.PositiveIntegerField()),
                (
                    "revenue",
                    models.DecimalField(
                        decimal_places=4,
                        help_text="Orders' totals in the program's currency.",
                        max_digits=18,
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
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("merchant", "day", "member"), name="report_member_day_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportOrderDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("orders", models.PositiveIntegerField()),
                ("revenue", models.DecimalField(decimal_places=4, max_digits=18)),
                ("refunds", models.PositiveIntegerField()),
                ("refunded", models.DecimalField(decimal_places=4, max_digits=18)),
                (
                    "merchant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("merchant", "day"), name="report_order_day_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportTierMoveDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("moves", models.PositiveIntegerField()),
                (
                    "from_tier",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="loyalty.tier",
                    ),
                ),
                (
                    "merchant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.merchant",
                    ),
                ),
                (
                    "to_tier",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="loyalty.tier",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["merchant", "day"], name="report_tier_move_day")],
            },
        ),
    ]
