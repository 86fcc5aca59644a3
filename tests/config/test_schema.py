from io import StringIO

import yaml
from django.core.management import call_command


def test_openapi_schema_validates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    paths = schema["paths"]
    for path in (
        "/api/v1/members/",
        "/api/v1/members/{external_id}/",
        "/api/v1/members/{external_id}/ledger/",
        "/api/v1/members/{external_id}/adjustments/",
        "/api/v1/orders/",
        "/api/v1/orders/{external_id}/refunds/",
        "/api/v1/activities/",
    ):
        assert path in paths, path
    order_post = paths["/api/v1/orders/"]["post"]
    assert order_post["requestBody"]["content"]["application/json"]["examples"]
