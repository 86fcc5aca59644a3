"""Every app's event rows are append-only in the database (``core.append_only``): each
test bypasses the services and expects the database's refusal; deleting a user who acted
clears the actor and nothing else."""

import pytest
from django.db import IntegrityError, connection, transaction

from core.actors import Actor
from customercare.models import TicketEvent
from fulfillment.models import CodeReveal, DeliveredCode, RedemptionEvent
from merchants.models import MerchantEvent, MerchantStatus
from merchants.services.lifecycle import merchant_transition
from tests.customercare.factories import care_merchant, member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.merchants.factories import MerchantFactory, StaffFactory


def _merchant_event(staff):
    merchant = MerchantFactory()
    merchant_transition(
        merchant=merchant,
        to_status=MerchantStatus.IN_REVIEW,
        reason="ready",
        actor=Actor.staff(staff),
    )
    return MerchantEvent.objects.filter(merchant=merchant, actor=staff).get()


def _ticket_event(staff):
    member = member_of(care_merchant())
    ticket = ticket_open(member, actor=Actor.staff(staff))
    return TicketEvent.objects.filter(ticket=ticket).first()


def _redemption_event(staff):
    merchant = care_merchant()
    redemption = redemption_delivered(merchant, member_of(merchant, 5000))
    return RedemptionEvent.objects.create(
        redemption=redemption, field="note", to_value="seen", source="staff", actor=staff
    )


def _code_reveal(staff):
    merchant = care_merchant()
    redemption = redemption_delivered(merchant, member_of(merchant, 5000))
    code = DeliveredCode.objects.filter(redemption=redemption).first()
    return CodeReveal.objects.create(code=code, via="admin", user=staff)


BUILDERS = {
    "merchant event": (_merchant_event, "actor", "reason"),
    "ticket event": (_ticket_event, "actor", "note"),
    "redemption event": (_redemption_event, "actor", "note"),
    "code reveal": (_code_reveal, "user", "via"),
}


@pytest.fixture(params=list(BUILDERS))
def row(request):
    builder, actor_field, text_field = BUILDERS[request.param]
    staff = StaffFactory()
    return builder(staff), staff, actor_field, text_field


def _refused():
    return pytest.raises(IntegrityError, match="append-only")


@pytest.mark.django_db
def test_database_refuses_updating_an_event_row(row):
    obj, _, _, text_field = row
    before = getattr(obj, text_field)
    with _refused(), transaction.atomic():
        type(obj).objects.filter(pk=obj.pk).update(**{text_field: "rewritten"})
    assert getattr(type(obj).objects.get(pk=obj.pk), text_field) == before


@pytest.mark.django_db
def test_database_refuses_pointing_an_event_at_another_actor(row):
    obj, staff, actor_field, _ = row
    with _refused(), transaction.atomic():
        type(obj).objects.filter(pk=obj.pk).update(**{actor_field: StaffFactory()})
    assert getattr(type(obj).objects.get(pk=obj.pk), f"{actor_field}_id") == staff.pk


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_refuses_deleting_an_event_row(row):
    obj, _, _, _ = row
    with _refused(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {obj._meta.db_table} WHERE id = %s", [obj.pk])
    assert type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_deleting_the_user_who_acted_clears_the_actor_and_keeps_the_row(row):
    obj, staff, actor_field, text_field = row
    before = getattr(obj, text_field)
    staff.delete()
    stored = type(obj).objects.get(pk=obj.pk)
    assert getattr(stored, f"{actor_field}_id") is None
    assert getattr(stored, text_field) == before
