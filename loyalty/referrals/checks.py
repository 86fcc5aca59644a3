"""The fraud checks of a referral: a pure function of what is known of the advocate, the
friend and the advocate's recent referrals. No ORM here; each check that fires is a
``Reason`` kept with the referral, so the admin's review queue says why.

A referral is **blocked** (it never earns) when it is plainly not a new customer brought
by someone else:

- the friend is the advocate (the same member), or reaches the same mailbox, or has the
  same phone number (``identity``: normalised);
- the friend had ordered before the referral (not a new customer).

It is **flagged** (it waits for a person in the admin to approve or reject it) when it
may be honest but often is not:

- the same postal address (a household refers its own members);
- the same IP address or device fingerprint, when the store sends them;
- the advocate has made more than the program's weekly limit of referrals.

Otherwise it is **clear**.
"""

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    CLEAR = "clear"
    FLAGGED = "flagged"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Person:
    """One side of a referral, by the keys ``identity`` makes (None: not known)."""

    member_id: int | None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    ip: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Facts:
    advocate: Person
    friend: Person
    friend_ordered_before: bool
    advocate_referrals_this_week: (
        int  # the advocate's referrals in the last 7 days, this one included
    )


@dataclass(frozen=True)
class Reason:
    code: str
    blocks: bool
    words: str


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    reasons: tuple[Reason, ...]


def _same(one: str | None, other: str | None) -> bool:
    return one is not None and one == other


def referral_check(facts: Facts, *, weekly_limit: int) -> Check:
    """Every check that fires, and the verdict they give together."""
    advocate, friend = facts.advocate, facts.friend
    same_member = advocate.member_id is not None and advocate.member_id == friend.member_id
    reasons = []
    if same_member:
        reasons.append(Reason("self_referral", True, "The friend is the advocate."))
    else:
        for code, one, other, words in (
            ("same_email", advocate.email, friend.email, "reaches the advocate's mailbox"),
            ("same_phone", advocate.phone, friend.phone, "has the advocate's phone number"),
        ):
            if _same(one, other):
                reasons.append(Reason(code, True, f"The friend {words}."))
    if facts.friend_ordered_before:
        reasons.append(Reason("not_a_new_customer", True, "The friend had ordered before."))
    if not same_member:
        for code, one, other, words in (
            ("same_address", advocate.address, friend.address, "lives at the advocate's address"),
            ("same_ip", advocate.ip, friend.ip, "came from the advocate's IP address"),
            ("same_device", advocate.device, friend.device, "used the advocate's device"),
        ):
            if _same(one, other):
                reasons.append(Reason(code, False, f"The friend {words}."))
    if facts.advocate_referrals_this_week > weekly_limit:
        reasons.append(
            Reason(
                "too_many_referrals",
                False,
                f"The advocate made {facts.advocate_referrals_this_week} referrals in a week "
                f"(the program allows {weekly_limit}).",
            )
        )
    if any(reason.blocks for reason in reasons):
        verdict = Verdict.BLOCKED
    elif reasons:
        verdict = Verdict.FLAGGED
    else:
        verdict = Verdict.CLEAR
    return Check(verdict=verdict, reasons=tuple(reasons))
