"""Composing the stages: unique URLs -> fetch (polite, concurrent) -> classify per organization.

A URL shared by several organizations is fetched once; each organization still gets its own
judgement, because identity ("does the page still name us?") depends on whose link it is.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from checker.classify import Baseline, classify, identity_changed
from checker.config import CheckerConfig
from checker.fetch import fetch
from checker.network import default_resolver, make_client
from checker.outcome import CheckResult, FetchTrace
from checker.politeness import HostPool
from directory.db import now_iso
from directory.urls import normalize


@dataclass(frozen=True)
class Target:
    """One thing to judge: a URL, and whose website it is (None for ad-hoc URLs)."""

    url: str
    organization_id: str | None = None
    names: tuple[str, ...] = ()
    baseline: Baseline | None = None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def interleave_by_host(urls: Iterable[str]) -> list[str]:
    """Round-robin over hosts, busiest first, so no host's requests bunch up behind the per-host
    limit while the global limit has room for others."""
    queues: dict[str, deque[str]] = defaultdict(deque)
    for url in urls:
        queues[_host(url)].append(url)
    ordered = sorted(queues.values(), key=len, reverse=True)
    result = []
    for round_ in itertools.zip_longest(*ordered):
        result.extend(url for url in round_ if url is not None)
    return result


async def fetch_all(urls: Iterable[str], config: CheckerConfig, *, resolver=None) -> AsyncIterator[FetchTrace]:
    """Fetch every URL once, yielding traces as they complete."""
    pending = deque(interleave_by_host(dict.fromkeys(urls)))
    if not pending:
        return
    hosts = HostPool(config)
    done: asyncio.Queue[FetchTrace | None] = asyncio.Queue()
    # Workers only wait for a host or the global slot; more workers than the global limit keep
    # that limit busy while some wait on slow or deferred hosts.
    workers = min(len(pending), max(config.concurrency * 4, config.concurrency + 8))

    async with make_client(config, resolver or default_resolver(config)) as client:
        async def work() -> None:
            try:
                while pending:
                    url = pending.popleft()
                    await done.put(await fetch(url, client=client, hosts=hosts, config=config))
            finally:
                await done.put(None)

        tasks = [asyncio.create_task(work()) for _ in range(workers)]
        try:
            running = len(tasks)
            while running:
                trace = await done.get()
                if trace is None:
                    running -= 1
                else:
                    yield trace
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def check_targets(
    targets: Iterable[Target],
    config: CheckerConfig,
    *,
    on_result: Callable[[Target, CheckResult, str | None], None],
    resolver=None,
) -> None:
    """Fetch each distinct URL once and hand every target its classified result."""
    by_url: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_url[_key(target.url)].append(target)
    # fetch_all hands back each trace under the URL it was given: look the key up, don't recompute it.
    key_of = {group[0].url: key for key, group in by_url.items()}
    async for trace in fetch_all(key_of, config, resolver=resolver):
        checked_at = now_iso()
        for target in by_url.pop(key_of.pop(trace.url), []):
            result = classify(trace, names=list(target.names), baseline=target.baseline,
                              checked_at=checked_at)
            note = identity_changed(result, target.baseline, list(target.names)) if target.baseline else None
            on_result(target, result, note)


def _key(url: str) -> str:
    try:
        return normalize(url)
    except ValueError:
        return url
