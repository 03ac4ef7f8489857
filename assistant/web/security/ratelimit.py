"""The rate limit: a token bucket per client IP on ``/api/…``, 429 with ``Retry-After``.

Hand-written rather than ``limits``: it offers fixed, moving and sliding windows but no token
bucket, and its moving window refuses a client for up to a minute after a burst where the bucket
frees one request every 60/N s; its stores shared between processes need a Redis, Memcached or
MongoDB server. The buckets live in a :class:`~assistant.limitstore.LimitStore`: a SQLite file in the state
directory that every process serving on this host shares (``assistant serve`` sets one up), so
the limit holds however many workers there are.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.limitstore import LimitStore, limit_store
from assistant.settings import Settings
from assistant.web.security.csp import API_PREFIX
from assistant.web.security.errors import error_response

log = logging.getLogger(__name__)

# One statement takes a token: atomic between processes without holding a lock across statements.
# SET expressions all see the row as it was, so ``allowed`` and ``tokens`` agree on the refill.
_TAKE = """
INSERT INTO buckets (key, tokens, updated, allowed) VALUES (:key, :capacity - 1, :now, 1)
ON CONFLICT (key) DO UPDATE SET
    tokens = min(:capacity, tokens + max(0, :now - updated) * :rate)
             - (min(:capacity, tokens + max(0, :now - updated) * :rate) >= 1),
    allowed = min(:capacity, tokens + max(0, :now - updated) * :rate) >= 1,
    updated = :now
RETURNING tokens, allowed
"""
_PRUNE_EVERY = 1024


class TokenBucket:
    """Per-key token buckets: ``capacity`` requests at once, refilled at ``per_minute`` a minute.

    Kept in ``store`` (default: a private in-memory one). Buckets that have refilled completely are
    equivalent to absent ones and are deleted every ``_PRUNE_EVERY`` takes (at most ``max_keys / 2``);
    past ``max_keys`` busy buckets the longest idle are forgotten, down to half — the table stays
    under ``max_keys`` plus one pruning interval per process, however many client addresses come.
    When the shared store cannot be reached in time, this process's own buckets decide.
    """

    def __init__(self, per_minute: int, capacity: int | None = None, max_keys: int = 10_000,
                 store: LimitStore | None = None):
        self.rate = per_minute / 60.0
        self.capacity = float(capacity or per_minute)
        self.max_keys = max_keys
        self.store = store or LimitStore()
        # Processes share the wall clock; one process alone is better off with the monotonic one.
        self.clock = time.time if self.store.shared else time.monotonic
        self._takes = 0
        self._prune_every = min(_PRUNE_EVERY, max(1, max_keys // 2))
        self._fallback: TokenBucket | None = None

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; 0 when allowed, otherwise the seconds until one is available."""
        now = self.clock() if now is None else now
        params = {"key": key, "now": now, "capacity": self.capacity, "rate": self.rate}
        try:
            (tokens, allowed), = self.store.execute(_TAKE, params)
            self._takes += 1
            if self._takes % self._prune_every == 0:
                self._prune(now)
        except sqlite3.Error as exc:
            return self._take_locally(key, exc)
        if allowed:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0

    def __len__(self) -> int:
        """Buckets currently stored (the bounded-memory check)."""
        return self.store.execute("SELECT count(*) FROM buckets")[0][0]

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.rate if self.rate > 0 else math.inf
        self.store.execute("DELETE FROM buckets WHERE updated < ?", (now - full_after,))
        excess = len(self) - self.max_keys
        if excess >= 0:  # all busy: forget the longest-idle ones, down to half the table
            self.store.execute("DELETE FROM buckets WHERE key IN (SELECT key FROM buckets ORDER BY updated "
                               "LIMIT ?)", (excess + self.max_keys // 2,))

    def _take_locally(self, key: str, exc: Exception) -> float:
        if self._fallback is None:
            log.warning("the shared rate-limit store %s is unavailable (%s): limiting per process",
                        self.store.path, exc)
            self._fallback = TokenBucket(int(self.rate * 60), int(self.capacity), self.max_keys)
        return self._fallback.take(key)


#: Free of the limit: the client limits, a cached constant every widget reads once per page
#: (counting it would cost a visitor a question).
UNLIMITED_PATHS = frozenset({"/api/config"})


class RateLimitMiddleware:
    """A token bucket per client IP on ``/api/…`` (preflights and :data:`UNLIMITED_PATHS` are
    free); 429 with ``Retry-After``.

    The client IP is the socket peer as uvicorn reports it; behind a reverse proxy run uvicorn
    with ``--proxy-headers --forwarded-allow-ips`` so that it is the visitor's address. Buckets
    are kept under ``settings.state_dir`` (shared by the processes serving on this host) when it is
    set, else in this process.
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.per_minute = settings.rate_limit_per_minute
        self.buckets = (TokenBucket(self.per_minute, store=limit_store(settings.state_dir))
                        if self.per_minute > 0 else None)

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
