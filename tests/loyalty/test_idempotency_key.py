"""The ``Idempotency-Key`` header every POST of the store API honours (DESIGN rule 4),
exercised on the loyalty endpoints through the real client: adjustments above all, since
they have no natural key of their own."""

import datetime
import json
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from core.actors import SYSTEM
from loyalty.models import LedgerEntry, Member, Order
from loyalty.services.members import member_adjust_points
from merchants.idempotency import idempotency_purge_expired, request_fingerprint
from merchants.models import IdempotencyRecord, Scope
from tests.conftest import assert_problem, make_tenant
from tests.loyalty.apihelpers import program_for
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db


ADJUSTMENTS = "/api/v1/members/cust-1/adjustments/"
ORDERS = "/api/v1/orders/"


@pytest.fixture
def member(tenant) -> Member:
    program_for(tenant.merchant)
    return member_make(tenant.merchant, "cust-1")


def post(client, url: str, body: Any, key: str | None):
    extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def adjustments(member: Member) -> list[int]:
    return list(
        LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.ADJUST)
        .order_by("id")
        .values_list("points", flat=True)
    )


def balance(member: Member) -> int:
    member.refresh_from_db()
    return member.points_balance


CREDIT = {"points": 10, "reason": "goodwill"}


# -- replays -----------------------------------------------------------------------------


def test_same_key_and_body_replays_the_stored_response_without_a_second_effect(tenant, member):
    first = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    again = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert adjustments(member) == [10]
    assert balance(member) == 10


def test_a_replay_is_byte_for_byte_the_first_response(tenant, member):
    first = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    again = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert again.content == first.content


def test_a_replayed_problem_is_byte_for_byte_the_first_one(tenant, member):
    debit = {"points": -50, "reason": "redeemed in store"}
    first = post(tenant.client, ADJUSTMENTS, debit, "key-1")

    again = post(tenant.client, ADJUSTMENTS, debit, "key-1")

    assert_problem(again, 409, "insufficient_points", attr="points")
    assert again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == first["Content-Type"] == "application/problem+json"
    assert again.content == first.content


def test_without_a_key_an_adjustment_is_applied_each_time(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, None)
    post(tenant.client, ADJUSTMENTS, CREDIT, None)

    assert adjustments(member) == [10, 10]


def test_the_same_body_with_another_key_is_a_new_request(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    response = post(tenant.client, ADJUSTMENTS, CREDIT, "key-2")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert adjustments(member) == [10, 10]


def test_the_body_is_compared_by_meaning_not_by_bytes(tenant, member):
    post(tenant.client, ADJUSTMENTS, {"points": 10, "reason": "goodwill"}, "key-1")

    response = tenant.client.post(
        ADJUSTMENTS,
        '{ "reason" : "goodwill",\n "points": 10 }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert response["Idempotent-Replayed"] == "true"
    assert adjustments(member) == [10]


def test_the_key_belongs_to_the_merchant_not_to_the_api_key(tenant, member):
    other_key = make_tenant(tenant.merchant)
    first = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    again = post(other_key.client, ADJUSTMENTS, CREDIT, "key-1")

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert adjustments(member) == [10]


def test_an_order_replayed_by_key_gets_its_first_status(tenant, member):
    body = {
        "external_id": "o-1",
        "member": "cust-1",
        "total": "30.00",
        "currency": "USD",
        "placed_at": timezone.now().isoformat(),
    }
    first = post(tenant.client, ORDERS, body, "order-key")

    by_key = post(tenant.client, ORDERS, body, "order-key")
    by_external_id = post(tenant.client, ORDERS, body, None)

    assert (first.status_code, by_key.status_code, by_external_id.status_code) == (201, 201, 200)
    assert by_key["Idempotent-Replayed"] == by_external_id["Idempotent-Replayed"] == "true"
    assert by_key.json() == first.json() == by_external_id.json()
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count() == 1


# -- conflicts and invalid keys ----------------------------------------------------------


def test_same_key_with_another_body_is_409_and_changes_nothing(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    response = post(tenant.client, ADJUSTMENTS, {"points": 11, "reason": "goodwill"}, "key-1")

    assert_problem(response, 409, "idempotency_key_reused", attr="Idempotency-Key")
    assert adjustments(member) == [10]


def test_same_key_on_another_endpoint_is_409(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    response = post(tenant.client, "/api/v1/members/", {"external_id": "cust-2"}, "key-1")

    assert_problem(response, 409, "idempotency_key_reused", attr="Idempotency-Key")
    assert not Member.objects.filter(external_id="cust-2").exists()


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("has space", id="space"),
        pytest.param("x" * 300, id="300-chars"),
        pytest.param("x" * 256, id="256-chars"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("caf\u00e9", id="non-ascii"),
    ],
)
def test_an_invalid_key_is_400_and_changes_nothing(tenant, member, key):
    response = post(tenant.client, ADJUSTMENTS, CREDIT, key)

    assert_problem(response, 400, "invalid_idempotency_key", attr="Idempotency-Key")
    assert adjustments(member) == []
    assert not IdempotencyRecord.objects.exists()


def test_a_key_of_255_printable_characters_is_fine(tenant, member):
    key = "k" * 254 + "~"

    first = post(tenant.client, ADJUSTMENTS, CREDIT, key)
    again = post(tenant.client, ADJUSTMENTS, CREDIT, key)

    assert (first.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert adjustments(member) == [10]


def test_the_same_key_at_two_merchants_is_two_requests(tenant_pair):
    tenants = (tenant_pair.a, tenant_pair.b)
    members = []
    for tenant in tenants:
        program_for(tenant.merchant)
        members.append(member_make(tenant.merchant, "cust-1"))

    responses = [post(tenant.client, ADJUSTMENTS, CREDIT, "shared-key") for tenant in tenants]

    assert [response.status_code for response in responses] == [201, 201]
    assert not any("Idempotent-Replayed" in response for response in responses)
    assert [adjustments(member) for member in members] == [[10], [10]]
    assert IdempotencyRecord.objects.filter(key="shared-key").count() == 2


def test_a_request_still_in_progress_is_409(tenant, member):
    body = json.dumps(CREDIT).encode()
    IdempotencyRecord.objects.create(
        merchant=tenant.merchant,
        key="busy",
        method="POST",
        path=ADJUSTMENTS,
        request_hash=request_fingerprint(method="POST", path=ADJUSTMENTS, body=body),
        created_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )

    response = tenant.client.post(
        ADJUSTMENTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy"
    )

    assert_problem(response, 409, "idempotency_key_in_progress", attr="Idempotency-Key")
    assert 1 <= int(response["Retry-After"]) <= 5
    assert adjustments(member) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_request_runs_is_409_with_retry_after(tenant, member):
    """The first request holds its key while it waits for the member's row lock; a
    repeat meanwhile is told to come back, and once the first ends it gets its answer."""
    locked, release = threading.Event(), threading.Event()
    first: dict[str, Any] = {}

    def hold_the_member_lock():
        try:
            with transaction.atomic():
                Member.objects.select_for_update().get(pk=member.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def first_request():
        try:
            first["response"] = post(tenant.client, ADJUSTMENTS, CREDIT, "busy")
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_member_lock)
    holder.start()
    assert locked.wait(timeout=10)
    runner = threading.Thread(target=first_request)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not IdempotencyRecord.objects.filter(key="busy").exists():
            assert time.monotonic() < deadline, "the first request never claimed its key"
            time.sleep(0.02)
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")

        during = post(other, ADJUSTMENTS, CREDIT, "busy")
    finally:
        release.set()
        runner.join(timeout=30)
        holder.join(timeout=30)

    assert_problem(during, 409, "idempotency_key_in_progress", attr="Idempotency-Key")
    assert 1 <= int(during["Retry-After"]) <= 5
    assert "Idempotent-Replayed" not in during
    assert first["response"].status_code == 201, first["response"].content
    after = post(other, ADJUSTMENTS, CREDIT, "busy")
    assert after["Idempotent-Replayed"] == "true"
    assert after.content == first["response"].content
    assert adjustments(member) == [10]


def test_an_abandoned_claim_is_taken_over(tenant, member):
    body = json.dumps(CREDIT).encode()
    IdempotencyRecord.objects.create(
        merchant=tenant.merchant,
        key="stale",
        method="POST",
        path=ADJUSTMENTS,
        request_hash=request_fingerprint(method="POST", path=ADJUSTMENTS, body=body),
        created_at=timezone.now() - datetime.timedelta(minutes=5),
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )

    response = tenant.client.post(
        ADJUSTMENTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="stale"
    )

    assert response.status_code == 201, response.content
    assert adjustments(member) == [10]
    assert IdempotencyRecord.objects.get(key="stale").status_code == 201


# -- what is stored ----------------------------------------------------------------------


def test_an_error_response_is_stored_and_replayed(tenant, member):
    debit = {"points": -50, "reason": "redeemed in store"}
    first = post(tenant.client, ADJUSTMENTS, debit, "key-1")
    member_adjust_points(
        merchant=tenant.merchant, member=member, points=100, reason="top up", actor=SYSTEM
    )

    again = post(tenant.client, ADJUSTMENTS, debit, "key-1")

    assert_problem(first, 409, "insufficient_points", attr="points")
    assert_problem(again, 409, "insufficient_points", attr="points")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert balance(member) == 100  # the debit was not applied on the second try


def test_a_validation_error_is_stored_and_replayed(tenant, member):
    first = post(tenant.client, ORDERS, {"external_id": "o 1"}, "key-1")

    again = post(tenant.client, ORDERS, {"external_id": "o 1"}, "key-1")

    assert_problem(first, 400, "invalid_input", attr="external_id")
    assert_problem(again, 400, "invalid_input", attr="external_id")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_a_not_found_is_stored_and_replayed(tenant, member):
    first = post(tenant.client, "/api/v1/members/later/adjustments/", CREDIT, "key-1")
    member_make(tenant.merchant, "later")

    again = post(tenant.client, "/api/v1/members/later/adjustments/", CREDIT, "key-1")

    assert_problem(again, 404, "not_found")
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_a_refused_scope_is_not_stored(tenant, member):
    writer = make_tenant(tenant.merchant, scopes=(Scope.READ, Scope.WRITE))
    assert_problem(post(writer.client, ADJUSTMENTS, CREDIT, "key-1"), 403, "insufficient_scope")

    response = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert adjustments(member) == [10]


def test_a_server_error_is_not_stored_so_the_client_may_retry(tenant, member, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr("loyalty.services.members.member_adjust_points", broken)
        tenant.client.raise_request_exception = False
        failed = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")
    assert failed.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="key-1").exists()

    retried = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert adjustments(member) == [10]


def test_reads_ignore_the_key(tenant, member):
    response = tenant.client.get("/api/v1/members/cust-1/", HTTP_IDEMPOTENCY_KEY="has space")

    assert response.status_code == 200
    assert not IdempotencyRecord.objects.exists()


# -- expiry ------------------------------------------------------------------------------


def test_an_expired_record_is_ignored(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")
    IdempotencyRecord.objects.filter(key="key-1").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    response = post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert adjustments(member) == [10, 10]
    record = IdempotencyRecord.objects.get(key="key-1")
    assert record.expires_at > timezone.now()


def test_an_expired_key_may_carry_another_body(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")
    IdempotencyRecord.objects.filter(key="key-1").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    response = post(tenant.client, ADJUSTMENTS, {"points": 3, "reason": "x"}, "key-1")

    assert response.status_code == 201
    assert adjustments(member) == [10, 3]


def test_a_record_lives_for_the_configured_ttl(tenant, member, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 2
    before = timezone.now()

    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")

    record = IdempotencyRecord.objects.get(key="key-1")
    assert (record.status_code, record.method, record.path) == (201, "POST", ADJUSTMENTS)
    ttl = datetime.timedelta(hours=2)
    assert before + ttl <= record.expires_at <= timezone.now() + ttl


def test_purge_deletes_only_expired_records(tenant_pair):
    now = timezone.now()
    for tenant in (tenant_pair.a, tenant_pair.b):
        for n, hours in enumerate((-48, -1, -0.01, 1, 24)):
            IdempotencyRecord.objects.create(
                merchant=tenant.merchant,
                key=f"k-{n}",
                method="POST",
                path="/api/v1/members/",
                request_hash="0" * 64,
                status_code=201,
                response_bytes=b"{}",
                content_type="application/json",
                created_at=now - datetime.timedelta(days=3),
                expires_at=now + datetime.timedelta(hours=hours),
            )

    deleted = idempotency_purge_expired(now=now, batch=2)

    assert deleted == 6
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == [
        "k-3",
        "k-3",
        "k-4",
        "k-4",
    ]
    assert idempotency_purge_expired(now=now) == 0
    assert idempotency_purge_expired(now=now + datetime.timedelta(hours=2)) == 2


def test_after_a_purge_the_key_is_free_again(tenant, member):
    post(tenant.client, ADJUSTMENTS, CREDIT, "key-1")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert idempotency_purge_expired() == 1

    response = post(tenant.client, ADJUSTMENTS, {"points": 4, "reason": "x"}, "key-1")

    assert response.status_code == 201
    assert adjustments(member) == [10, 4]


# -- records stored before responses were kept as bytes -----------------------------------


def state_before(loader, migration):
    """The project as the migration finds it: its ancestors applied, nothing else."""
    return loader.project_state((migration.app_label, migration.name), at_end=False)


def touches_idempotency_records(migration) -> bool:
    return any(
        "idempotencyrecord"
        in " ".join(
            str(getattr(operation, attribute, "")).lower()
            for attribute in ("model_name", "name", "sql")
        )
        for operation in migration.operations
    )


@pytest.mark.django_db(transaction=True)
def test_a_record_stored_as_json_is_migrated_and_replayed_as_json(tenant, member):
    """The two migrations that moved stored responses from JSON to bytes are undone, the
    table gets rows as they were stored before them, and they are run again. Nothing
    after them touches the table, so the other apps' migrations stay as they are."""
    before = ("merchants", "0005_usage_records")
    body = json.dumps(CREDIT).encode()
    executor = MigrationExecutor(connection)
    loader = executor.loader
    steps = [
        loader.graph.nodes[("merchants", name)]
        for name in ("0006_idempotency_response_bytes", "0007_drop_response_body")
    ]
    last = ("merchants", "0007_drop_response_body")
    later = set(loader.graph.backwards_plan(last)) - {last}
    assert later  # what the whole project's migrations back to 0005 would have undone
    assert not [key for key in later if touches_idempotency_records(loader.graph.nodes[key])]
    for migration in reversed(steps):
        executor.unapply_migration(state_before(loader, migration), migration)
    try:
        old = executor.loader.project_state([before]).apps.get_model(
            "merchants", "IdempotencyRecord"
        )
        now = timezone.now()
        for key, status_code, stored in (
            ("done", 201, {"points": 10, "reason": "goodwill \u00e9", "id": 1}),
            ("refused", 409, {"code": "insufficient_points", "status": 409}),
            ("running", None, None),
        ):
            old.objects.create(
                merchant_id=tenant.merchant.pk,
                key=key,
                method="POST",
                path=ADJUSTMENTS,
                request_hash=request_fingerprint(method="POST", path=ADJUSTMENTS, body=body),
                status_code=status_code,
                response_body=stored,
                created_at=now,
                expires_at=now + datetime.timedelta(hours=1),
            )
    finally:
        for migration in steps:
            executor.apply_migration(state_before(loader, migration), migration)

    records = {record.key: record for record in IdempotencyRecord.objects.all()}
    assert records["running"].status_code is None
    assert records["refused"].content_type == "application/problem+json"
    done = post(tenant.client, ADJUSTMENTS, CREDIT, "done")
    assert done.status_code == 201
    assert done["Idempotent-Replayed"] == "true"
    assert done["Content-Type"] == "application/json"
    assert done.json() == {"points": 10, "reason": "goodwill \u00e9", "id": 1}
    assert adjustments(member) == []
