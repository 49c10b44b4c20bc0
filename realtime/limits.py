"""Per-connection rate limiting: a token bucket, plus flood detection for close 4429."""

import time

from django.conf import settings


class TokenBucket:
    """`rate` tokens per second up to `burst`; take() says whether a frame may pass."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "limited_since")

    def __init__(self, rate=None, burst=None):
        self.rate = rate if rate is not None else settings.REALTIME_RATE_PER_SECOND
        self.burst = burst if burst is not None else settings.REALTIME_RATE_BURST
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        # When the client first hit the limit in the current flood (None when calm).
        self.limited_since = None

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            if self.tokens >= self.burst / 2:
                self.limited_since = None  # recovered: the flood is over
            return True
        if self.limited_since is None:
            self.limited_since = now
        return False

    def retry_after(self):
        """Seconds until one token is back."""
        return round(max(0.0, (1.0 - self.tokens) / self.rate), 3)

    def flooding_for(self):
        """Seconds the client has kept flooding since its first rate_limited error."""
        return 0.0 if self.limited_since is None else time.monotonic() - self.limited_since
