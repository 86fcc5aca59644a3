"""Campaigns: personalized incentives of a program.

- ``services``: saving a campaign, its state machine (the one writer of its status and
  events), the scheduler's moves, a spent budget, the coupon pool;
- ``report``: members targeted and reached, points given, orders and revenue, and the
  comparison with the control group (lift and its confidence interval);
- ``admin``: the campaign pages.

What a campaign gives an order or activity is evaluated in ``loyalty.rules`` with the
earning rules and taken in ``loyalty.earning``.
"""
