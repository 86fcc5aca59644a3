"""A member's ledger entries indexed in the order they are written, (member, id): the
chain triggers of the next migration read the previous and the last entry through it. It
serves lookups by member alone too, so it replaces the foreign key's own index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0004_ledgerentry_tierchange_actor"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["member", "id"], name="entry_member_chain"),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ledger",
                to="loyalty.member",
            ),
        ),
    ]
