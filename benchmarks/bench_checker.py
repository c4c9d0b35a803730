"""Benchmark: the checker against a simulated web (run with `make bench`; not part of the tests).

    python benchmarks/bench_checker.py                   # 300 hosts, 6,000 URLs, 50-400 ms latencies
    python benchmarks/bench_checker.py --urls 100000 --hosts 3000 --latency 0.005 0.02   # memory run

Prints the wall time, the polite lower bound for the same settings (the larger of the busiest
host's total service time divided by the per-host limit, and all service time divided by the
global limit), their ratio, what the hosts saw (most connections at once, highest request rate,
429s provoked), requests per URL, false alarms and misses against the simulated web's truth, peak
memory and CPU time per URL.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.simulated_web import make_web, serve_forever  # noqa: E402
from checker.config import CheckerConfig  # noqa: E402
from checker.network import StaticResolver  # noqa: E402
from checker.run import Target, check_targets  # noqa: E402

GOOD = {"ok", "redirected"}


def polite_bound(web, per_host_limit: int, concurrency: int) -> tuple[float, float, float]:
    per_host = collections.Counter()
    total = 0.0
    for spec in web.urls:
        for host, seconds in web.requests_needed(spec):
            per_host[host] += seconds
            total += seconds
    busiest = max(per_host.values()) / per_host_limit
    overall = total / concurrency
    return max(busiest, overall), busiest, overall


def run(args) -> dict:
    web = make_web(hosts=args.hosts, urls=args.urls, seed=args.seed, latency=tuple(args.latency))
    context = multiprocessing.get_context("spawn")
    port_receiver, port_sender = context.Pipe(duplex=False)
    command_parent, command_child = context.Pipe()
    server = context.Process(target=serve_forever, args=(web, port_sender, command_child), daemon=True)
    server.start()
    port = port_receiver.recv()

    config = CheckerConfig(concurrency=args.concurrency, per_host_limit=args.per_host,
                           min_interval_s=args.interval, allow_private_addresses=True)
    resolver = StaticResolver({host: f"127.0.0.1:{port}" for host in web.hosts})
    truth = {spec.url: spec.expected for spec in web.urls}
    targets = [Target(spec.url) for spec in web.urls]
    del web.urls[:]  # the checker gets the URLs; the truth dict is all we keep
    outcomes = collections.Counter()
    false_alarms, misses, wrong = [], [], []

    def on_result(target, result, _note):
        got, expected = str(result.outcome), truth[target.url]
        outcomes[got] += 1
        if got != expected:
            if expected in GOOD and got not in GOOD:
                false_alarms.append((target.url, got, result.reason))
            elif expected not in GOOD and got in GOOD:
                misses.append((target.url, expected, result.reason))
            else:
                wrong.append((target.url, expected, got, result.reason))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before = time.process_time()
    started = time.perf_counter()
    asyncio.run(check_targets(targets, config, on_result=on_result, resolver=resolver))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    command_parent.send("report")
    seen = command_parent.recv()
    server.join(timeout=10)
    return {"wall": wall, "cpu": cpu, "peak_rss_mb": peak_rss, "rss_before_mb": rss_before, "seen": seen,
            "outcomes": outcomes, "false_alarms": false_alarms, "misses": misses, "wrong": wrong,
            "urls": len(truth)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--urls", type=int, default=6000)
    parser.add_argument("--latency", type=float, nargs=2, default=[0.05, 0.4], metavar=("MIN", "MAX"))
    parser.add_argument("--seed", type=int, default=1)
    defaults = CheckerConfig()
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--per-host", type=int, default=defaults.per_host_limit)
    parser.add_argument("--interval", type=float, default=defaults.min_interval_s)
    args = parser.parse_args(argv)

    web = make_web(hosts=args.hosts, urls=args.urls, seed=args.seed, latency=tuple(args.latency))
    bound, busiest, overall = polite_bound(web, args.per_host, args.concurrency)
    print(f"Simulated web: {len(web.hosts)} hosts ({args.hosts} listed + redirect targets), {args.urls} URLs, "
          f"latency {args.latency[0] * 1000:.0f}-{args.latency[1] * 1000:.0f} ms, "
          f"{sum(h.strict for h in web.hosts.values())} hosts answer 429 to impolite clients")
    print(f"Checker: concurrency {args.concurrency}, per-host limit {args.per_host}, interval {args.interval} s")
    result = run(args)
    seen = result["seen"]
    print()
    print(f"wall time            {result['wall']:.2f} s")
    print(f"polite lower bound   {bound:.2f} s  (busiest host {busiest:.2f} s, all service / global limit {overall:.2f} s)")
    print(f"ratio to bound       {result['wall'] / bound:.3f}")
    print(f"max connections to one host   {seen['max_host_connections']} (limit {args.per_host})")
    print(f"max requests to one host in 1 s  {seen['max_host_rate_1s']}")
    print(f"requests per URL     {seen['requests'] / result['urls']:.3f}")
    print(f"429s provoked        {seen['sent_429']}")
    print(f"false alarms         {len(result['false_alarms'])}")
    print(f"misses               {len(result['misses'])}")
    print(f"other mismatches     {len(result['wrong'])}")
    print(f"outcomes             {dict(sorted(result['outcomes'].items()))}")
    print(f"peak memory (RSS)    {result['peak_rss_mb']:.0f} MB (before the run {result['rss_before_mb']:.0f} MB)")
    print(f"CPU per URL          {result['cpu'] / result['urls'] * 1000:.2f} ms (checker process, {result['cpu']:.1f} s)")
    for label in ("false_alarms", "misses", "wrong"):
        for item in result[label][:5]:
            print(f"  {label}: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
