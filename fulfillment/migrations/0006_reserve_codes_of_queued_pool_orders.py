"""Code pool orders queued before codes were reserved with the redemption get their
codes reserved now, so that dispatch, which delivers only reserved codes, can place
them. An order its pool cannot cover is left as it is: it fails and fails over, as it
would have."""

from django.db import migrations
from django.db.models import Q
from django.utils import timezone


def reserve(apps, schema_editor):
    SupplierOrder = apps.get_model("fulfillment", "SupplierOrder")
    CodePool = apps.get_model("catalog", "CodePool")
    VoucherCode = apps.get_model("catalog", "VoucherCode")
    now = timezone.now()
    today = timezone.localdate()
    orders = SupplierOrder.objects.filter(
        status="queued", stock_reserved=0, supplier__adapter="code_pool"
    ).select_related("redemption")
    for order in orders.order_by("id").iterator():
        pool = CodePool.objects.filter(offer_id=order.offer_id).first()
        if pool is None or pool.face_value != order.redemption.face_value:
            continue
        quantity = order.redemption.quantity
        free = (
            VoucherCode.objects.filter(pool=pool, used_at__isnull=True, reserved_for="")
            .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
            .order_by("id")
        )
        picked = list(free.values_list("pk", flat=True)[:quantity])
        if len(picked) < quantity:
            continue
        VoucherCode.objects.filter(pk__in=picked).update(
            reserved_for=order.idempotency_key, reserved_at=now
        )
        SupplierOrder.objects.filter(pk=order.pk).update(stock_reserved=quantity)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_vouchercode_reservation"),
        ("fulfillment", "0005_redemption_reissue"),
    ]

    operations = [migrations.RunPython(reserve, migrations.RunPython.noop)]
