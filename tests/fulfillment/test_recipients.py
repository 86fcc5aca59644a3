"""Delivery details checked per country: phone numbers are read as the delivery country
reads them, kept in E.164, and must belong to that country."""

import pytest

from fulfillment import recipients


def phone_check(phone, country: str) -> tuple[dict, dict[str, str]]:
    return recipients.validate(["phone"], {"phone": phone}, country)


@pytest.mark.parametrize(
    ("country", "given", "stored"),
    [
        ("US", "(201) 555-0123", "+12015550123"),
        ("US", "+1 415 555 0100", "+14155550100"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("GB", "+44 20 7946 0958", "+442079460958"),
        ("GB", "0044 20 7946 0958", "+442079460958"),
        ("FR", "06 12 34 56 78", "+33612345678"),
        ("FR", "+33 1 42 68 53 00", "+33142685300"),
        ("JP", "090-1234-5678", "+819012345678"),
        ("JP", "03-1234-5678", "+81312345678"),
        ("KW", "500 12345", "+96550012345"),
        ("KW", "+965 2222 1234", "+96522221234"),
    ],
)
def test_a_valid_number_of_the_delivery_country_is_kept_in_e164(country, given, stored):
    cleaned, errors = phone_check(given, country)

    assert errors == {}
    assert cleaned == {"phone": stored}


@pytest.mark.parametrize(
    ("country", "given"),
    [
        ("US", "555 123 4567"),  # no such area code
        ("US", "415 555"),
        ("GB", "020 7946 095"),  # a digit short
        ("FR", "01 23 45"),
        ("JP", "+81 12"),
        ("KW", "+965 1234 5678"),  # no Kuwaiti number starts with 1
        ("KW", "500 1234"),
        ("GB", "not a number"),
    ],
)
def test_a_number_that_is_not_valid_in_the_delivery_country_is_refused(country, given):
    cleaned, errors = phone_check(given, country)

    assert cleaned == {}
    assert set(errors) == {"recipient.phone"}
    assert country in errors["recipient.phone"]
    assert "phone number" in errors["recipient.phone"]


@pytest.mark.parametrize(
    ("country", "given", "origin"),
    [
        ("US", "+44 20 7946 0958", "GB"),
        ("US", "+1 416 555 0100", "CA"),  # the same +1, another country
        ("GB", "+1 201 555 0123", "US"),
        ("FR", "+81 90 1234 5678", "JP"),
        ("JP", "+33 6 12 34 56 78", "FR"),
        ("KW", "+971 50 123 4567", "AE"),
    ],
)
def test_a_number_of_another_country_is_refused_naming_both(country, given, origin):
    cleaned, errors = phone_check(given, country)

    assert cleaned == {}
    message = errors["recipient.phone"]
    assert message.startswith(f"The reward is delivered in {country} only")
    assert f"(this one is of {origin})" in message


def test_a_national_number_is_read_as_the_delivery_countrys():
    # The same digits are a London number in GB and nothing at all in the US.
    assert phone_check("020 7946 0958", "GB")[0] == {"phone": "+442079460958"}
    assert "recipient.phone" in phone_check("020 7946 0958", "US")[1]


@pytest.mark.parametrize("given", [None, "", "   ", 4155550100, "+1" + "2" * 40, "+1415\x000100"])
def test_a_missing_or_malformed_phone_asks_for_one_with_an_example(given):
    cleaned, errors = phone_check(given, "US")

    assert cleaned == {}
    assert errors == {"recipient.phone": "A phone number in US is required, e.g. +1 201-555-0123."}


def test_the_example_in_the_message_is_the_delivery_countrys():
    _, errors = phone_check("", "FR")

    assert errors["recipient.phone"].endswith("e.g. +33 6 12 34 56 78.")


def test_a_country_without_numbering_metadata_takes_any_valid_international_number():
    # Antarctica has no numbering plan of its own: stations use their home country's.
    assert phone_check("+44 20 7946 0958", "AQ") == ({"phone": "+442079460958"}, {})
    assert "recipient.phone" in phone_check("020 7946 0958", "AQ")[1]
    assert "recipient.phone" in phone_check("+44 20 7946 095", "AQ")[1]


def test_only_the_fields_the_reward_needs_are_checked_and_kept():
    cleaned, errors = recipients.validate(
        ["email", "phone"],
        {"email": "ana@example.com", "phone": "06 12 34 56 78", "note": "leave it"},
        "FR",
    )

    assert errors == {}
    assert cleaned == {"email": "ana@example.com", "phone": "+33612345678"}


@pytest.mark.parametrize(
    ("country", "phone", "stored"),
    [
        ("GB", "+44 7797 123456", "+447797123456"),  # Jersey
        ("US", "+1 787 234 5678", "+17872345678"),  # Puerto Rico
    ],
)
def test_numbers_of_a_countrys_territories_are_its_own(country, phone, stored):
    cleaned, errors = recipients.validate(["phone"], {"phone": phone}, country)
    assert errors == {}
    assert cleaned["phone"] == stored


def test_a_canadian_number_is_still_not_a_us_number():
    _, errors = recipients.validate(["phone"], {"phone": "+1 416 555 0123"}, "US")
    assert "recipient.phone" in errors
