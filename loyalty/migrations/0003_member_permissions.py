from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_config_version_triggers"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="member",
            options={
                "ordering": ["merchant_id", "external_id"],
                "permissions": [
                    ("adjust_points", "Can credit or debit members' points in the admin"),
                    ("anonymise_member", "Can erase members' personal data"),
                    ("export_member", "Can export members' personal data"),
                ],
            },
        ),
    ]
