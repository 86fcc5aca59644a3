"""The garbage collector of a web or worker process, tuned once it has loaded the project.

CPython looks for reference cycles after every 700 net allocations of container objects,
and each look walks the objects of the youngest generation; every tenth look walks the
older ones too, which in a Django process hold everything imported at start-up. A request
that builds thousands of model instances (a bulk call of 1,000 orders makes about ten
thousand) triggered hundreds of these walks: a third of its CPU in the earn benchmark.
So, once the project is loaded:

- what exists then (modules, settings, the URL resolver) is set aside for good
  (``gc.freeze``): it lives as long as the process, and no walk visits it again;
- the youngest generation is looked at every ``GC_THRESHOLD`` allocations (10,000 by
  default) instead of 700. Cycles are still collected, in fewer and larger walks.
"""

import gc

from django.conf import settings


def collector_tune() -> None:
    """Set aside what the process holds now and space the collections; nothing when
    ``settings.GC_THRESHOLD`` is 0."""
    threshold = settings.GC_THRESHOLD
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
