"""A lean HTTP load generator, run as its own process so it never shares a GIL with the server.

Run: python -m bench.load_client URL [--concurrency 8] [--seconds 10] [--body JSON] [--processes P]
     [--header 'Authorization: Bearer KEY']

Every client is a thread holding one keep-alive `http.client` connection and sending requests
back to back (closed loop). With `--processes P` the clients are spread over P forked processes,
for when one Python process cannot drive the target rate. Prints one JSON summary:
`{"requests", "errors", "per_s", "p50_ms", "p95_ms", ...}`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.report import percentile


@dataclass(kw_only=True, slots=True)
class Tally:
    """What the clients of one process saw: a latency per successful request, and errors."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def merge(self, other: Tally) -> None:
        self.latencies_ms.extend(other.latencies_ms)
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error


def _client(
    url: str,
    body: bytes | None,
    expect: bytes | None,
    start: float,
    stop: float,
    headers: dict[str, str],
    tally: Tally,
) -> None:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    method = "POST" if body is not None else "GET"
    headers = {**({"Content-Type": "application/json"} if body is not None else {}), **headers}
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    latencies = tally.latencies_ms
    perf = time.perf_counter
    while time.time() < start:
        time.sleep(0.001)
    while True:
        began = perf()
        if time.time() >= stop:
            break
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
            continue
        elapsed = (perf() - began) * 1000.0
        if response.status != 200 or (expect is not None and expect not in data):
            tally.errors += 1
            tally.first_error = tally.first_error or f"HTTP {response.status}: {data[:300]!r}"
        else:
            latencies.append(elapsed)
    conn.close()


def _run_threads(
    url: str,
    threads: int,
    body: bytes | None,
    expect: bytes | None,
    start: float,
    stop: float,
    headers: dict[str, str],
) -> Tally:
    tallies = [Tally() for _ in range(threads)]
    workers = [
        threading.Thread(target=_client, args=(url, body, expect, start, stop, headers, tally), daemon=True)
        for tally in tallies
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def _process_entry(args: tuple) -> tuple[list[float], int, str]:
    tally = _run_threads(*args)
    return tally.latencies_ms, tally.errors, tally.first_error


def run_load(
    url: str,
    *,
    concurrency: int = 8,
    seconds: float = 10.0,
    body: bytes | None = None,
    expect: bytes | None = None,
    processes: int = 1,
    headers: dict[str, str] | None = None,
) -> dict:
    """Drive `url` with `concurrency` closed-loop clients for `seconds`; return the summary."""
    headers = dict(headers or {})
    if concurrency < 1 or processes < 1:
        raise ValueError("concurrency and processes must be at least 1")
    processes = min(processes, concurrency)
    # Every client starts at the same instant, after all processes and threads exist.
    start = time.time() + 0.2 + 0.1 * processes
    stop = start + seconds
    if processes == 1:
        total = _run_threads(url, concurrency, body, expect, start, stop, headers)
    else:
        shares = [
            concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)
        ]
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_process_entry, [(url, n, body, expect, start, stop, headers) for n in shares])
        total = Tally()
        for latencies, errors, first_error in parts:
            total.merge(Tally(latencies_ms=latencies, errors=errors, first_error=first_error))
    ok = total.latencies_ms
    summary = {
        "requests": len(ok) + total.errors,
        "errors": total.errors,
        "per_s": round(len(ok) / seconds, 1),
        "p50_ms": round(percentile(ok, 50), 3) if ok else None,
        "p95_ms": round(percentile(ok, 95), 3) if ok else None,
        "p99_ms": round(percentile(ok, 99), 3) if ok else None,
        "concurrency": concurrency,
        "processes": processes,
        "seconds": seconds,
    }
    if total.first_error:
        summary["first_error"] = total.first_error
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, run the load, print the JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.load_client", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8080/functions/ID/execute")
    parser.add_argument("--concurrency", type=int, default=8, help="clients in flight (default 8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send (default 10)")
    parser.add_argument("--body", help="JSON body; POST when given, else GET")
    parser.add_argument("--expect", help="a response counts only if its body contains this text")
    parser.add_argument("--processes", type=int, default=1, help="spread the clients over N processes")
    parser.add_argument(
        "--header", action="append", default=[], help="'Name: value' sent with every request (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.body is not None:
        json.loads(args.body)  # fail early on a typo rather than measuring 400s
    summary = run_load(
        args.url,
        concurrency=args.concurrency,
        seconds=args.seconds,
        body=args.body.encode() if args.body is not None else None,
        expect=args.expect.encode() if args.expect else None,
        processes=args.processes,
        headers=dict(tuple(part.strip() for part in h.split(":", 1)) for h in args.header),
    )
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
