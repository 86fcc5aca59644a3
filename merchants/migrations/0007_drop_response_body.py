# The JSON copy of stored responses, replaced by their bytes (0006). A migration of its
# own: PostgreSQL will not alter a table in the transaction that just updated its rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0006_idempotency_response_bytes"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="idempotencyrecord",
            name="response_body",
        ),
    ]
