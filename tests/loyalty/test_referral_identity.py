"""The keys under which two customers count as the same person for the self-referral
checks (``loyalty.referrals.identity``)."""

import pytest

from loyalty.referrals.identity import address_key, email_key, phone_key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Ana.Lima@Gmail.com", "analima@gmail.com"),
        ("ana.lima+promo@gmail.com", "analima@googlemail.com"),
        ("a.n.a+x+y@googlemail.com", "ana@gmail.com"),
        ("ana+shop@outlook.com", "ANA@outlook.com"),
        ("  ana@icloud.com ", "ana+1@icloud.com"),
    ],
)
def test_addresses_that_reach_one_mailbox_have_one_key(one, other):
    assert email_key(one) == email_key(other) is not None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ana.lima@example.com", "analima@example.com"),  # dots count elsewhere
        ("ana+shop@example.com", "ana@example.com"),  # so do plus signs
        ("ana.lima@outlook.com", "analima@outlook.com"),  # Outlook keeps dots
        ("ana@gmail.com", "ana@gmail.co"),
    ],
)
def test_different_mailboxes_keep_different_keys(one, other):
    assert email_key(one) != email_key(other)


@pytest.mark.parametrize("email", ["", "ana", "@gmail.com", "ana@", "+tag@gmail.com", "a@b@c"])
def test_what_is_not_an_address_has_no_key(email):
    assert email_key(email) is None


def test_phone_numbers_compare_in_e164_read_in_the_customers_country():
    assert phone_key("06 12 34 56 78", "FR") == phone_key("+33 6 12 34 56 78") == "+33612345678"
    assert phone_key("(415) 555-0134", "us") == "+14155550134"
    assert phone_key("06 12 34 56 78", "DE") != phone_key("06 12 34 56 78", "FR")
    for nothing in ("", "   ", "not a phone", "12", "06 12 34 56 78"):  # the last: no country
        assert phone_key(nothing) is None


def test_postal_addresses_compare_without_case_accents_or_punctuation():
    one = address_key(["12, Rue de l'Église", "Bât. B"], "75 004", "fr")
    other = address_key(["12 rue de l eglise", "bat  b"], "75004", "FR")
    assert one == other == "FR|75004|12 rue de l eglise bat b"
    assert address_key(["12 rue de l'Église"], "75004", "FR") != one  # another building
    assert address_key(["12 rue de l'Église", "Bât. B"], "75005", "FR") != one
    assert address_key(["", " , "], "75004", "FR") is None
