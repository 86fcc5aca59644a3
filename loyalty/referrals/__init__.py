"""Referrals: a member's code and link, the friends who join with it, the checks that keep
it honest, and what both sides earn.

- ``identity``: the keys under which two customers count as the same person for the
  self-referral checks (an email, a phone number, a postal address, normalised);
- ``checks``: the fraud checks of a referral and their verdict (clear, flagged for a
  review, blocked), each with its reason;
- ``services``: every write: codes, a friend attached, the review, the status moves;
- ``qualify``: the job that qualifies referrals and rewards both sides;
- ``selectors``: an advocate's referrals, a merchant's figures, where a link leads;
- ``admin``: the ops list, the review queue and the program's terms; ``demo``: the
  development run's referrals.
"""
