"""A delivered code read in clear: every reading is a ``CodeReveal`` row (who saw it and
how: a staff user in the admin, an API key, the member's claim page).

A reveal is a write, so it is its own call, made once by the view that shows the codes;
a serializer or a list never reveals (reads never write).
"""

import datetime
from dataclasses import dataclass, field

from django.db import transaction

from core.actors import Actor, actor_user
from fulfillment.models import CodeReveal, DeliveredCode, Redemption, RedemptionStatus

REVEAL_VIAS = ("admin", "api", "claim_page")


@dataclass(frozen=True)
class ClearCode:
    """A delivered code in clear; kept out of ``repr`` so a log line never shows it."""

    code: str = field(repr=False)
    pin: str = field(default="", repr=False)
    claim_url: str = field(default="", repr=False)
    expires_on: datetime.date | None = None


def code_reveal(
    *, code: DeliveredCode, via: str, api_key_prefix: str = "", actor: Actor
) -> ClearCode:
    """The code in clear; records who saw it and how (a staff user, or an API key)."""
    if via not in REVEAL_VIAS:
        raise ValueError(f"via: one of {', '.join(REVEAL_VIAS)}")
    CodeReveal.objects.create(
        code=code, via=via, user=actor_user(actor), api_key_prefix=api_key_prefix[:16]
    )
    return _clear(code)


def redemption_codes_reveal(
    *, redemption: Redemption, api_key_prefix: str, actor: Actor
) -> list[ClearCode]:
    """A delivered redemption's codes in clear for the store API, each reading recorded
    against the key; none for a redemption not delivered, or voided by a reissue (its
    codes no longer count)."""
    if redemption.status != RedemptionStatus.DELIVERED or redemption.voided_at is not None:
        return []
    codes = list(redemption.codes.all())
    with transaction.atomic():
        CodeReveal.objects.bulk_create(
            CodeReveal(
                code=code, via="api", user=actor_user(actor), api_key_prefix=api_key_prefix[:16]
            )
            for code in codes
        )
    return [_clear(code) for code in codes]


def _clear(code: DeliveredCode) -> ClearCode:
    return ClearCode(
        code=code.code, pin=code.pin, claim_url=code.claim_url, expires_on=code.expires_on
    )
