"""Indexes the report aggregates read the source tables by: a merchant's rows of some
local days, as time ranges (entries, lots, orders, refunds, members), and tier changes by
time. Without them each recomputed bucket would scan every row of its merchant."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0007_report_aggregates"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["merchant", "created_at"], name="entry_merchant_time"),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["merchant", "created_at"], name="member_joined"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["merchant", "placed_at"], name="order_merchant_placed"),
        ),
        migrations.AddIndex(
            model_name="pointlot",
            index=models.Index(fields=["merchant", "earned_at"], name="lot_merchant_earned"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["merchant", "created_at"], name="refund_merchant_time"),
        ),
        migrations.AddIndex(
            model_name="tierchange",
            index=models.Index(fields=["created_at"], name="tier_change_time"),
        ),
    ]
