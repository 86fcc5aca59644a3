"""Requests under ``/api/`` that never reach a view's method (an unknown path, a wrong
method, a body too large, of the wrong type, or not JSON, an answer the client will not
accept) get a problem document like every other error, never Django's HTML pages.

The clients here enforce CSRF checks as a browser-less client meets them in production
(Django's test client skips them by default)."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory
from rest_framework.test import APIClient

from config.urls import handler400
from loyalty.models import Member
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import program_for

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"
BODY_METHODS = ["post", "put", "patch", "delete"]
ALL_METHODS = ["get", "head", "options", *BODY_METHODS]


def strict_client(raw_key: str | None = None) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    if raw_key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def send(client: APIClient, method: str, url: str, body: bytes = b"{}", **extra):
    return client.generic(
        method.upper(),
        url,
        body,
        content_type=extra.pop("content_type", "application/json"),
        **extra,
    )


def assert_problem_headers(response, status: int) -> None:
    """For HEAD, which has no body: the status and the problem's content type."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")


# -- unknown paths -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize(
    "path",
    [
        "/api/nope/",
        "/api/v1/nope/",
        "/api/v2/members/",
        "/api/v1/members",  # no trailing slash: no redirect that would lose the body
    ],
)
def test_an_unknown_api_path_is_a_404_problem_for_every_method(tenant, method, path):
    for client in (strict_client(), strict_client(tenant.raw_key)):
        response = send(client, method, path)

        if method == "head":
            assert_problem_headers(response, 404)
        else:
            assert_problem(response, 404, "not_found")
            assert response.content.startswith(b'{"type":"urn:loyalty:problem:not_found",')


def test_an_unknown_api_path_is_a_404_problem_even_with_a_session_cookie(tenant):
    """A signed-in staff member's browser still gets no CSRF page on an API path."""
    staff = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    client = strict_client()
    client.force_login(staff)

    response = send(client, "post", "/api/v1/nope/", b"a=1", content_type="text/plain")

    assert_problem(response, 404, "not_found")


# -- wrong methods -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_method_an_endpoint_does_not_have_is_a_405_problem_with_allow(tenant, method):
    response = send(strict_client(tenant.raw_key), method, MEMBERS)

    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in [m.strip() for m in response["Allow"].split(",")]


@pytest.mark.parametrize("method", BODY_METHODS)
@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_answer_a_wrong_method_with_a_json_problem(method, path):
    response = send(strict_client(), method, path)

    body = assert_problem(response, 405, "method_not_allowed")
    assert json.loads(response.content) == body
    assert "GET" in response["Allow"]


def test_options_on_the_docs_page_is_a_json_problem_not_a_server_error():
    response = strict_client().options("/api/docs/")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_the_schema_and_docs_still_answer_get():
    client = strict_client()

    schema = client.get("/api/schema/")
    schema_json = client.get("/api/schema/?format=json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert schema["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"/api/v1/orders/" in schema.content
    assert schema_json.status_code == 200
    assert "/api/v1/orders/" in json.loads(schema_json.content)["paths"]
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")


# -- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_json_body_over_the_limit_is_a_413_problem_and_changes_nothing(
    tenant, settings, idempotency_key
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"external_id": "cust-1", "first_name": "x" * 1_000}).encode()
    extra = {} if idempotency_key is None else {"HTTP_IDEMPOTENCY_KEY": idempotency_key}

    response = send(strict_client(tenant.raw_key), "post", MEMBERS, body, **extra)

    assert_problem(response, 413, "request_too_large")
    assert not Member.objects.exists()


def test_a_form_body_over_the_limit_is_a_413_problem(tenant, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = b"member=cust-1&category=other&subject=Hi&message=" + b"x" * 1_000

    response = send(
        strict_client(tenant.raw_key),
        "post",
        "/api/v1/tickets/",
        body,
        content_type="application/x-www-form-urlencoded",
    )

    assert_problem(response, 413, "request_too_large")


def test_a_multipart_field_over_the_limit_is_a_413_problem(tenant, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    client = strict_client(tenant.raw_key)

    response = client.post(
        "/api/v1/tickets/",
        {"member": "cust-1", "category": "other", "subject": "Hi", "message": "x" * 2_000},
        format="multipart",
    )

    assert_problem(response, 413, "request_too_large")


def test_too_many_form_fields_is_a_400_problem_not_a_500(tenant, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    body = b"&".join(f"f{n}=1".encode() for n in range(10))

    response = send(
        strict_client(tenant.raw_key),
        "post",
        "/api/v1/tickets/",
        body,
        content_type="application/x-www-form-urlencoded",
    )

    assert_problem(response, 400, "bad_request")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_an_unsupported_content_type_is_a_415_problem(tenant, content_type):
    response = send(
        strict_client(tenant.raw_key),
        "post",
        MEMBERS,
        b"external_id=cust-1",
        content_type=content_type,
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"external_id": "cust-1",}', b"\xff\xfe", b"[" * 5_000]
)
def test_malformed_json_is_a_400_parse_error_problem(tenant, body):
    program_for(tenant.merchant)
    for url in (MEMBERS, "/api/v1/orders/", "/api/v1/activities/"):
        response = send(strict_client(tenant.raw_key), "post", url, body)

        assert_problem(response, 400, "parse_error")
    assert not Member.objects.exists()


# -- answers the client will not accept, requests Django refuses ---------------------------


@pytest.mark.parametrize("path", ["/api/v1/merchant/", "/api/schema/"])
def test_an_answer_the_client_will_not_accept_is_a_406_json_problem(tenant, path):
    response = strict_client(tenant.raw_key).get(path, HTTP_ACCEPT="image/png")

    body = assert_problem(response, 406, "not_acceptable")
    assert json.loads(response.content) == body


def test_a_request_for_an_unknown_host_is_a_400_problem(tenant):
    response = strict_client(tenant.raw_key).get("/api/v1/merchant/", HTTP_HOST="evil.example")

    assert_problem(response, 400, "bad_request")


def test_a_body_django_refuses_as_too_large_outside_a_view_is_a_413_problem():
    request = RequestFactory().post("/api/v1/members/", b"{}", content_type="application/json")

    response = handler400(request, RequestDataTooBig("too big"))

    assert_problem(response, 413, "request_too_large")


def test_pages_outside_the_api_keep_their_html_errors(client):
    assert client.get("/nope/")["Content-Type"].startswith("text/html")
    assert client.get("/nope/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/rewards/?member=nobody", None),
        ("get", "/api/v1/redemptions/?member=nobody", None),
        ("get", "/api/v1/tickets/?member=nobody", None),
        (
            "post",
            "/api/v1/redemptions/",
            {"member": "nobody", "reward": 1, "denomination": "10", "recipient": {}},
        ),
        (
            "post",
            "/api/v1/tickets/",
            {"member": "nobody", "category": "other", "subject": "Hi", "message": "Hello"},
        ),
    ],
)
def test_an_unknown_member_is_a_404_on_the_member_field(tenant, method, path, body):
    program_for(tenant.merchant)
    if method == "get":
        response = tenant.client.get(path)
    else:
        response = tenant.client.post(path, body, format="json")

    assert_problem(response, 404, "not_found", attr="member")
