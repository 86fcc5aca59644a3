"""Achievements: milestones and streaks a member completes by ordering, spending, redeeming
or doing what the merchant counts.

- ``windows``: the pure arithmetic of what counts when: overall, the last N days, and
  streaks of consecutive calendar weeks or months in the merchant's time zone.
"""
