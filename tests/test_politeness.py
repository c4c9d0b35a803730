"""HostPool limits, Retry-After parsing and backoff (no network: slots are held by sleeping tasks)."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from checker.config import CheckerConfig
from checker.politeness import HostPool, backoff_delay, parse_retry_after


def pool(**overrides: object) -> HostPool:
    settings: dict[str, object] = {"per_host_limit": 2, "min_interval_s": 0.0, "concurrency": 64}
    settings.update(overrides)
    return HostPool(CheckerConfig(**settings))  # type: ignore[arg-type]


class Recorder:
    """Counts what really overlaps, independently of HostPool's own stats."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.starts: dict[str, list[float]] = {}
        self.total = 0
        self.total_peak = 0

    async def request(self, hosts: HostPool, host: str, duration: float) -> None:
        async with hosts.slot(host):
            self.starts.setdefault(host, []).append(time.monotonic())
            self.now[host] = self.now.get(host, 0) + 1
            self.total += 1
            self.peak[host] = max(self.peak.get(host, 0), self.now[host])
            self.total_peak = max(self.total_peak, self.total)
            await asyncio.sleep(duration)
            self.now[host] -= 1
            self.total -= 1

    def min_gap(self, host: str) -> float:
        times = sorted(self.starts[host])
        return min(b - a for a, b in zip(times, times[1:]))


@pytest.mark.asyncio
async def test_per_host_limit_is_never_exceeded() -> None:
    hosts, rec = pool(per_host_limit=2), Recorder()
    await asyncio.gather(*(rec.request(hosts, "a.test", 0.01) for _ in range(20)))
    assert rec.peak["a.test"] == 2
    assert hosts.stats.max_host_in_flight == 2
    assert hosts.stats.started == 20


@pytest.mark.asyncio
async def test_start_interval_is_respected_with_jitter_only_lengthening_it() -> None:
    hosts, rec = pool(per_host_limit=2, min_interval_s=0.03), Recorder()
    started = time.monotonic()
    await asyncio.gather(*(rec.request(hosts, "a.test", 0.0) for _ in range(8)))
    assert rec.min_gap("a.test") >= 0.03
    assert hosts.stats.min_start_gap_s >= 0.03
    # 7 gaps of 30-36 ms: the pool is not much slower than the interval requires
    assert 0.21 <= time.monotonic() - started < 0.6


@pytest.mark.asyncio
async def test_hosts_do_not_wait_for_each_other() -> None:
    hosts, rec = pool(per_host_limit=1, min_interval_s=0.2), Recorder()
    started = time.monotonic()
    await asyncio.gather(*(rec.request(hosts, f"h{i}.test", 0.0) for i in range(30)))
    assert time.monotonic() - started < 0.15


@pytest.mark.asyncio
async def test_global_limit_counts_only_requests_in_flight() -> None:
    hosts, rec = pool(per_host_limit=2, concurrency=3), Recorder()
    await asyncio.gather(*(rec.request(hosts, f"h{i % 5}.test", 0.01) for i in range(30)))
    assert rec.total_peak == 3
    assert hosts.stats.max_in_flight == 3


@pytest.mark.asyncio
async def test_requests_waiting_for_a_deferred_host_leave_global_slots_to_others() -> None:
    hosts, rec = pool(per_host_limit=1, concurrency=1), Recorder()
    hosts.defer("slow.test", 0.3)
    slow = asyncio.create_task(rec.request(hosts, "slow.test", 0.0))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await rec.request(hosts, "other.test", 0.0)
    assert time.monotonic() - started < 0.1
    await slow
    assert rec.starts["slow.test"][0] >= rec.starts["other.test"][0]


@pytest.mark.asyncio
async def test_defer_delays_later_requests_to_that_host_only() -> None:
    hosts = pool()
    hosts.defer("busy.test", 0.15)
    assert 0.1 < hosts.deferred_for("busy.test") <= 0.15
    assert hosts.deferred_for("BUSY.test") > 0.1
    started = time.monotonic()
    async with hosts.slot("other.test"):
        assert time.monotonic() - started < 0.05
    async with hosts.slot("busy.test"):
        assert time.monotonic() - started >= 0.15
    hosts.defer("busy.test", 0)   # no-op
    hosts.defer("busy.test", -5)  # no-op


@pytest.mark.asyncio
async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    hosts = pool(per_host_limit=1)
    release = asyncio.Event()

    async def holder() -> None:
        async with hosts.slot("a.test"):
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hosts.slot("a.test").__aenter__())
    await asyncio.sleep(0.01)
    waiter.cancel()
    release.set()
    await task
    async with asyncio.timeout(1):
        async with hosts.slot("a.test"):
            pass
    assert hosts.stats.in_flight == 0


@pytest.mark.asyncio
async def test_idle_host_state_is_forgotten() -> None:
    hosts = pool(min_interval_s=0.0)
    for i in range(500):
        async with hosts.slot(f"h{i}.test"):
            pass
    assert hosts.tracked_hosts == 0

    hosts = pool(min_interval_s=0.02)
    for i in range(50):
        async with hosts.slot(f"h{i}.test"):
            pass
    hosts.defer("deferred.test", 10)
    assert hosts.tracked_hosts == 51   # intervals not yet over
    await asyncio.sleep(0.03)
    assert hosts.forget_idle_hosts() == 50
    assert hosts.tracked_hosts == 1    # the deferral is remembered


def test_host_state_is_small() -> None:
    import tracemalloc

    async def touch_many() -> HostPool:
        hosts = pool(min_interval_s=60.0)   # nothing can be forgotten
        for i in range(2000):
            async with hosts.slot(f"host-{i}.example.org"):
                pass
        return hosts

    tracemalloc.start()
    try:
        hosts = asyncio.run(touch_many())
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hosts.tracked_hosts == 2000
    assert current / 2000 < 1500   # bytes per remembered host, keys included


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),     # already passed
        ("Wed, 21 Oct 2015 07:28:00", 0.0),                       # no zone: read as GMT, past
        ("-5", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Mon, 99 Foo 2024 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1.0)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    assert backoff_delay(0, base_s=1.0, cap_s=30.0, rng=lambda: 1.0) == 1.0
    assert backoff_delay(3, base_s=1.0, cap_s=30.0, rng=lambda: 1.0) == 8.0
    assert backoff_delay(10, base_s=1.0, cap_s=30.0, rng=lambda: 1.0) == 30.0
    assert backoff_delay(10_000, base_s=1.0, cap_s=30.0, rng=lambda: 0.5) == 15.0
    assert backoff_delay(3, base_s=1.0, cap_s=30.0, rng=lambda: 0.0) == 0.0
    delays = [backoff_delay(2, base_s=0.5, cap_s=30.0) for _ in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100
