import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.actors import SYSTEM
from core.staff_groups import staff_groups_sync
from merchants import services
from merchants.models import ChecklistItem, Merchant, MerchantStatus, Scope


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pass-word-123")


class StaffFactory(UserFactory):
    is_staff = True


def staff_in(*groups: str):
    """A staff user in the named staff groups (synced first, as a migration leaves them)."""
    staff_groups_sync()
    found = list(Group.objects.filter(name__in=groups))
    assert len(found) == len(groups), f"No such staff group among {groups}"
    user = StaffFactory()
    user.groups.add(*found)
    return user


class MerchantFactory(factory.Factory):
    """Builds merchants through ``merchant_create`` so each has its checklist and history.
    ``live=True`` walks it through the whole onboarding."""

    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    country = "US"
    default_currency = "USD"
    timezone_name = "UTC"

    @classmethod
    def _create(cls, model_class, *, live: bool = False, **kwargs):
        merchant = services.merchant_create(actor=SYSTEM, **kwargs)
        if live:
            make_live(merchant)
        return merchant

    _build = _create


def complete_checklist(merchant: Merchant) -> None:
    for item in ChecklistItem.values:
        services.checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)


def make_live(merchant: Merchant) -> Merchant:
    for step in (MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED):
        services.merchant_transition(merchant=merchant, to_status=step, reason="test", actor=SYSTEM)
    complete_checklist(merchant)
    services.merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="test", actor=SYSTEM
    )
    return merchant


def issue_key(merchant: Merchant, scopes=(Scope.READ, Scope.WRITE), **kwargs):
    return services.api_key_issue(
        merchant=merchant,
        name=kwargs.pop("name", "test key"),
        scopes=scopes,
        actor=SYSTEM,
        **kwargs,
    )
