"""When a store's silence is longer than usual: its rhythm, learned from its own events.

A store sends something all the time (orders through the store API, the platform's
webhooks); a store that usually does so every few minutes and has been silent for hours
is broken: the app uninstalled, a token expired, a webhook disabled. What "usually" means
differs by store, so each store learns its own, a few numbers kept on its row and updated
when an event arrives (``merchants.services.stores.store_event_record``):

- the **usual gap** between two events: an exponentially weighted mean of the gaps, the
  newest weighing 1/8 (a plain mean over the first eight);
- the **longest quiet spell** it has had lately (a night, a weekend): the longest gap, which
  forgets by half every four weeks, so a shop that sells every few minutes by day and
  never at night is not called broken at 3 a.m.;
- the moment its silence becomes longer than usual, ``silent_after``: the last event plus
  the largest of ten usual gaps, a quarter more than its longest quiet spell, and an hour.
  It is stored so that the home counts silent stores with a range scan of an index, not
  by computing every store's bar.

Events closer than a minute apart teach nothing (they are not even written: a busy store
writes its row once a minute at most), so the usual gap of a busy store reads "1 min".
A store is judged only once it has shown ``MIN_GAPS`` gaps. A gap longer than the bar was
an outage or a change of rhythm: it is learned capped (at the bar for the mean, at twice
the bar for the longest spell), so one outage raises a store's bar two and a half times at
most, and that fades over the following weeks, while a store whose rhythm really slowed
(or that is quiet every night) is learned within a few such gaps.

Pure: no ORM, times in, times out (and the gap in words).
"""

import datetime
from dataclasses import dataclass

from core import formatting

# Events closer together than this are one as far as the rhythm goes.
RESOLUTION = datetime.timedelta(minutes=1)
# A store with fewer gaps than this is still being learned: never called silent.
MIN_GAPS = 10
# Silent after the largest of: this many usual gaps, ...
USUAL_GAPS = 10
# ... its longest quiet spell lately times this, ...
LONGEST_MARGIN = 1.25
# ... and this.
FLOOR = datetime.timedelta(hours=1)
# The newest gap's weight in the usual gap, once past the first few.
WEIGHT = 1 / 8
# The longest quiet spell halves over this much time without a longer one.
HALF_LIFE = datetime.timedelta(weeks=4)


@dataclass(frozen=True)
class Rhythm:
    """What a store's row keeps of its events."""

    last_event_at: datetime.datetime | None = None
    gaps: int = 0  # how many gaps it was learned from
    usual_gap: int = 0  # seconds
    longest_gap: int = 0  # seconds
    silent_after: datetime.datetime | None = None


def bar(*, usual_gap: int, longest_gap: int) -> datetime.timedelta:
    """How long a silence may last before it is longer than usual."""
    return max(
        datetime.timedelta(seconds=USUAL_GAPS * usual_gap),
        datetime.timedelta(seconds=round(LONGEST_MARGIN * longest_gap)),
        FLOOR,
    )


def heard(rhythm: Rhythm, at: datetime.datetime) -> Rhythm | None:
    """The rhythm after an event at ``at``; None when the event teaches nothing (within
    ``RESOLUTION`` of the last one, or before it: another host's clock)."""
    last = rhythm.last_event_at
    if last is None:
        return Rhythm(last_event_at=at, silent_after=at + FLOOR)
    if at - last < RESOLUTION:
        return None
    gap = (at - last).total_seconds()
    usual, longest = rhythm.usual_gap, rhythm.longest_gap
    if rhythm.gaps == 0:
        usual = longest = gap
    else:
        known = rhythm.gaps >= MIN_GAPS
        limit = bar(usual_gap=rhythm.usual_gap, longest_gap=rhythm.longest_gap).total_seconds()
        weight = max(WEIGHT, 1 / (rhythm.gaps + 1))
        usual = usual + weight * ((min(gap, limit) if known else gap) - usual)
        faded = longest * 0.5 ** (gap / HALF_LIFE.total_seconds())
        longest = max(min(gap, 2 * limit) if known else gap, faded)
    usual_gap, longest_gap = round(usual), round(longest)
    return Rhythm(
        last_event_at=at,
        gaps=rhythm.gaps + 1,
        usual_gap=usual_gap,
        longest_gap=longest_gap,
        silent_after=at + bar(usual_gap=usual_gap, longest_gap=longest_gap),
    )


def is_silent(rhythm: Rhythm, now: datetime.datetime) -> bool:
    """The rule ``merchants.queues.stores_silent`` applies in the database."""
    return rhythm.gaps >= MIN_GAPS and rhythm.silent_after is not None and rhythm.silent_after < now


def gap_words(seconds: int) -> str:
    """A usual gap for people, as precise as it is: ``6 min``, ``1 hr 30 min``, ``2 days 4 hr``
    (to the minute under a day, to the hour above)."""
    unit = 60 if seconds < 86_400 else 3_600
    rounded = max(unit, round(seconds / unit) * unit)
    return formatting.duration(datetime.timedelta(seconds=rounded))
