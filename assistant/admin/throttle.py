"""Back-off after failed sign-ins, per account name and per client address.

After ``after`` failures under one key each further attempt must wait ``base × 2^(extra failures)``
seconds (capped at ``cap``) from the last failure; a success clears the account's and the client's
counts. The counts live in a :class:`~assistant.limitstore.LimitStore`: shared by every
process serving on this host when the app has a state directory (else this process's memory), so
an attacker gains nothing from the requests landing on different workers. A failure older than
the longest wait counts no more and is deleted, which keeps the table small.
"""

from __future__ import annotations

import time

from assistant.limitstore import LimitStore

_FAILED = """
INSERT INTO failures (key, count, last) VALUES (?, 1, ?)
ON CONFLICT (key) DO UPDATE SET count = count + 1, last = excluded.last
"""


class SignInThrottle:
    def __init__(self, after: int, base_s: float, cap_s: float, max_keys: int = 10_000,
                 store: LimitStore | None = None):
        self.after, self.base_s, self.cap_s, self.max_keys = after, base_s, cap_s, max_keys
        self.store = store or LimitStore()
        self.clock = time.time if self.store.shared else time.monotonic

    def wait(self, keys: list[str], at: float | None = None) -> float:
        """Seconds before another attempt under any of ``keys`` is heard (0: now)."""
        at = self.clock() if at is None else at
        marks = ",".join("?" * len(keys))
        rows = self.store.execute(f"SELECT count, last FROM failures WHERE key IN ({marks})", tuple(keys))
        return max((self._wait(count, last, at) for count, last in rows), default=0.0)

    def _wait(self, count: int, last: float, at: float) -> float:
        if count < self.after:
            return 0.0
        delay = min(self.cap_s, self.base_s * 2 ** (count - self.after))
        return max(0.0, last + delay - at)

    def failed(self, keys: list[str], at: float | None = None) -> None:
        at = self.clock() if at is None else at
        if self.store.execute("SELECT count(*) FROM failures")[0][0] >= self.max_keys:
            self._forget(at)
        for key in keys:
            self.store.execute(_FAILED, (key, at))

    def _forget(self, at: float) -> None:
        """Failures older than the longest wait no longer count; if the table is still full, the
        oldest half goes (bounded memory, whatever an attacker sends)."""
        self.store.execute("DELETE FROM failures WHERE last < ?", (at - self.cap_s,))
        left = self.store.execute("SELECT count(*) FROM failures")[0][0]
        if left >= self.max_keys:
            self.store.execute("DELETE FROM failures WHERE key IN (SELECT key FROM failures ORDER BY last "
                               "LIMIT ?)", (left - self.max_keys // 2,))

    def succeeded(self, keys: list[str]) -> None:
        self.store.execute(f"DELETE FROM failures WHERE key IN ({','.join('?' * len(keys))})", tuple(keys))
