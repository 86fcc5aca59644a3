"""Idempotency records keep the response as the bytes that were sent.

Records stored before kept the body in a ``jsonb`` column, which had already reordered
its keys: they are rendered once more as the API renders JSON (compact, UTF-8), with the
content type the API gave a response of that status. Their replays are equal as JSON to
the first response; every record stored from now on replays byte for byte."""

import json

from django.db import migrations, models

_BATCH = 1000


def _rendered(body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def bytes_from_json(apps, schema_editor):
    record_model = apps.get_model("merchants", "IdempotencyRecord")
    finished = record_model.objects.filter(status_code__isnull=False, response_bytes__isnull=True)
    while batch := list(finished.order_by("pk")[:_BATCH]):
        for record in batch:
            record.response_bytes = _rendered(record.response_body)
            record.content_type = (
                "application/problem+json" if record.status_code >= 400 else "application/json"
            )
        record_model.objects.bulk_update(batch, ["response_bytes", "content_type"])


def json_from_bytes(apps, schema_editor):
    record_model = apps.get_model("merchants", "IdempotencyRecord")
    finished = record_model.objects.filter(status_code__isnull=False).exclude(
        response_bytes__isnull=True
    )
    for record in finished.iterator(chunk_size=_BATCH):
        try:
            record.response_body = json.loads(bytes(record.response_bytes))
        except ValueError:
            record.response_body = None
        record.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0005_usage_records"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_bytes",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="content_type",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.RunPython(bytes_from_json, json_from_bytes, elidable=True),
    ]
