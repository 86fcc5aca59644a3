"""The team page and the portal-team services: invite, role change, removal; the last
owner stays; each change is an event naming who acted."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from core.actors import Actor
from core.exceptions import DomainError, NotFound
from merchants.exceptions import AlreadyOnTeam, LastOwner
from merchants.models import MerchantEvent, MerchantMembership
from merchants.selectors import membership_get, membership_list
from merchants.services.team import membership_remove, membership_role_change, portal_user_invite
from tests.portals.factories import portal_user, signed_in

pytestmark = pytest.mark.django_db


def events(merchant) -> list[tuple[str, str]]:
    return list(
        MerchantEvent.objects.filter(merchant=merchant, kind=MerchantEvent.Kind.MEMBERSHIP_SET)
        .order_by("id")
        .values_list("reason", "actor_label")
    )


def invite_link(message) -> str:
    match = re.search(r"https?://\S+/portal/password/reset/key/\S+", message.body)
    assert match, message.body
    return "/" + match[0].split("/", 3)[3]


def test_owner_invites_by_email_and_the_link_sets_a_password_to_sign_in(
    merchant, django_capture_on_commit_callbacks
):
    owner = portal_user(merchant, "owner", email="olga@example.com")
    client = signed_in(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portals:team"), {"email": "New.Person@Example.com", "role": "analyst"}
        )

    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    assert MerchantMembership.objects.get(user=user).role == "analyst"
    assert events(merchant)[-1] == ("new.person@example.com invited as analyst", owner.email)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.com"]
    assert "Acme Coffee" in mail.outbox[0].subject

    newcomer = Client()
    form = newcomer.get(invite_link(mail.outbox[0]), follow=True)
    assert form.status_code == 200
    password = "my own long passphrase 77"
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else invite_link(mail.outbox[0])
    assert newcomer.post(set_url, {"password1": password, "password2": password}).status_code == 302
    signed = newcomer.post(
        reverse("account_login"), {"login": "new.person@example.com", "password": password}
    )
    assert signed.status_code == 302
    assert "Acme Coffee" in newcomer.get(reverse("portals:dashboard")).content.decode()


def test_an_invitation_link_works_once(merchant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        portal_user_invite(
            merchant=merchant, email="once@example.com", role="support", actor=Actor.system("t")
        )
    link = invite_link(mail.outbox[0])
    client = Client()
    form = client.get(link, follow=True)
    set_url = form.redirect_chain[-1][0]
    password = "first long passphrase 1"
    done = client.post(set_url, {"password1": password, "password2": password})
    assert done.status_code == 302

    again = Client().get(link, follow=True)
    assert "invalid" in again.content.decode().lower()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "role": "analyst"}, "email"),
        ({"email": "", "role": "analyst"}, "email"),
        ({"email": "ok@example.com", "role": "boss"}, "role"),
        ({"email": "ok@example.com"}, "role"),
    ],
)
def test_bad_invitations_are_refused_with_the_field_and_change_nothing(merchant, data, field):
    client = signed_in(portal_user(merchant, "owner"))
    before = MerchantMembership.objects.count()

    response = client.post(reverse("portals:team"), data)

    assert response.status_code == 400
    assert response.context["invite"].errors[field]
    assert MerchantMembership.objects.count() == before
    assert len(mail.outbox) == 0


def test_inviting_someone_already_on_the_team_is_refused(merchant):
    owner = portal_user(merchant, "owner")
    portal_user(merchant, "support", email="sam@example.com")
    client = signed_in(owner)

    response = client.post(reverse("portals:team"), {"email": "SAM@example.com", "role": "owner"})

    assert response.status_code == 400
    assert "already on the team" in response.content.decode()
    assert MerchantMembership.objects.get(user__email="sam@example.com").role == "support"


def test_inviting_a_user_of_another_merchant_adds_a_membership_to_the_same_user(
    merchant, other_merchant, django_capture_on_commit_callbacks
):
    elsewhere = portal_user(other_merchant, "owner", email="both@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        membership = portal_user_invite(
            merchant=merchant, email="both@example.com", role="analyst", actor=Actor.system("t")
        )
    assert membership.user == elsewhere
    elsewhere.refresh_from_db()
    assert elsewhere.has_usable_password()
    assert MerchantMembership.objects.filter(user=elsewhere).count() == 2
    # Their email has no link that would reset the password they already use.
    assert "/portal/password/reset/key/" not in mail.outbox[0].body
    assert "/portal/login/" in mail.outbox[0].body


def test_the_service_refuses_bad_input_as_domain_errors(merchant):
    actor = Actor.system("t")
    with pytest.raises(DomainError) as bad_email:
        portal_user_invite(merchant=merchant, email="nope", role="owner", actor=actor)
    assert bad_email.value.field == "email"
    with pytest.raises(DomainError) as bad_role:
        portal_user_invite(merchant=merchant, email="a@example.com", role="x", actor=actor)
    assert bad_role.value.field == "role"
    portal_user_invite(merchant=merchant, email="a@example.com", role="owner", actor=actor)
    with pytest.raises(AlreadyOnTeam):
        portal_user_invite(merchant=merchant, email="A@example.com", role="owner", actor=actor)


def test_owner_changes_a_role_and_the_event_names_them(merchant):
    owner = portal_user(merchant, "owner")
    sam = portal_user(merchant, "support", email="sam@example.com")
    membership = MerchantMembership.objects.get(user=sam)
    client = signed_in(owner)

    page = client.get(reverse("portals:team_role", args=[membership.pk]))
    assert page.status_code == 200
    response = client.post(reverse("portals:team_role", args=[membership.pk]), {"role": "analyst"})

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "analyst"
    assert events(merchant)[-1] == ("sam@example.com: support → analyst", owner.email)
    bad = client.post(reverse("portals:team_role", args=[membership.pk]), {"role": "king"})
    assert bad.status_code == 400


def test_the_last_owner_cannot_be_demoted_or_removed_even_by_themselves(merchant):
    owner = portal_user(merchant, "owner")
    mine = MerchantMembership.objects.get(user=owner)
    client = signed_in(owner)

    demoted = client.post(reverse("portals:team_role", args=[mine.pk]), {"role": "analyst"})
    removed = client.post(reverse("portals:team_remove", args=[mine.pk]))

    assert demoted.status_code == 400
    assert "someone else an owner" in demoted.content.decode()
    assert removed.status_code == 409
    mine.refresh_from_db()
    assert mine.role == "owner"
    team = client.get(reverse("portals:team")).content.decode()
    assert "Last owner" in team


def test_with_two_owners_one_may_step_down_and_then_the_other_is_the_last(merchant):
    first = portal_user(merchant, "owner")
    second = portal_user(merchant, "owner")
    actor = Actor.portal(first)
    mine = MerchantMembership.objects.get(user=first)
    theirs = MerchantMembership.objects.get(user=second)

    membership_role_change(merchant=merchant, membership_id=mine.pk, role="analyst", actor=actor)

    with pytest.raises(LastOwner):
        membership_remove(merchant=merchant, membership_id=theirs.pk, actor=actor)


def test_owner_removes_a_member_who_loses_access_at_once(merchant):
    owner = portal_user(merchant, "owner")
    sam = portal_user(merchant, "support", email="sam@example.com")
    sams_browser = signed_in(sam)
    assert sams_browser.get(reverse("portals:members")).status_code == 200
    membership = MerchantMembership.objects.get(user=sam)
    client = signed_in(owner)

    assert client.get(reverse("portals:team_remove", args=[membership.pk])).status_code == 200
    response = client.post(reverse("portals:team_remove", args=[membership.pk]))

    assert response.status_code == 302
    assert not MerchantMembership.objects.filter(pk=membership.pk).exists()
    assert get_user_model().objects.filter(pk=sam.pk).exists()
    assert events(merchant)[-1] == ("sam@example.com removed from the team", owner.email)
    assert sams_browser.get(reverse("portals:members")).status_code == 403


def test_an_owner_may_remove_themselves_when_another_owner_remains(merchant):
    first = portal_user(merchant, "owner")
    portal_user(merchant, "owner")
    client = signed_in(first)
    mine = MerchantMembership.objects.get(user=first)

    response = client.post(reverse("portals:team_remove", args=[mine.pk]))

    assert response.status_code == 302
    assert client.get(reverse("portals:dashboard")).status_code == 403


def test_team_services_and_selectors_refuse_another_merchants_membership(merchant, other_merchant):
    portal_user(merchant, "owner")
    stranger = portal_user(other_merchant, "analyst")
    theirs = MerchantMembership.objects.get(user=stranger)
    actor = Actor.system("t")

    with pytest.raises(NotFound):
        membership_get(merchant=merchant, pk=theirs.pk)
    with pytest.raises(NotFound):
        membership_get(merchant=merchant, pk="x")
    with pytest.raises(NotFound):
        membership_role_change(
            merchant=merchant, membership_id=theirs.pk, role="owner", actor=actor
        )
    with pytest.raises(NotFound):
        membership_remove(merchant=merchant, membership_id=theirs.pk, actor=actor)
    assert stranger not in [m.user for m in membership_list(merchant=merchant)]
    theirs.refresh_from_db()
    assert theirs.role == "analyst"


def test_the_team_page_lists_the_team_with_roles_and_invited_state(merchant):
    owner = portal_user(merchant, "owner", email="olga@example.com")
    portal_user_invite(
        merchant=merchant, email="pending@example.com", role="support", actor=Actor.portal(owner)
    )
    page = signed_in(owner).get(reverse("portals:team")).content.decode()
    assert "olga@example.com" in page
    assert "pending@example.com" in page
    assert "Invited" in page
    assert "You" in page
