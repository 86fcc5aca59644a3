"""The member days in member order with the columns the distinct-member figures and the
top members read: a period's rows are grouped by member straight from the index (an
index-only scan on PostgreSQL), not from the table by a hash or a sort."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0008_report_source_indexes"),
        ("merchants", "0015_merchant_brand"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reportmemberday",
            index=models.Index(
                fields=["merchant", "member", "day"],
                include=(
                    "earned",
                    "spent",
                    "redeemed",
                    "ordered",
                    "points_earned",
                    "orders",
                    "revenue",
                ),
                name="report_member_day_by_member",
            ),
        ),
    ]
