"""What the schemathesis run adds to its own checks (loaded through ``SCHEMATHESIS_HOOKS``).

Some rules cannot be written in OpenAPI: they tie two fields together (a refund's
currency is its order's, ``max_points`` is not below ``min_points``), depend on the time
(``placed_at`` at most a day ahead, a birthday not after today), on stored data (the
reward's denominations and delivery fields, a store or redemption that must exist) or on a
file's bytes. The schema says them in words; a request that meets the schema can still
break one, and is then refused with a 400 or 422. ``schemathesis.toml`` lets those
operations answer 400/422 to schema-valid data, and this check keeps that allowance
narrow: such a refusal must name one of those rules (its code, and the field when it has
one). Any other refusal of schema-valid data is a schema that says too little.
"""

import json

import schemathesis

# (code, field) an operation may refuse schema-valid data with; a field of None: any.
UNSTATED_RULES: dict[tuple[str, str], set[tuple[str, str | None]]] = {
    ("GET", "/api/v1/rewards/"): {("invalid_input", "max_points")},
    ("POST", "/api/v1/members/"): {
        ("invalid_input", "birthday"),  # 1900 to today
        ("invalid_input", "attributes"),  # no NUL anywhere inside, 10 kB
        ("invalid_input", "email"),  # Django's address rules are narrower than RFC 5322
        ("referral_code_unknown", "referral_code"),  # a code of one of the members
        ("referral_refused", "referral_code"),  # not the member's own; terms set
    },
    ("POST", "/api/v1/orders/"): {
        ("domain_error", "total"),  # the currency's decimal places; the converted size
        ("domain_error", "placed_at"),  # at most a day ahead
        ("domain_error", "store"),  # one of the merchant's stores
        ("exchange_rate_missing", None),  # a rate to the program's currency must exist
        ("referral_code_unknown", "referral_code"),
        ("referral_refused", "referral_code"),
        ("invalid_input", "member.birthday"),
        ("invalid_input", "member.attributes"),
        ("invalid_input", "member.email"),
    },
    ("POST", "/api/v1/orders/simulate/"): {
        ("domain_error", "total"),
        ("domain_error", "placed_at"),
        ("domain_error", "store"),
        ("domain_error", "assume.tier"),  # one of the program's tiers
        ("domain_error", "assume.segments"),  # the merchant's segments
        ("exchange_rate_missing", None),
        ("invalid_input", "member.birthday"),
        ("invalid_input", "member.attributes"),
        ("invalid_input", "member.email"),
    },
    ("POST", "/api/v1/orders/{external_id}/refunds/"): {
        ("domain_error", "currency"),  # the order's currency
        ("domain_error", "amount"),  # the order currency's decimal places
        ("refund_exceeds_order", "amount"),
    },
    ("POST", "/api/v1/activities/"): {
        ("domain_error", "custom_kind"),  # required when kind is custom
        ("domain_error", "occurred_at"),  # at most a day ahead
        ("invalid_input", "data"),  # no NUL anywhere inside, 10 kB
        ("invalid_input", "member.birthday"),
        ("invalid_input", "member.attributes"),
        ("invalid_input", "member.email"),
    },
    ("POST", "/api/v1/redemptions/"): {
        ("invalid_denomination", "denomination"),  # the reward's own values
        ("invalid_recipient", None),  # what the reward needs, in the member's country
        ("invalid_input", "recipient.email"),
        ("invalid_input", "recipient.postal_address.country"),
    },
    ("POST", "/api/v1/tickets/"): {
        ("invalid_input", "redemption"),  # one of the member's redemptions
        ("invalid_input", "order"),  # a missing-points claim names the order
        ("attachment_refused", "attachments"),  # PDF, PNG, JPEG, GIF or text by their bytes
    },
    ("POST", "/api/v1/tickets/{reference}/messages/"): {
        ("attachment_refused", "attachments"),
    },
}


@schemathesis.check
def positive_data_refused_only_by_unstated_rules(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    allowed = UNSTATED_RULES.get((case.method.upper(), case.operation.path))
    if allowed is None:
        return None  # positive_data_acceptance already fails it
    try:
        problem = json.loads(response.content)
    except ValueError:
        raise AssertionError("The refusal is not a problem document.") from None
    code = problem.get("code")
    fields = {error.get("attr") for error in problem.get("errors", [])}
    for rule_code, rule_field in allowed:
        if code == rule_code and (rule_field is None or rule_field in fields):
            return None
    raise AssertionError(
        f"Schema-valid data refused with `{code}` on {sorted(map(str, fields))}, "
        "which is no rule the schema leaves to words: state it in the schema."
    )
