import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0003_member_permissions"),
        ("merchants", "0009_merchantevent_api_key_store_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="actor_label",
            field=models.CharField(
                blank=True,
                help_text="Who acted (a job by name), kept if the user goes.",
                max_length=150,
            ),
        ),
        migrations.AddField(
            model_name="ledgerentry",
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
        migrations.AddField(
            model_name="tierchange",
            name="actor_label",
            field=models.CharField(
                blank=True,
                help_text="Who acted (a job by name), kept if the user goes.",
                max_length=150,
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
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
    ]
