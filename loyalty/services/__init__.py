"""Writes of the loyalty core: programs, members, orders, refunds, activities, adjustments.

Orders, refunds and activities are idempotent by their ``external_id`` per merchant: the
same body again returns the first result and earns nothing more; the same id with another
body is refused (409). Concurrent duplicates meet the unique constraint, and the loser
replays the winner's result.

- ``programs``: the merchant's program configured, and a lot's expiry under it;
- ``members``: members created, updated, anonymised, their points adjusted; the member an
  order or activity is for, locked (and created when new);
- ``orders``: an order recorded, alone or built into a batch's one statement; an order
  without a member, for the reports;
- ``simulator``: what an order would earn, and why, writing nothing;
- ``refunds``: a refund recorded, and its share of the order's points taken back;
- ``activities``: a non-purchase activity recorded, and what it earns;
- ``exchange_rates``: a rate staff entered, corrected or deleted.
"""
