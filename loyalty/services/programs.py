"""The merchant's loyalty program: configured (its terms never touch points already
earned), and the expiry of a lot earned under it."""

import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import transaction

from core.actors import Actor
from core.hooks import app_hooks
from loyalty import locks
from loyalty.exceptions import NoActiveProgram
from loyalty.models import ExpiryPolicy, Program
from merchants.models import ChecklistItem, Merchant
from merchants.services.lifecycle import checklist_item_complete


def program_get_active(*, merchant: Merchant) -> Program:
    try:
        return Program.objects.get(merchant=merchant, is_active=True)
    except Program.DoesNotExist:
        raise NoActiveProgram("Configure the merchant's program first.") from None


@transaction.atomic
def program_configure(*, merchant: Merchant, actor: Actor, **terms: Any) -> Program:
    """Create or change the merchant's active program; ticks "program configured".

    Changing terms never touches points already earned: those live in the ledger."""
    program = locks.program_lock_active(merchant=merchant)
    if program is None:
        program = Program(merchant=merchant, currency=merchant.default_currency)
    for name, value in terms.items():
        setattr(program, name, value)
    return program_save(program=program, actor=actor)


@transaction.atomic
def program_save(*, program: Program, actor: Actor) -> Program:
    """Validate and save a program (the admin's form builds it); an active one ticks the
    merchant's "program configured" checklist item."""
    if not program.currency:
        program.currency = program.merchant.default_currency
    program.full_clean()
    program.save()
    # Apps that derive something from the program (the catalog's point prices) follow.
    for hook in app_hooks("on_program_saved"):
        hook(program=program)
    if program.is_active:
        checklist_item_complete(
            merchant=program.merchant,
            item=ChecklistItem.PROGRAM_CONFIGURED,
            note=f"program {program.name}",
            actor=actor,
        )
    return program


def lot_expiry(program: Program, earned_at: datetime.datetime) -> datetime.datetime | None:
    if program.expiry_policy == ExpiryPolicy.LOT_AGE:
        return earned_at + relativedelta(months=program.expiry_months)
    return None
