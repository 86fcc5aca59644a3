from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0007_drop_response_body"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="merchant",
            options={
                "ordering": ["name"],
                "permissions": [
                    (
                        "transition_merchant",
                        "Can move merchants through onboarding (review, approve, reject, go live, suspend, offboard)",
                    )
                ],
            },
        ),
        migrations.AlterModelOptions(
            name="store",
            options={
                "ordering": ["merchant_id", "name"],
                "permissions": [
                    ("set_webhook_secret", "Can set or rotate a store's webhook secret")
                ],
            },
        ),
    ]
