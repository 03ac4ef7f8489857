"""The request limits' shared store (no model): token buckets and sign-in back-off that hold across
processes, the state directory when the data directory is read-only, bounded tables, the cost."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from assistant.admin.throttle import SignInThrottle
from assistant.limitstore import LIMITS_FILE, LimitStore, default_state_dir, limit_store
from assistant.web.security.ratelimit import TokenBucket


def take_many(path: str, per_minute: int, n: int, start: float) -> int:
    """In a separate process: ``n`` requests from one client; how many were allowed."""
    while time.time() < start:  # both processes hammer the store at the same moment
        time.sleep(0.001)
    bucket = TokenBucket(per_minute, store=LimitStore(Path(path)))
    allowed = 0
    for _ in range(n):
        allowed += bucket.take("203.0.113.7", now=1000.0) == 0.0
        time.sleep(0.002)  # interleave with the other process
    return allowed


def test_two_processes_share_one_bucket(tmp_path):
    path = tmp_path / LIMITS_FILE
    LimitStore(path).close()  # the schema exists before the race
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        start = time.time() + 4  # both workers spawned by then
        allowed = list(pool.map(take_many, [str(path)] * 2, [30] * 2, [40] * 2, [start] * 2))
    # Each process alone would allow 30 of its 40; together the client gets 30, not 60.
    assert sum(allowed) == 30, allowed
    assert all(n > 0 for n in allowed), "both processes took tokens"


def test_bucket_refills_and_answers_retry_after_in_a_shared_file(tmp_path):
    first = TokenBucket(per_minute=6, store=LimitStore(tmp_path / LIMITS_FILE))
    second = TokenBucket(per_minute=6, store=LimitStore(tmp_path / LIMITS_FILE))  # another worker
    assert [first.take("a", now=100.0) for _ in range(3)] == [0.0] * 3
    assert [second.take("a", now=100.0) for _ in range(3)] == [0.0] * 3
    assert first.take("a", now=100.0) == pytest.approx(10.0)
    assert second.take("a", now=105.0) == pytest.approx(5.0), "half a token refilled in 5 s"
    assert first.take("a", now=110.0) == 0.0
    assert second.take("b", now=110.0) == 0.0, "buckets are per client"
    # A clock that went back refills nothing rather than taking tokens away.
    assert first.take("c", now=50.0) == 0.0 and first.take("c", now=40.0) == 0.0


def test_tables_stay_bounded_under_many_clients(tmp_path):
    bucket = TokenBucket(per_minute=60, max_keys=100, store=LimitStore(tmp_path / LIMITS_FILE))
    for i in range(2000):
        bucket.take(f"198.51.100.{i}", now=1000.0 + i * 0.001)
    assert len(bucket) <= 100 + 50  # max_keys plus one pruning interval
    # Buckets that refilled completely are as good as absent: a minute later they are gone.
    bucket.take("later", now=5000.0)
    for _ in range(60):
        bucket.take("later", now=5000.0)
    assert len(bucket) <= 2
    throttle = SignInThrottle(after=2, base_s=1.0, cap_s=5.0, max_keys=50,
                              store=LimitStore(tmp_path / LIMITS_FILE))
    for i in range(500):
        throttle.failed([f"name:{i}"], at=float(i) * 0.001)
    assert throttle.store.execute("SELECT count(*) FROM failures")[0][0] <= 50


def test_sign_in_back_off_holds_across_processes(tmp_path):
    path = tmp_path / LIMITS_FILE
    one = SignInThrottle(after=2, base_s=4.0, cap_s=60.0, store=LimitStore(path))
    other = SignInThrottle(after=2, base_s=4.0, cap_s=60.0, store=LimitStore(path))
    keys = ["name:editor", "client:192.0.2.1"]
    one.failed(keys, at=10.0)
    other.failed(keys, at=11.0)
    assert one.wait(keys, at=11.0) == other.wait(keys, at=11.0) == 4.0
    other.failed(["client:192.0.2.1"], at=12.0)
    assert one.wait(["client:192.0.2.1"], at=12.0) == 8.0
    one.succeeded(keys)
    assert other.wait(keys, at=12.0) == 0.0


def test_state_directory_when_the_data_directory_is_read_only(tmp_path):
    assert default_state_dir(tmp_path / "data") == tmp_path / "data" / "state"
    blocked = tmp_path / "image"
    blocked.write_text("a file where a folder would be: nothing can be created under it")
    fallback = default_state_dir(blocked / "data")
    assert fallback != blocked / "data" / "state" and fallback.is_dir()
    assert fallback.stat().st_mode & 0o077 == 0, "private to this user"
    assert default_state_dir(blocked / "data") == fallback, "every worker finds the same one"
    assert limit_store(None).shared is False and limit_store(fallback).shared is True


def test_a_store_that_cannot_be_reached_limits_per_process(tmp_path):
    store = LimitStore(tmp_path / LIMITS_FILE)
    bucket = TokenBucket(per_minute=2, store=store)
    store.close()  # every statement now fails: the process's own buckets decide
    assert [bucket.take("a") for _ in range(2)] == [0.0, 0.0]
    assert bucket.take("a") > 0


def test_cost_per_request(tmp_path):
    """Figures, not a threshold: the shared store's cost per request (printed)."""
    for label, store in (("memory", LimitStore()), ("shared file", LimitStore(tmp_path / LIMITS_FILE))):
        bucket = TokenBucket(per_minute=10**9, store=store)
        started, n = time.perf_counter(), 5000
        for i in range(n):
            assert bucket.take(f"10.0.{i % 64}.1") == 0.0
        print(f"{label}: {(time.perf_counter() - started) / n * 1e6:.1f} µs per request")
