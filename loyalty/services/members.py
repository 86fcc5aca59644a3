"""Members: created or updated from the store's records, anonymised on request, their
points adjusted by hand; and the member an order or activity is for, locked (created when
new, in one statement for a batch's new members)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import sql
from django.db.models.constants import OnConflict
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import DomainError, NotFound
from loyalty import events, ledger, locks
from loyalty.attributes import attributes_clean, attributes_kept_on_erasure
from loyalty.batch import WriteBatch
from loyalty.exceptions import MemberNotActive
from loyalty.models import LedgerEntry, Member, MemberStatus, Tier
from loyalty.program_config import ProgramConfig
from loyalty.referrals.services import (
    ReferralInput,
    referral_identity_erase,
    referral_input_attach,
)
from loyalty.selectors import attribute_schema
from loyalty.services.programs import lot_expiry, program_get_active
from merchants.models import Merchant

MEMBER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "locale",
    "birthday",
    "marketing_consent",
    "attributes",
)


def _clean_member_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name in MEMBER_FIELDS}


def member_is_anonymised(*, member: Member) -> bool:
    """Whether the member's personal data was erased: such a member is never updated
    (by the API, an import) nor anonymised again."""
    return member.status == MemberStatus.ANONYMISED


@transaction.atomic
def member_upsert(
    *,
    merchant: Merchant,
    external_id: str,
    fields: dict[str, Any],
    referral: ReferralInput | None = None,
    actor: Actor | None = None,
) -> tuple[Member, bool]:
    """Create the member, or update the fields given; returns (member, created). Fields
    are validated before anything is written. A member's profile keeps no history (the
    store's records are the source of it): the ``actor`` is the one of the ``referral``
    the store may send with it (a code, what it saw of the customer), attached in the
    same transaction. A new member is a ``member.created`` event, a change of a field's
    value a ``member.updated`` one."""
    if referral is not None and actor is None:
        raise TypeError("a referral needs the actor who sent it")
    values = _clean_member_fields(fields)
    if values.get("attributes") is not None:
        values["attributes"] = attributes_clean(
            attribute_schema(merchant=merchant), values["attributes"]
        )
    member = locks.member_lock_by_external_id(merchant=merchant, external_id=external_id)
    created = member is None
    if created:
        member = Member(merchant=merchant, external_id=external_id)
    elif values and member_is_anonymised(member=member):
        raise MemberNotActive("An anonymised member cannot be updated.")
    before = {name: getattr(member, name) for name in values}
    for name, value in values.items():
        setattr(member, name, value)
    # Uniqueness was settled by the lookup above and the CHECK constraints concern balances
    # a profile change cannot touch: the database still enforces both.
    member.full_clean(
        exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False
    )
    if created:
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError:
            # Created meanwhile by a concurrent request: update that one instead.
            return member_upsert(
                merchant=merchant,
                external_id=external_id,
                fields=fields,
                referral=referral,
                actor=actor,
            )
        events.member_created_publish(member=member)
    elif values:
        member.save(update_fields=[*values, "updated_at"])
        changed = [name for name in values if getattr(member, name) != before[name]]
        if changed:
            events.member_updated_publish(member=member, changed=changed)
    if referral is not None and actor is not None:
        referral_input_attach(merchant=merchant, member=member, data=referral, actor=actor)
    return member, created


@transaction.atomic
def member_anonymise(*, merchant: Merchant, member: Member) -> Member:
    """Erase personal data on request (the CRM attributes the schema does not mark as
    non-personal too); the ledger, orders and balances stay whole. No
    actor: nothing about the request is kept beside the member (``anonymised_at`` only)."""
    member = locks.member_lock_of(merchant=merchant, member_id=member.pk)
    member.email = ""
    member.phone = ""
    member.first_name = ""
    member.last_name = ""
    member.country = ""
    member.locale = ""
    member.birthday = None
    member.marketing_consent = False
    member.attributes = attributes_kept_on_erasure(
        attribute_schema(merchant=merchant), member.attributes or {}
    )
    member.status = MemberStatus.ANONYMISED
    member.anonymised_at = timezone.now()
    member.save()
    referral_identity_erase(member=member)
    return member


# The largest correction one adjustment makes, either way (the API's and the admin's).
ADJUST_POINTS_MAX = 10**12


def member_adjust_points(
    *, merchant: Merchant, member: Member, points: int, reason: str, actor: Actor
) -> LedgerEntry:
    """A correction, plus or minus, with a reason and who made it (a staff user, or the
    store's key through the API) recorded."""
    program = program_get_active(merchant=merchant)
    now = timezone.now()
    return ledger.points_adjust(
        member=member,
        points=points,
        reason=reason,
        at=now,
        expires_at=lot_expiry(program, now),
        source_ref=user.get_username() if (user := actor_user(actor)) is not None else "",
        actor=actor,
    )


def member_locked(merchant: Merchant, external_id: str, fields: dict[str, Any] | None) -> Member:
    """The member an order or activity is for, row-locked and annotated with the merchant's
    ``config_version`` as of this transaction; an unknown member is created with ``fields``
    (a known member's profile is left as it is), or, when ``fields`` is None, is a 404.
    The caller puts the tier on it with ``member_tier_attach`` once it has the program's
    configuration."""
    try:
        member = locks.member_lock_with_config_version(merchant=merchant, external_id=external_id)
    except Member.DoesNotExist:
        return member_new_locked(merchant, external_id, fields)
    _member_check_active(member)
    return member


def member_new_locked(
    merchant: Merchant, external_id: str, fields: dict[str, Any] | None
) -> Member:
    """``member_locked`` for a member its lock found unknown: created with ``fields`` (or,
    when ``fields`` is None, a 404), then locked."""
    if fields is None:
        raise NotFound("No member with that external_id.", field="member")
    new = Member(merchant=merchant, external_id=external_id, **_clean_member_fields(fields))
    new.full_clean(exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False)
    # INSERT ... ON CONFLICT DO NOTHING: when a concurrent request creates the same
    # member, its row wins (this waits for it) and is the one locked below, and only the
    # request whose row went in reports the new member.
    created = _member_insert(new)
    member = locks.member_lock_with_config_version(merchant=merchant, external_id=external_id)
    if created:
        events.member_created_publish(member=member)
    _member_check_active(member)
    return member


def member_locked_or_read(merchant: Merchant, external_id: str) -> tuple[Member, bool] | None:
    """The known member an order is for, without waiting: ``(member, True)`` locked and
    annotated as ``member_locked`` gives them when no other transaction holds their row;
    ``(member, False)`` when one does: the row as last committed, unlocked (the caller
    waits for it with ``member_locked`` later); None for an unknown member (the caller
    creates them with ``member_new_locked``)."""
    found = locks.member_lock_or_read(merchant=merchant, external_id=external_id)
    if found is not None and found[1]:
        _member_check_active(found[0])
    return found


def _member_check_active(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {member.status}.", field="member")


def _member_insert(member: Member) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING``: whether the row went in. One
    statement, as ``bulk_create(ignore_conflicts=True)``, which cannot say so."""
    return member.external_id in _members_insert([member])


def _members_insert(members: list[Member]) -> set[str]:
    """Insert ``members`` in one statement, skipping those that exist (a concurrent
    request's row wins); returns the ``external_id`` of those that went in."""
    if not members:
        return set()
    using = router.db_for_write(Member)
    fields = [f for f in Member._meta.concrete_fields if not f.primary_key]
    query = sql.InsertQuery(Member, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, members)
    compiler = query.get_compiler(using=using)
    features = compiler.connection.features
    returning = (
        features.can_return_rows_from_bulk_insert
        if len(members) > 1
        else features.can_return_columns_from_insert
    )
    if returning:
        compiler.returning_fields = [Member._meta.get_field("external_id")]
    inserted: set[str] = set()
    with compiler.connection.cursor() as cursor:
        for statement, params in compiler.as_sql():
            cursor.execute(statement, params)
            if returning:
                inserted.update(row[0] for row in cursor.fetchall())
            elif cursor.rowcount == len(members):
                inserted.update(member.external_id for member in members)
    return inserted


def members_create_quietly(
    *, merchant: Merchant, fields_by_external_id: dict[str, dict[str, Any]]
) -> dict[str, DomainError]:
    """Create the members an order batch names that do not exist yet, each with its
    first order's profile fields, as a single order creates one; a member created
    meanwhile by a concurrent request is left as it is. Returns the members whose fields
    are not valid, with why (they are not created)."""
    new, refused = [], {}
    for external_id, fields in fields_by_external_id.items():
        member = Member(merchant=merchant, external_id=external_id, **_clean_member_fields(fields))
        try:
            member.full_clean(
                exclude=["merchant", "tier"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            name, messages = next(iter(error.message_dict.items()))
            refused[external_id] = DomainError(" ".join(messages), field=f"member.{name}")
            continue
        new.append(member)
    inserted = _members_insert(new)
    batch = WriteBatch()
    for member in new:
        if member.external_id in inserted:
            events.member_created_publish(member=member, batch=batch)
    batch.execute()
    return refused


def member_tier_attach(member: Member, config: ProgramConfig) -> None:
    """Attach the locked member's tier: from the cached configuration when tiers are on
    (no query), otherwise read now, under the lock."""
    if member.tier_id is None:
        member.tier = None
        return
    for tier in config.tiers:
        if tier.pk == member.tier_id:
            member.tier = tier
            return
    member.tier = Tier.objects.get(pk=member.tier_id)
