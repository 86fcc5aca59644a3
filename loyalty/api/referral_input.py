"""What a store may send with a new member or an order about a referral: the advocate's
code, and what it saw of the customer for the fraud checks."""

from rest_framework import serializers

from core.api.fields import IPAddressField, StrictCharField

REFERRAL_CODE_PATTERN = r"^[A-Za-z0-9]{4,16}$"


class AddressSerializer(serializers.Serializer):
    lines = serializers.ListField(
        child=StrictCharField(max_length=200),
        min_length=1,
        max_length=4,
        help_text='The street lines, e.g. ["12 rue de l\'Église", "Apt 4"].',
    )
    postal_code = StrictCharField(required=False, allow_blank=True, max_length=20, default="")
    country = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        pattern=r"^([A-Za-z]{2})?$",
        pattern_message="Give an ISO 3166-1 alpha-2 country code.",
        help_text="ISO 3166-1 alpha-2.",
    )


class ReferralDetailsSerializer(serializers.Serializer):
    """What the store saw of the customer, for the referral checks: kept (the address as
    a digest only) and compared with the friends this member refers later."""

    client_ip = IPAddressField(required=False, help_text="The customer's IP.")
    device_id = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=128,
        default="",
        help_text="A device fingerprint of the store's.",
    )
    address = AddressSerializer(
        required=False, help_text="A postal address (kept as a digest for the checks)."
    )


class ReferralFieldsMixin(serializers.Serializer):
    referral_code = StrictCharField(
        required=False,
        pattern=REFERRAL_CODE_PATTERN,
        pattern_message="A referral code is 4 to 16 letters or digits.",
        help_text="The code of the member who referred this customer (from their link's "
        "`?ref=`). An unknown code is a 400 `referral_code_unknown`; a customer is "
        "referred once, and sending it again changes nothing.",
        example="K7QM2XPA",
    )
    referral = ReferralDetailsSerializer(required=False)
