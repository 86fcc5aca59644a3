"""The merchant's history: every write to merchant data records a ``MerchantEvent``
through ``merchant_event_record``, naming who acted."""

from core.actors import Actor, actor_fields, actor_label
from merchants.models import Merchant, MerchantEvent


def merchant_event_record(
    *, merchant: Merchant, kind: str, actor: Actor, **fields: str
) -> MerchantEvent:
    return MerchantEvent.objects.create(
        merchant=merchant,
        kind=kind,
        **actor_fields(actor),
        actor_label=actor_label(actor),
        **fields,
    )
