from django.db import migrations


def care_leads_stop_changing_care_settings(apps, schema_editor):
    """Care settings hold the goodwill threshold and limit that bound the Care leads' own
    approvals: Operations set them now. Take the right back once from the group set up
    before (given by hand later, it stays)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    permissions = Permission.objects.using(db).filter(
        content_type__app_label="customercare", codename="change_caresettings"
    )
    for group in Group.objects.using(db).filter(name="Care leads"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("customercare", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="ticket",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("approve_goodwill", "Can approve goodwill adjustments above the threshold"),
                    ("view_care_reports", "Can see the customer care reports"),
                    ("reissue_reward", "Can reissue a delivered reward from its ticket"),
                ],
            },
        ),
        migrations.RunPython(care_leads_stop_changing_care_settings, migrations.RunPython.noop),
    ]
