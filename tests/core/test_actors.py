import pytest
from django.contrib.auth.models import AnonymousUser

from core.actors import (
    Actor,
    actor_api_key_id,
    actor_fields,
    actor_label,
    actor_user,
    history_user,
    recorded_actor_label,
)
from merchants.models import MerchantAPIKey
from tests.merchants.factories import MerchantFactory, StaffFactory, issue_key


@pytest.mark.django_db
def test_a_staff_actor_is_recorded_as_its_user_and_labelled_by_username():
    user = StaffFactory(username="ops-ana")
    actor = Actor.staff(user)
    assert actor_fields(actor) == {"actor": user, "api_key_id": None}
    assert actor_fields(actor, user_field="author") == {"author": user, "api_key_id": None}
    assert actor.label == "ops-ana"
    assert history_user(actor) == user


@pytest.mark.django_db
def test_an_api_key_actor_is_recorded_as_the_key_not_its_creator():
    creator = StaffFactory()
    key, _ = issue_key(MerchantFactory())
    MerchantAPIKey.objects.filter(pk=key.pk).update(created_by=creator)
    actor = Actor.api_key(key)
    assert actor_fields(actor) == {"actor": None, "api_key_id": key.pk}
    assert actor.label == f"API key {key.prefix}"
    assert history_user(actor) is None
    assert recorded_actor_label(user=None, api_key_id=key.pk) == f"API key {key.prefix}"


def test_a_job_and_a_member_record_no_user_nor_key_and_are_labelled_by_name():
    job = Actor.system("expire_points")
    assert actor_fields(job) == {"actor": None, "api_key_id": None}
    assert job.label == "expire_points"
    assert Actor.member().label == "member"
    assert recorded_actor_label(user=None, api_key_id=None) == ""


def test_a_missing_or_anonymous_user_is_the_system_never_a_staff_member():
    assert Actor.staff(AnonymousUser()).kind == "system"
    assert Actor.staff(None) == Actor.system()
    assert actor_label(Actor.staff(None)) == "system"


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["user", "anonymous", "none"])
def test_a_bare_user_or_none_is_refused_where_an_actor_is_expected(given):
    bare = {"user": StaffFactory(), "anonymous": AnonymousUser(), "none": None}[given]
    for helper in (actor_fields, actor_label, actor_user, actor_api_key_id, history_user):
        with pytest.raises(TypeError, match=r"actor must be a core\.actors\.Actor"):
            helper(bare)
