"""What the benchmarks share: the local PostgreSQL server's tools and scratch databases.

Imported by the scripts beside it (``python bench/<name>.py`` puts ``bench/`` on the path).
"""

# ruff: noqa: S603 (fixed commands: the PostgreSQL client tools and manage.py)

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def pg_env() -> dict[str, str]:
    return {**os.environ, "PGHOST": PG["host"], "PGPORT": PG["port"], "PGUSER": PG["user"]}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not on PATH")
    return path


def run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command from the project root; its output, or exit with its errors."""
    result = subprocess.run(
        cmd, env=env or pg_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def recreate_db(name: str) -> None:
    run([tool("dropdb"), "--if-exists", "--force", name])
    run([tool("createdb"), name])


def drop_db(name: str) -> None:
    """Drop a scratch database, quietly (it runs in ``finally`` blocks)."""
    subprocess.run(
        [tool("dropdb"), "--if-exists", "--force", name],
        env=pg_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )


def pgbench_tps(
    database: str, *, clients: int, seconds: int, scale: int = 1, threads: int = 2
) -> float:
    """The TPS of ``pgbench -b tpcb-like`` on ``database``, recreated and initialised at
    ``scale`` first (``pgbench -i -q -s``); the caller drops it. ``-j`` is ``threads``, at
    most one a client."""
    recreate_db(database)
    run([tool("pgbench"), "-i", "-q", "-s", str(scale), database])
    out = run(
        [
            tool("pgbench"),
            "-b",
            "tpcb-like",
            "-c",
            str(clients),
            "-j",
            str(min(threads, clients)),
            "-T",
            str(seconds),
            database,
        ],
        timeout=seconds + 300,
    )
    match = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"could not read pgbench's TPS:\n{out}")
    return float(match.group(1))


def database_url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


# The variables a benchmark's Django takes from the environment: the caller's own are
# dropped, so a DATABASE_URL exported for the tests never points a benchmark elsewhere.
_DJANGO_PREFIXES = ("DJANGO_", "DATABASE_", "CACHE_", "CELERY_", "API_", "EMAIL_")


def django_env(var_dir: str, *, database: str) -> dict[str, str]:
    """The environment of a benchmark's Django (in-process or gunicorn) on ``database``:
    development settings without DEBUG, a local cache, quiet logs."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(_DJANGO_PREFIXES)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="development",
        DEBUG="false",
        DATABASE_URL=database_url(database),
        CACHE_URL="locmemcache://",
        LOG_LEVEL="WARNING",
        VAR_DIR=var_dir,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def configure_django(env: dict[str, str]) -> None:
    """Set this process up with ``env`` (from ``django_env``) and start Django."""
    for name in list(os.environ):
        if name.startswith(_DJANGO_PREFIXES):
            del os.environ[name]
    os.environ.update(env)
    import django

    django.setup()


def live_merchant_with_program(*, name: str, slug: str, timezone_name: str, silver, gold):
    """A live merchant (onboarded through its services) with the benchmarks' program: USD,
    a point worth $0.01, 1 point per dollar, 14 pending days, lots expiring after 12
    months, and two tiers at ``silver`` and ``gold``. Needs Django set up; returns the
    merchant, the program and the two tiers."""
    from decimal import Decimal

    from core.actors import SYSTEM
    from loyalty.models import Tier
    from loyalty.services.programs import program_configure
    from merchants.models import ChecklistItem, MerchantStatus
    from merchants.services.lifecycle import (
        checklist_item_complete,
        merchant_create,
        merchant_transition,
    )

    merchant = merchant_create(
        name=name,
        slug=slug,
        country="US",
        default_currency="USD",
        timezone_name=timezone_name,
        actor=SYSTEM,
    )
    for step in (MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED):
        merchant_transition(merchant=merchant, to_status=step, reason="benchmark", actor=SYSTEM)
    program = program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="Bench Rewards",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=14,
        expiry_policy="lot_age",
        expiry_months=12,
        tiers_enabled=True,
        tier_window_months=12,
    )
    silver_tier = Tier.objects.create(program=program, name="Silver", threshold=silver)
    gold_tier = Tier.objects.create(program=program, name="Gold", threshold=gold)
    for item in ChecklistItem.values:
        checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)
    merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="benchmark", actor=SYSTEM
    )
    return merchant, program, silver_tier, gold_tier


def gift_card_on_offer(
    *, merchant, slug: str, denominations: list[str], adapter: str, adapter_config: dict
):
    """A USD gift card (email recipient) in ``merchant``'s catalog, bought from one supplier
    of ``adapter`` (unlimited stock, 5 % off face value, no rate limit to speak of). Plain
    rows for the brand, supplier and offer, as ``catalog.demo`` makes them: there is no
    service for them. Needs Django set up; returns the reward."""
    import json
    from decimal import Decimal

    from catalog import services as catalog_services
    from catalog.models import (
        Brand,
        Reward,
        RewardStatus,
        RewardType,
        Supplier,
        SupplierKind,
        SupplierOffer,
    )
    from core.actors import SYSTEM

    brand = Brand.objects.create(name=f"{slug} brand", slug=f"{slug}-brand", terms="Terms apply.")
    reward = catalog_services.reward_save(
        reward=Reward(
            brand=brand,
            type=RewardType.GIFT_CARD,
            slug=slug,
            name=slug.replace("-", " ").capitalize(),
            countries=["US"],
            face_currency="USD",
            denomination_kind="fixed",
            denominations=denominations,
            recipient_fields=["email"],
            status=RewardStatus.ACTIVE,
        ),
        actor=SYSTEM,
    )
    supplier = Supplier.objects.create(
        name=f"{slug} supplier",
        slug=f"{slug}-supplier",
        kind=SupplierKind.AGGREGATOR,
        adapter=adapter,
        adapter_config=json.dumps(adapter_config),
        invoice_currency="USD",
        rate_limit_per_minute=1_000_000,
    )
    SupplierOffer.objects.create(
        reward=reward,
        supplier=supplier,
        supplier_sku=slug.upper(),
        country="US",
        cost_currency="USD",
        discount_percent=Decimal("5"),
        stock=None,
    )
    catalog_services.catalog_items_add(
        merchant=merchant, rewards=[reward], actor=SYSTEM, price_step=1
    )
    return reward
