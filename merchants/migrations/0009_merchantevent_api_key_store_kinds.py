import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0008_staff_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchantevent",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                help_text="The store's API key that acted, when one did.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="merchants.merchantapikey",
            ),
        ),
        migrations.AlterField(
            model_name="merchantevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("status_changed", "Status changed"),
                    ("checklist_completed", "Checklist item completed"),
                    ("checklist_reopened", "Checklist item reopened"),
                    ("api_key_issued", "API key issued"),
                    ("api_key_revoked", "API key revoked"),
                    ("store_created", "Store created"),
                    ("webhook_secret_set", "Store webhook secret set"),
                    ("membership_set", "Portal membership set"),
                ],
                max_length=30,
            ),
        ),
    ]
