"""Every fraud check of a referral, alone and together, and the verdict it gives
(``loyalty.referrals.checks``)."""

import pytest

from loyalty.referrals.checks import Facts, Person, Verdict, referral_check
from loyalty.referrals.identity import address_key, email_key, phone_key

ADVOCATE = Person(
    member_id=1,
    email=email_key("ana.lima@gmail.com"),
    phone=phone_key("06 12 34 56 78", "FR"),
    address=address_key(["12 rue de l'Église"], "75004", "FR"),
    ip="203.0.113.7",
    device="fp-ana",
)
FRIEND = Person(
    member_id=2,
    email=email_key("bo@example.com"),
    phone=phone_key("+33 7 00 00 00 01"),
    address=address_key(["3 quai Voltaire"], "75007", "FR"),
    ip="198.51.100.4",
    device="fp-bo",
)


def check(friend=FRIEND, *, ordered_before=False, this_week=1, limit=10, advocate=ADVOCATE):
    facts = Facts(
        advocate=advocate,
        friend=friend,
        friend_ordered_before=ordered_before,
        advocate_referrals_this_week=this_week,
    )
    return referral_check(facts, weekly_limit=limit)


def codes(result) -> list[str]:
    return [reason.code for reason in result.reasons]


def test_a_new_customer_brought_by_someone_else_is_clear():
    result = check()
    assert (result.verdict, result.reasons) == (Verdict.CLEAR, ())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"member_id": 1}, "self_referral"),
        ({"email": email_key("analima+friend@googlemail.com")}, "same_email"),
        ({"phone": phone_key("+33612345678")}, "same_phone"),
    ],
)
def test_the_advocate_under_another_name_is_blocked(changes, code):
    friend = Person(**{**FRIEND.__dict__, **changes})
    result = check(friend)
    assert result.verdict == Verdict.BLOCKED
    assert codes(result) == [code]
    assert all(reason.blocks for reason in result.reasons)


def test_a_customer_who_had_ordered_before_is_blocked():
    result = check(ordered_before=True)
    assert (result.verdict, codes(result)) == (Verdict.BLOCKED, ["not_a_new_customer"])


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"address": address_key(["12, Rue de l'Eglise"], "75 004", "fr")}, "same_address"),
        ({"ip": "203.0.113.7"}, "same_ip"),
        ({"device": "fp-ana"}, "same_device"),
    ],
)
def test_what_a_household_or_an_office_shares_is_flagged_for_a_review(changes, code):
    result = check(Person(**{**FRIEND.__dict__, **changes}))
    assert (result.verdict, codes(result)) == (Verdict.FLAGGED, [code])
    assert not result.reasons[0].blocks


def test_more_referrals_in_a_week_than_the_program_allows_are_flagged():
    assert check(this_week=10, limit=10).verdict == Verdict.CLEAR
    result = check(this_week=11, limit=10)
    assert (result.verdict, codes(result)) == (Verdict.FLAGGED, ["too_many_referrals"])
    assert "11 referrals in a week" in result.reasons[0].words


def test_unknown_keys_never_match():
    nobody = Person(member_id=None)
    assert check(nobody, advocate=Person(member_id=None)).verdict == Verdict.CLEAR


def test_every_reason_is_kept_and_a_block_wins_over_a_flag():
    friend = Person(**{**FRIEND.__dict__, "phone": ADVOCATE.phone, "ip": ADVOCATE.ip})
    result = check(friend, ordered_before=True, this_week=30)
    assert result.verdict == Verdict.BLOCKED
    assert codes(result) == ["same_phone", "not_a_new_customer", "same_ip", "too_many_referrals"]
