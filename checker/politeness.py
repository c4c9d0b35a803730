"""Being a polite client: per-host slots, start intervals, deferral after Retry-After, backoff.

`HostPool.slot(host)` is held for exactly one request (headers and body). Inside it:

* at most `per_host_limit` requests to one host are in flight;
* two request starts to one host are at least `min_interval_s` apart (plus a little jitter);
* no request to a host starts before a deferral set by `defer(host, seconds)` ends;
* at most `concurrency` requests are in flight across all hosts. The global limit is taken only
  once the request may start, so requests waiting for their host never block other hosts.

Per-host state is created on first use and dropped once the host is idle and its interval and
deferral have passed, so memory follows the hosts in use, not the hosts seen.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from checker.config import CheckerConfig

JITTER_FRACTION = 0.2   # each start interval is stretched by up to 20 %, never shortened


@dataclass
class PoolStats:
    """Global, constant-size counters that tests and benchmarks can assert on."""

    started: int = 0
    in_flight: int = 0
    max_in_flight: int = 0                      # across all hosts
    max_host_in_flight: int = 0                 # the worst host at its worst moment
    min_start_gap_s: float = math.inf           # smallest gap between two starts to one host


class _HostState:
    __slots__ = ("users", "in_flight", "semaphore", "last_start", "deferred_until")

    def __init__(self, limit: int) -> None:
        self.users = 0                # tasks holding or waiting for a slot on this host
        self.in_flight = 0
        self.semaphore = asyncio.Semaphore(limit)
        self.last_start = -math.inf
        self.deferred_until = -math.inf


class HostPool:
    """Per-host and global limits for the checker's requests. See the module docstring."""

    SWEEP_EVERY = 1024   # releases between sweeps of idle host states

    def __init__(
        self,
        config: CheckerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._per_host_limit = max(1, config.per_host_limit)
        self._interval = max(0.0, config.min_interval_s)
        self._global = asyncio.Semaphore(max(1, config.concurrency))
        self._clock = clock
        self._rng = rng
        self._hosts: dict[str, _HostState] = {}
        self._releases = 0
        self.stats = PoolStats()

    @property
    def tracked_hosts(self) -> int:
        """How many hosts currently have state (for memory tests)."""
        return len(self._hosts)

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(self._per_host_limit)
        return state

    def defer(self, host: str, seconds: float) -> None:
        """No request to `host` starts within the next `seconds` (e.g. after Retry-After)."""
        if seconds <= 0:
            return
        state = self._state(host.lower())
        state.deferred_until = max(state.deferred_until, self._clock() + seconds)

    def deferred_for(self, host: str) -> float:
        """Seconds left before `host` may be asked again (0 when not deferred)."""
        state = self._hosts.get(host.lower())
        return 0.0 if state is None else max(0.0, state.deferred_until - self._clock())

    def slot(self, host: str) -> _Slot:
        """Hold one request's slot on `host` (`async with hosts.slot(host): ...`); entering
        waits for the host's limit, interval and deferral."""
        return _Slot(self, host.lower())

    async def _wait_turn(self, state: _HostState) -> None:
        """Sleep until the host may start a request, then take a global slot.

        The check is repeated after taking the global slot because a deferral may have been set
        while we waited for it.
        """
        gap = self._interval * (1.0 + JITTER_FRACTION * self._rng())
        while True:
            wait = max(state.last_start + gap, state.deferred_until) - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await self._global.acquire()
            if max(state.last_start + gap, state.deferred_until) <= self._clock():
                return
            self._global.release()

    def _record_start(self, state: _HostState) -> None:
        now = self._clock()
        stats = self.stats
        stats.min_start_gap_s = min(stats.min_start_gap_s, now - state.last_start)
        state.last_start = now
        state.in_flight += 1
        stats.started += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.max_host_in_flight = max(stats.max_host_in_flight, state.in_flight)

    def _is_idle(self, state: _HostState, now: float) -> bool:
        return (
            state.users == 0
            and now >= state.last_start + self._interval * (1.0 + JITTER_FRACTION)
            and now >= state.deferred_until
        )

    def _after_release(self, host: str, state: _HostState) -> None:
        self._releases += 1
        if self._releases % self.SWEEP_EVERY == 0:
            self.forget_idle_hosts()
        elif self._is_idle(state, self._clock()):
            # Usually not yet idle (the interval has just begun); the sweep catches it later.
            self._hosts.pop(host, None)

    def forget_idle_hosts(self) -> int:
        """Drop state of hosts nobody uses whose interval and deferral have passed."""
        now = self._clock()
        idle = [host for host, state in self._hosts.items() if self._is_idle(state, now)]
        for host in idle:
            del self._hosts[host]
        return len(idle)


class _Slot:
    """The async context manager behind HostPool.slot (a class: cheaper than a generator)."""

    __slots__ = ("_host", "_pool", "_state")

    def __init__(self, pool: HostPool, host: str) -> None:
        self._pool = pool
        self._host = host
        self._state: _HostState | None = None

    async def __aenter__(self) -> None:
        pool = self._pool
        state = self._state = pool._state(self._host)
        state.users += 1
        try:
            await state.semaphore.acquire()
            try:
                await pool._wait_turn(state)
            except BaseException:
                state.semaphore.release()
                raise
        except BaseException:
            state.users -= 1
            pool._after_release(self._host, state)
            raise
        pool._record_start(state)

    async def __aexit__(self, *exc_info: object) -> None:
        pool, state = self._pool, self._state
        assert state is not None
        state.in_flight -= 1
        pool.stats.in_flight -= 1
        pool._global.release()
        state.semaphore.release()
        state.users -= 1
        pool._after_release(self._host, state)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date.

    `now` is the current Unix time (default: time.time()). A date in the past gives 0.0;
    negative numbers, empty and unparseable values give None. Callers cap the result with
    config.retry_after_cap_s.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:   # HTTP-dates are GMT; a date without a zone is read as such
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    rng: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].

    `attempt` counts from 0 for the first retry.
    """
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 32)))
    return ceiling * rng()
