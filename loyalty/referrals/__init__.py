"""Referrals: a member's code and link, the friends who join with it, the checks that keep
it honest, and what both sides earn.

- ``identity``: the keys under which two customers count as the same person for the
  self-referral checks (an email, a phone number, a postal address, normalised);
- ``checks``: the fraud checks of a referral and their verdict (clear, flagged for a
  review, blocked), each with its reason.
"""
