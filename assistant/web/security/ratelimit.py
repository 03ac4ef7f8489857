"""The rate limit: a token bucket per client IP on ``/api/…``, 429 with ``Retry-After``.

Hand-written rather than ``limits``: it offers fixed, moving and sliding windows but no token
bucket, and its moving window refuses a client for up to a minute after a burst where the bucket
frees one request every 60/N s. For a limit shared by several processes, ``limits``' moving window
over Redis can stand behind the same ``take()``, at that cost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.settings import Settings
from assistant.web.security.csp import API_PREFIX
from assistant.web.security.errors import error_response


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """Per-key token buckets: ``capacity`` requests at once, refilled at ``per_minute`` a minute.

    Buckets that have refilled completely are equivalent to absent ones, so they are dropped
    when the table grows past ``max_keys`` — memory stays bounded under many client addresses.
    Runs on the event loop only (one thread), so it needs no lock.
    """

    def __init__(self, per_minute: int, capacity: int | None = None, max_keys: int = 10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(capacity or per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; 0 when allowed, otherwise the seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = self._refilled(bucket, now)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else 60.0

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if self._refilled(b, now) >= self.capacity]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the longest-idle half
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].updated)[: self.max_keys // 2]:
                del self._buckets[key]


#: Free of the limit: the client limits, a cached constant every widget reads once per page
#: (counting it would cost a visitor a question).
UNLIMITED_PATHS = frozenset({"/api/config"})


class RateLimitMiddleware:
    """A token bucket per client IP on ``/api/…`` (preflights and :data:`UNLIMITED_PATHS` are
    free); 429 with ``Retry-After``.

    The client IP is the socket peer as uvicorn reports it; behind a reverse proxy run uvicorn
    with ``--proxy-headers --forwarded-allow-ips`` so that it is the visitor's address. Buckets
    live in this process: with several workers each keeps its own.
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.per_minute = settings.rate_limit_per_minute
        self.buckets = TokenBucket(self.per_minute) if self.per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.buckets is not None and scope["type"] == "http"
                and scope.get("path", "").startswith(API_PREFIX) and scope.get("method") != "OPTIONS"
                and scope.get("path") not in UNLIMITED_PATHS):
            client = scope.get("client")
            wait = self.buckets.take(client[0] if client else "unknown")
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = error_response(
                    429, "rate_limited",
                    f"请求太频繁：每分钟最多 {self.per_minute} 次，请 {retry} 秒后再试。/ "
                    f"Too many requests: at most {self.per_minute} per minute. Please retry in {retry} s.",
                    headers={"Retry-After": str(retry)}, limit=self.per_minute, retry_after=retry,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
