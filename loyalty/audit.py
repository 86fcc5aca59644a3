"""The ledger checked in bulk: what the database's triggers cannot see one row at a time.

The triggers hold each new entry to its member's previous one and, at commit, a member's
cached balances to their last entry. This audit reads everything at once, per member:

- ``points_balance`` = the sum of their entries' ``points`` = their last entry's
  ``balance_after`` = what is left of their released lots;
- ``pending_points`` = the sum of ``pending`` = the last ``pending_after`` = what is left
  of their pending lots;
- every entry follows the one before it (rows written before the triggers existed);
- every lot's ``remaining`` is its ``points`` plus its movements (spends, reversals,
  expiry and give-backs; a release moves no points).

A few statements over the whole ledger (or one merchant's), whatever its size; run by
``manage.py audit_ledger``, the end-to-end tests and the benchmarks.
"""

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Finding:
    merchant_id: int
    member_id: int
    problem: str

    def __str__(self) -> str:
        return f"merchant {self.merchant_id}, member {self.member_id}: {self.problem}"


@dataclass(frozen=True)
class Audit:
    members: int
    entries: int
    lots: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    def __str__(self) -> str:
        head = f"{self.members} member(s), {self.entries} entr(y/ies), {self.lots} lot(s): " + (
            "the ledger balances" if self.ok else f"{len(self.findings)} problem(s)"
        )
        return "\n".join([head, *(f"  {finding}" for finding in self.findings)])


_BALANCES = """
SELECT m.merchant_id, m.id, m.points_balance, m.pending_points,
       COALESCE(e.points, 0), COALESCE(e.pending, 0),
       COALESCE(last.balance_after, 0), COALESCE(last.pending_after, 0),
       COALESCE(l.available, 0), COALESCE(l.pending, 0)
  FROM loyalty_member m
  LEFT JOIN (SELECT member_id, SUM(points) AS points, SUM(pending) AS pending,
                    MAX(id) AS last_id
               FROM loyalty_ledgerentry GROUP BY member_id) e ON e.member_id = m.id
  LEFT JOIN loyalty_ledgerentry last ON last.id = e.last_id
  LEFT JOIN (SELECT member_id,
                    SUM(CASE WHEN released_at IS NOT NULL THEN remaining ELSE 0 END)
                        AS available,
                    SUM(CASE WHEN released_at IS NULL THEN remaining ELSE 0 END) AS pending
               FROM loyalty_pointlot GROUP BY member_id) l ON l.member_id = m.id
 WHERE {merchant}
   AND (m.points_balance <> COALESCE(e.points, 0)
        OR m.points_balance <> COALESCE(last.balance_after, 0)
        OR m.points_balance <> COALESCE(l.available, 0)
        OR m.pending_points <> COALESCE(e.pending, 0)
        OR m.pending_points <> COALESCE(last.pending_after, 0)
        OR m.pending_points <> COALESCE(l.pending, 0))
 ORDER BY m.id
"""

_CHAIN = """
SELECT merchant_id, member_id, id, balance_after, previous_balance + points,
       pending_after, previous_pending + pending
  FROM (SELECT merchant_id, member_id, id, points, pending, balance_after, pending_after,
               COALESCE(LAG(balance_after) OVER w, 0) AS previous_balance,
               COALESCE(LAG(pending_after) OVER w, 0) AS previous_pending
          FROM loyalty_ledgerentry
         WHERE {merchant}
        WINDOW w AS (PARTITION BY member_id ORDER BY id)) chained
 WHERE balance_after <> previous_balance + points
    OR pending_after <> previous_pending + pending
 ORDER BY member_id, id
"""

_LOTS = """
SELECT lot.merchant_id, lot.member_id, lot.id, lot.points, lot.remaining,
       lot.points + COALESCE(SUM(mv.points), 0)
  FROM loyalty_pointlot lot
  LEFT JOIN loyalty_lotmovement mv ON mv.lot_id = lot.id
 WHERE {merchant}
 GROUP BY lot.id, lot.merchant_id, lot.member_id, lot.points, lot.remaining
HAVING lot.remaining <> lot.points + COALESCE(SUM(mv.points), 0)
 ORDER BY lot.member_id, lot.id
"""

_COUNTS = """
SELECT (SELECT COUNT(*) FROM loyalty_member m WHERE {merchant_m}),
       (SELECT COUNT(*) FROM loyalty_ledgerentry e WHERE {merchant_e}),
       (SELECT COUNT(*) FROM loyalty_pointlot lot WHERE {merchant_lot})
"""


def _where(alias: str, merchant_id: int | None) -> tuple[str, list[int]]:
    if merchant_id is None:
        return "1 = 1", []
    return f"{alias}.merchant_id = %s", [merchant_id]


def ledger_audit(*, merchant_id: int | None = None) -> Audit:
    """Every member's (or one merchant's) ledger checked; read-only."""
    findings: list[Finding] = []
    with connection.cursor() as cursor:
        where, params = _where("m", merchant_id)
        cursor.execute(_BALANCES.format(merchant=where), params)
        for merchant, member, balance, pending, *found in cursor.fetchall():
            entries_points, entries_pending, last_balance, last_pending = found[:4]
            lots_available, lots_pending = found[4:]
            findings.append(
                Finding(
                    merchant,
                    member,
                    f"balance {balance} / pending {pending}; entries sum to "
                    f"{entries_points} / {entries_pending}, the last entry says "
                    f"{last_balance} / {last_pending}, the lots hold "
                    f"{lots_available} / {lots_pending}",
                )
            )
        where, params = _where("loyalty_ledgerentry", merchant_id)
        cursor.execute(_CHAIN.format(merchant=where), params)
        for (
            merchant,
            member,
            entry,
            balance,
            expected,
            pending,
            expected_pending,
        ) in cursor.fetchall():
            findings.append(
                Finding(
                    merchant,
                    member,
                    f"entry {entry} says {balance} / {pending} after the previous entry, "
                    f"which makes {expected} / {expected_pending}",
                )
            )
        where, params = _where("lot", merchant_id)
        cursor.execute(_LOTS.format(merchant=where), params)
        for merchant, member, lot, points, remaining, expected in cursor.fetchall():
            findings.append(
                Finding(
                    merchant,
                    member,
                    f"lot {lot} of {points} point(s) has {remaining} left; its movements "
                    f"leave {expected}",
                )
            )
        wheres = {f"merchant_{alias}": _where(alias, merchant_id)[0] for alias in ("m", "e", "lot")}
        cursor.execute(_COUNTS.format(**wheres), [merchant_id] * 3 if merchant_id else [])
        members, entries, lots = cursor.fetchone()
    return Audit(members=members, entries=entries, lots=lots, findings=findings)
