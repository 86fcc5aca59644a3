"""How often one link may POST to a member page whose link is the only credential: the
claim page (showing the code, the PDF voucher) and the care ticket page (replies,
ratings).

Each such POST does real work: it decrypts and records a code reveal, draws a PDF,
writes a message and emails an agent. Whoever holds a link, the member or someone it
leaked to, gets at most ``count`` POSTs per ``window`` seconds through it. The window
opens at the link's first counted POST and closes ``window`` seconds later, whatever
came in between (a refused POST does not prolong it).

The count lives in Django's cache, so every web process sees the same one when the
cache is shared (Redis in production); the increment is the cache's own atomic ``incr``.
Keys carry a digest of the token, never the token itself.
"""

import hashlib
import math
import time

from django.core.cache import cache

KEY_PREFIX = "link-posts"


def _keys(scope: str, token: str) -> tuple[str, str]:
    digest = hashlib.sha256(token.encode()).hexdigest()[:40]
    base = f"{KEY_PREFIX}:{scope}:{digest}"
    return f"{base}:count", f"{base}:opened"


def link_post_count(*, scope: str, token: str, rate: tuple[int, int]) -> int | None:
    """Counts one POST through ``token`` on the ``scope`` page. ``None`` while within
    ``rate`` (posts, window seconds); past it, the seconds until the window closes (for
    Retry-After)."""
    limit, window = rate
    count_key, opened_key = _keys(scope, token)
    now = time.time()
    # add() writes only where nothing is: the first POST opens the window, with the
    # window as the keys' lifetime.
    cache.add(opened_key, now, timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        count = cache.incr(count_key)
    except ValueError:  # the window closed between add() and incr()
        cache.set(opened_key, now, timeout=window)
        cache.set(count_key, 1, timeout=window)
        count = 1
    if count <= limit:
        return None
    opened = cache.get(opened_key, now)
    return max(1, math.ceil(opened + window - now))
