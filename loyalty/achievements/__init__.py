"""Achievements: milestones and streaks a member completes by ordering, spending, redeeming,
referring or doing what the merchant counts.

- ``windows``: the pure arithmetic of what counts when: overall, the last N days, and
  streaks of consecutive calendar weeks or months in the merchant's time zone;
- ``terms``: what an achievement counts of an order, activity, redemption or referral
  (pure), and the period a completion falls in;
- ``services``: occurrences written with the event, progress, completion and its reward,
  exactly once; a refund taking an order out of the count;
- ``periods``: the nightly job that records broken streaks and closes rolling windows;
- ``selectors``: a member's standing on each achievement, and what an order did;
- ``badges``: an uploaded picture made a badge; ``views``: the badge served;
- ``admin``, ``demo``.
"""
