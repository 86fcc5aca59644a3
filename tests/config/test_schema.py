import re
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from customercare.attachments import SIGNATURES
from loyalty.exceptions import IdempotencyConflict, InsufficientPoints
from merchants.api.schema import EXAMPLE


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


# -- the contract stores generate clients from --------------------------------------------

LISTS = {
    "/api/v1/members/{external_id}/ledger/": ("cursor", {"next", "previous", "results"}),
    "/api/v1/redemptions/": ("cursor", {"next", "previous", "results"}),
    "/api/v1/tickets/": ("cursor", {"next", "previous", "results"}),
    "/api/v1/rewards/": ("page", {"count", "next", "previous", "results"}),
}


@pytest.fixture(scope="module")
def schema():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def problem_codes(operation, status):
    content = operation["responses"][str(status)]["content"]["application/problem+json"]
    problem, own = content["schema"]["allOf"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    return set(own["properties"]["code"]["enum"])


@pytest.mark.parametrize("path", LISTS)
def test_the_four_lists_are_paged_objects_with_their_parameters(schema, path):
    start, keys = LISTS[path]
    operation = schema["paths"][path]["get"]
    page = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert page["type"] == "object"
    assert set(page["properties"]) == keys
    assert set(page["required"]) == keys
    assert page["properties"]["results"]["type"] == "array"
    parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert start in parameters
    size = parameters["page_size"]["schema"]
    assert (size["minimum"], size["maximum"]) == (1, 200)


def test_every_operation_has_its_own_summary_and_description(schema):
    descriptions = []
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
        assert "self.merchant" not in operation["description"], (method, path)
        descriptions.append(operation["description"])
    assert len(set(descriptions)) == len(descriptions)


# The platforms' webhooks: signed with the store's secret instead of an API key, and
# de-duplicated by the platform's delivery id instead of an Idempotency-Key.
SIGNED = ("/api/v1/integrations/",)


def keyed(schema):
    return [(p, m, op) for p, m, op in operations(schema) if not p.startswith(SIGNED)]


def test_every_operation_documents_auth_scope_and_throttling_as_problems(schema):
    for path, _method, operation in keyed(schema):
        assert {"invalid_api_key", "not_authenticated"} <= problem_codes(operation, 401)
        assert "insufficient_scope" in problem_codes(operation, 403)
        assert problem_codes(operation, 429) == {"throttled"}
        assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
        if path != "/api/v1/merchant/":
            assert "merchant_not_active" in problem_codes(operation, 403), path


def test_every_post_takes_an_idempotency_key_and_may_be_a_replay(schema):
    posts = [(path, op) for path, method, op in keyed(schema) if method == "post"]
    assert len(posts) == 12
    for path, operation in posts:
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"], path
        assert headers[0]["schema"]["maxLength"] == 255
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                assert response["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
        assert {"idempotency_key_reused", "idempotency_key_in_progress"} <= problem_codes(
            operation, 409
        )
        assert "invalid_idempotency_key" in problem_codes(operation, 400)
        assert problem_codes(operation, 413) == {"request_too_large"}
        assert problem_codes(operation, 415) == {"unsupported_media_type"}


def test_platform_webhooks_are_signed_not_keyed(schema):
    signed = [(p, m, op) for p, m, op in operations(schema) if p.startswith(SIGNED)]
    assert [(p, m) for p, m, _ in signed] == [
        ("/api/v1/integrations/shopify/{store_public_id}/webhooks/", "post"),
        ("/api/v1/integrations/woocommerce/{store_public_id}/webhooks/", "post"),
    ]
    for _path, _method, operation in signed:
        assert operation.get("security") in (None, [], [{}])  # no key named
        assert not [p for p in operation["parameters"] if p["in"] == "header"]
        assert problem_codes(operation, 401) == {"invalid_signature"}
        assert problem_codes(operation, 400) == {"invalid_delivery"}
        assert problem_codes(operation, 429) == {"throttled"}


def test_error_codes_come_from_the_domain_errors_the_operation_raises(schema):
    redeem = schema["paths"]["/api/v1/redemptions/"]["post"]
    assert {InsufficientPoints.code, "out_of_stock", "redemption_limit_reached"} <= (
        problem_codes(redeem, 409)
    )
    assert {"invalid_denomination", "invalid_recipient", "invalid_input"} <= problem_codes(
        redeem, 400
    )
    order = schema["paths"]["/api/v1/orders/"]["post"]
    assert IdempotencyConflict.code in problem_codes(order, 409)
    assert problem_codes(order, 422) == {"exchange_rate_missing", "referral_refused"}
    assert "insufficient_points" not in problem_codes(order, 409)
    ticket = schema["paths"]["/api/v1/tickets/{reference}/"]["get"]
    assert problem_codes(ticket, 404) == {"ticket_not_found"}
    assert "- `ticket_not_found`: No such ticket." in ticket["responses"]["404"]["description"]


def test_a_problem_is_one_component_with_its_errors(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "errors"}
    error = resolve(schema, problem["properties"]["errors"]["items"])
    assert set(error["properties"]) == {"code", "detail", "attr"}
    assert error["properties"]["attr"]["nullable"] is True


def test_a_download_lists_the_types_a_file_can_have(schema):
    path = "/api/v1/tickets/{reference}/attachments/{attachment_id}/"
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]
    assert set(content) == {kind for _, kind, _ in SIGNATURES} | {"text/plain"}
    assert set(content) == {"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain"}


def test_files_are_documented_only_for_multipart_bodies(schema):
    content = schema["paths"]["/api/v1/tickets/"]["post"]["requestBody"]["content"]
    json_body = resolve(schema, content["application/json"]["schema"])
    form_body = resolve(schema, content["multipart/form-data"]["schema"])
    assert "attachments" not in json_body["properties"]
    assert form_body["properties"]["attachments"]["maxItems"] == 5
    csat = schema["paths"]["/api/v1/tickets/{reference}/csat/"]["post"]["requestBody"]
    assert set(csat["content"]) == {"application/json"}


def test_the_rules_the_api_enforces_are_in_the_schema(schema):
    components = schema["components"]["schemas"]
    order = components["OrderInputRequest"]["properties"]
    total = re.compile(order["total"]["pattern"])
    assert total.match("120.00")
    assert total.match("0")
    assert not any(total.match(v) for v in ("-1", "1e2", " 1", "1.00001", ""))
    currency = resolve(schema, order["currency"]["allOf"][0])
    assert {"USD", "EUR", "JPY", "KWD"} <= set(currency["enum"])
    refund = re.compile(components["RefundInputRequest"]["properties"]["amount"]["pattern"])
    assert refund.match("0.01")
    assert not refund.match("0")
    assert not refund.match("0.00")
    points = components["AdjustmentRequest"]["properties"]["points"]
    assert points["not"] == {"enum": [0]}
    member = components["MemberWriteRequest"]["properties"]
    country = [resolve(schema, branch) for branch in member["country"]["oneOf"]]
    codes = set().union(*(set(branch["enum"]) for branch in country))
    assert {"US", "FR", "PT", ""} <= codes
    assert "USA" not in codes
    subject = re.compile(components["TicketInputRequest"]["properties"]["subject"]["pattern"])
    assert subject.match("Hi")
    assert not subject.match("   ")
    assert not subject.match("a\x00b")
    external_id = components["MemberWriteRequest"]["properties"]["external_id"]
    assert external_id["pattern"] == "^[A-Za-z0-9._:@+=-]{1,128}$"


def test_the_examples_name_the_same_rows(schema):
    member = schema["paths"]["/api/v1/members/{external_id}/"]["get"]["parameters"][0]
    assert member["examples"]["Member"]["value"] == EXAMPLE["member"]
