"""Per-link rate limit of the share routes (board, poll, badges): an in-process fixed window.

A share link is public: whoever holds the URL may fetch it, and a leaked link must
not let one client keep the server busy. Each link may be used ``SHARE_RATE``
times per minute (600: a wall screen polls a few times a minute, a wiki page
with five badges of one link fetches five images per viewer; browsers and
proxies keep a badge for 60 s). A full window answers 429 with ``Retry-After``.

The counter lives in the serving process, not in the database: a share request
then costs no write, and an unknown token never reaches the counter (it is a 404
before). With several processes (gunicorn workers, machines) each counts on its
own, so the limit a client meets is at most the rate times the number of
processes; that bounds the abuse, which is all it is for. Memory is bounded: a
new window forgets every link of the old one. Windows come from ``orgs.rates``
(aligned to the minute), so ``now`` is the only clock.
"""

from __future__ import annotations

import threading

from pulseboard.orgs.rates import Rate, retry_after, window_start

SHARE_RATE = Rate(limit=600, period_seconds=60)


class LinkWindows:
    """Fixed-window counters keyed by link id; safe for gthread workers' threads."""

    def __init__(self, rate: Rate = SHARE_RATE) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._start: int | None = None
        self._counts: dict[str, int] = {}

    def take(self, link_id: str, *, timestamp: float) -> int | None:
        """Count one request of the link: None when allowed, else seconds until it may retry."""
        start = window_start(timestamp, self.rate)
        with self._lock:
            if start != self._start:
                self._start = start
                self._counts = {}
            used = self._counts.get(link_id, 0)
            if used >= self.rate.limit:
                return retry_after(timestamp, self.rate)
            self._counts[link_id] = used + 1
            return None


share_windows = LinkWindows()
