"""Back-off after failed sign-ins, per account name and per client address.

After ``after`` failures under one key each further attempt must wait ``base × 2^(extra failures)``
seconds (capped at ``cap``) from the last failure; a success clears the account's and the client's
counts. Kept in memory: a restart forgets it, which costs an attacker a restart they cannot cause.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class SignInThrottle:
    def __init__(self, after: int, base_s: float, cap_s: float, max_keys: int = 10_000):
        self.after, self.base_s, self.cap_s, self.max_keys = after, base_s, cap_s, max_keys
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait(self, keys: list[str], at: float | None = None) -> float:
        """Seconds before another attempt under any of ``keys`` is heard (0: now)."""
        at = time.monotonic() if at is None else at
        with self._lock:
            return max((self._wait(f, at) for k in keys if (f := self._failures.get(k))), default=0.0)

    def _wait(self, failures: _Failures, at: float) -> float:
        if failures.count < self.after:
            return 0.0
        delay = min(self.cap_s, self.base_s * 2 ** (failures.count - self.after))
        return max(0.0, failures.last + delay - at)

    def failed(self, keys: list[str], at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        with self._lock:
            if len(self._failures) >= self.max_keys:  # forget the oldest half, bounded memory
                for key, _ in sorted(self._failures.items(), key=lambda kv: kv[1].last)[: self.max_keys // 2]:
                    del self._failures[key]
            for key in keys:
                entry = self._failures.setdefault(key, _Failures(0, at))
                entry.count += 1
                entry.last = at

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
