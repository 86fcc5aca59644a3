import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customercare", "0002_staff_rights"),
        ("merchants", "0009_merchantevent_api_key_store_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticketevent",
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
            model_name="ticketmessage",
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
            model_name="ticketevent",
            name="source",
            field=models.CharField(help_text="staff, portal, api, member or system", max_length=10),
        ),
    ]
