from django.db import migrations


def fulfillment_stops_editing_suppliers(apps, schema_editor):
    """The Fulfillment group held catalog.change_supplier to take paused suppliers back into
    use; resume_supplier does that now, and the sync adds it. Take the old right back once
    (given by hand later, it stays)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    permissions = Permission.objects.using(db).filter(
        content_type__app_label="catalog", codename="change_supplier"
    )
    for group in Group.objects.using(db).filter(name="Fulfillment"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("fulfillment", "0006_reserve_codes_of_queued_pool_orders"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="supplierorder",
            options={
                "ordering": ["redemption_id", "attempt"],
                "permissions": [("resume_supplier", "Can take a paused supplier back into use")],
            },
        ),
        migrations.RunPython(fulfillment_stops_editing_suppliers, migrations.RunPython.noop),
    ]
