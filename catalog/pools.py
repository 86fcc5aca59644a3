"""Code pools: voucher codes the provider holds itself, uploaded in bulk, each delivered
once.

Codes and PINs are encrypted at rest; ``digest`` (an HMAC of the code keyed with the
``SECRET_KEY``) is what duplicates are found by, so the clear code is never stored or
compared in SQL. Rotating ``SECRET_KEY`` changes the digests of new uploads: a code
uploaded before the rotation is then no longer recognised as a duplicate.

A redemption reserves its codes in its own transaction (``codes_reserve``: the oldest
free codes, tied to the key of the supplier order that will deliver them), so a pool
accepts exactly as many redemptions as it holds codes. Dispatch delivers exactly the
codes reserved for its order (``codes_deliver``); an order given up before delivery
frees them (``codes_release``). Every write is conditional on the code's state, so a
code is never reserved or delivered twice, on any backend.
"""

import csv
import datetime
import io
import logging
from dataclasses import dataclass, field
from typing import IO

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_date

from catalog.alerts import alert_clear, alert_raise
from catalog.exceptions import CodeUploadRefused
from catalog.locks import codes_lock_free
from catalog.models import AlertKind, CodePool, VoucherCode
from core.actors import Actor, actor_label
from core.exceptions import DomainError
from core.site_time import site_today

logger = logging.getLogger("catalog.pools")
# Who clears a low-stock alert once the pool is refilled: the stock check.
STOCK_CHECK = Actor.system("check_code_pools")

COLUMNS = ("code", "pin", "expires_on")
MAX_CODE_LENGTH = 200
DIGEST_SALT = "catalog.VoucherCode.digest"
# Errors listed in the refusal's message; ``errors`` on it always has them all.
MESSAGE_MAX_ERRORS = 20


@dataclass
class UploadResult:
    pool_id: int
    created: int
    free: int

    def __str__(self) -> str:
        return f"{self.created} code(s) added to pool {self.pool_id}; {self.free} free"


@dataclass
class StockResult:
    pools: int = 0
    low: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        low = f": {', '.join(f'pool:{pk}' for pk in self.low)}" if self.low else ""
        return f"{self.pools} pool(s) checked, {len(self.low)} low{low}"


def code_digest(code: str) -> str:
    return salted_hmac(DIGEST_SALT, code, algorithm="sha256").hexdigest()


def _usable(today: datetime.date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}used_at__isnull": True}) & (
        Q(**{f"{prefix}expires_on__isnull": True}) | Q(**{f"{prefix}expires_on__gte": today})
    )


# -- upload -------------------------------------------------------------------------------


def _parse(
    text: str, *, today: datetime.date
) -> tuple[dict[str, int], list[VoucherCode], list[str]]:
    """(the row of each code's digest, the codes, the errors)."""
    reader = csv.DictReader(io.StringIO(text), restkey="__extra__")
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if (
        "code" not in header
        or any(name not in COLUMNS for name in header)
        or (len(set(header)) != len(header))
    ):
        return (
            {},
            [],
            [
                "row 1: the header must name the column code, and may add pin and expires_on "
                f"(found: {', '.join(header) or 'nothing'})"
            ],
        )
    reader.fieldnames = header
    codes: list[VoucherCode] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if "__extra__" in record or any(record.get(name) is None for name in header):
            errors.append(f"row {line}: expected {len(header)} cells")
            continue
        cells = {name: (record.get(name) or "").strip() for name in COLUMNS}
        if not any(cells.values()):
            continue  # a blank line
        code, pin, expiry = cells["code"], cells["pin"], cells["expires_on"]
        if not code:
            errors.append(f"row {line}: code: empty")
            continue
        if len(code) > MAX_CODE_LENGTH or len(pin) > MAX_CODE_LENGTH:
            errors.append(f"row {line}: code and pin take at most {MAX_CODE_LENGTH} characters")
            continue
        expires_on = None
        if expiry:
            try:
                expires_on = parse_date(expiry)
            except ValueError:
                expires_on = None
            if expires_on is None:
                errors.append(f"row {line}: expires_on: {expiry!r} is not a date (YYYY-MM-DD)")
                continue
            if expires_on < today:
                errors.append(f"row {line}: expires_on: {expiry} has passed")
                continue
        digest = code_digest(code)
        if digest in seen:
            # The row numbers only: the code itself is never repeated into messages or logs.
            errors.append(f"row {line}: the same code as row {seen[digest]}")
            continue
        seen[digest] = line
        codes.append(VoucherCode(code=code, pin=pin, digest=digest, expires_on=expires_on))
    return seen, codes, errors


def _refuse(errors: list[str]) -> CodeUploadRefused:
    shown = errors[:MESSAGE_MAX_ERRORS]
    more = len(errors) - len(shown)
    return CodeUploadRefused(
        "No code was stored: " + "; ".join(shown) + (f"; and {more} more" if more > 0 else ""),
        field="file",
        errors=errors,
    )


def codes_upload(
    *,
    pool: CodePool,
    csv_text: str | None = None,
    file: IO[str] | IO[bytes] | None = None,
    actor: Actor,
) -> UploadResult:
    """Store the codes of a CSV file (columns code, optional pin and expires_on) in the
    pool, every one encrypted. Refuses the whole file (``CodeUploadRefused`` listing each
    bad row, nothing written) on any bad row, including a code the file repeats or that
    any pool holds already."""
    if (csv_text is None) == (file is None):
        raise DomainError("Give the codes as csv_text or as a file, not both.", field="file")
    if file is not None:
        content = file.read()
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise _refuse(["row 1: the file is not UTF-8 text"]) from None
        csv_text = content
    csv_text = csv_text.removeprefix("\ufeff")
    line_of, codes, errors = _parse(csv_text, today=site_today())
    if not errors and not codes:
        errors.append("row 2: the file holds no code")
    if errors:
        raise _refuse(errors)
    try:
        with transaction.atomic():
            taken = set(
                VoucherCode.objects.filter(digest__in=list(line_of)).values_list(
                    "digest", flat=True
                )
            )
            if taken:
                raise _refuse(
                    [
                        f"row {line_of[digest]}: the code is already in a pool"
                        for digest in sorted(taken, key=line_of.__getitem__)
                    ]
                )
            for code in codes:
                code.pool = pool
            VoucherCode.objects.bulk_create(codes, batch_size=500)
    except IntegrityError:
        # The same codes were uploaded concurrently; the other upload won.
        raise _refuse(["the file's codes were being uploaded at the same time"]) from None
    logger.info("%s uploaded %d code(s) to pool %s", actor_label(actor), len(codes), pool.pk)
    free = pool_free_count(pool)
    _check_pool(pool, free)
    return UploadResult(pool_id=pool.pk, created=len(codes), free=free)


# -- reserve, deliver, release ------------------------------------------------------------


def codes_reserve(*, pool_id: int, quantity: int, reserved_for: str, at: datetime.datetime) -> bool:
    """Reserve ``quantity`` free codes of the pool (the oldest) for the supplier order
    whose key is ``reserved_for``, in the caller's transaction. False, with nothing
    reserved, when the pool has fewer free codes.

    Two statements: the codes are picked ``FOR UPDATE SKIP LOCKED``, then reserved with
    the free condition repeated (a compare-and-swap on backends without row locks). Not
    one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)``: PostgreSQL
    may run that subquery again for each row it updates and reserve more than ``n``.
    Concurrent redemptions each take other codes instead of queueing behind one another;
    a code another open transaction holds is skipped, so it counts as taken until that
    transaction ends (one that rolls back leaves it free again)."""
    key = reserved_for[:120]
    with transaction.atomic(savepoint=False):
        free = codes_lock_free(
            VoucherCode.objects.filter(free_codes(site_today(at)), pool_id=pool_id)
        )
        picked = list(free.values_list("pk", flat=True)[:quantity])
        if len(picked) < quantity:
            return False
        taken = VoucherCode.objects.filter(
            pk__in=picked, used_at__isnull=True, reserved_for=""
        ).update(reserved_for=key, reserved_at=at)
        if taken == quantity:
            return True
        # Taken between our read and our write (a backend without row locks).
        codes_release(reserved_for=key)
    return False


def codes_release(*, reserved_for: str) -> int:
    """Free the codes reserved for ``reserved_for`` and not delivered; how many."""
    return VoucherCode.objects.filter(reserved_for=reserved_for[:120], used_at__isnull=True).update(
        reserved_for="", reserved_at=None
    )


def codes_deliver(*, pool_id: int, reserved_for: str, at: datetime.datetime) -> list[VoucherCode]:
    """Mark the codes reserved for ``reserved_for`` used and return them (decrypted),
    with those an earlier call delivered for it: the same codes on every call."""
    key = reserved_for[:120]
    VoucherCode.objects.filter(pool_id=pool_id, reserved_for=key, used_at__isnull=True).update(
        used_at=at, used_for=key
    )
    return codes_delivered(used_for=key, pool_id=pool_id)


def codes_delivered(*, used_for: str, pool_id: int | None = None) -> list[VoucherCode]:
    """The codes delivered for ``used_for`` (of one pool when given), oldest first."""
    codes = VoucherCode.objects.filter(used_for=used_for[:120], used_at__isnull=False)
    if pool_id is not None:
        codes = codes.filter(pool_id=pool_id)
    return list(codes.order_by("id"))


def free_codes(today: datetime.date, prefix: str = "") -> Q:
    """Codes a redemption can still reserve: not used, not reserved, not expired."""
    return _usable(today, prefix) & Q(**{f"{prefix}reserved_for": ""})


def pool_free_count(pool: CodePool) -> int:
    """Codes that can still be reserved: unused, not reserved, not expired."""
    return VoucherCode.objects.filter(free_codes(site_today()), pool=pool).count()


def _subject(pool_id: int) -> str:
    return f"pool:{pool_id}"


def _check_pool(pool: CodePool, free: int) -> bool:
    if free < pool.low_stock_threshold and pool.offer.is_active:
        alert_raise(
            kind=AlertKind.LOW_STOCK,
            subject=_subject(pool.pk),
            message=f"{pool}: {free} free code(s) left, below the threshold of "
            f"{pool.low_stock_threshold}.",
        )
        return True
    alert_clear(kind=AlertKind.LOW_STOCK, subject=_subject(pool.pk), actor=STOCK_CHECK)
    return False


def pools_check_stock() -> StockResult:
    """Raise a LOW_STOCK alert for each pool of an active offer with fewer free codes
    than its threshold; clear it for the others."""
    today = site_today()
    pools = CodePool.objects.select_related("offer__supplier").annotate(
        free=Count("codes", filter=free_codes(today, prefix="codes__"))
    )
    result = StockResult()
    for pool in pools.order_by("pk"):
        result.pools += 1
        if _check_pool(pool, pool.free):
            result.low.append(pool.pk)
    return result
