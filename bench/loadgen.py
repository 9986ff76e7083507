"""A small closed-loop HTTP load generator, run in its own process (never the server's).

Each of `concurrency` threads holds one keep-alive `http.client` connection and sends the
next request from a shared list until none is left; latencies are per request.
"""

from __future__ import annotations

import http.client
import multiprocessing
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

Request = tuple[str, str, bytes, dict[str, str]]  # method, path, body, headers


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _drive(port: int, requests: list[Request], concurrency: int) -> LoadResult:
    lock = threading.Lock()
    cursor = iter(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        seen: dict[int, int] = {}
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            method, path, body, headers = item
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            seen[response.status] = seen.get(response.status, 0) + 1
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return LoadResult(
        requests=len(latencies),
        seconds=seconds,
        p50_ms=statistics.median(latencies),
        p99_ms=_percentile(latencies, 0.99),
        statuses=statuses,
    )


def _child(port: int, requests: list[Request], concurrency: int, out: Any) -> None:
    out.put(_drive(port, requests, concurrency))


def run_load(port: int, requests: list[Request], concurrency: int = 16) -> LoadResult:
    """Send `requests` from a separate process; return its throughput and latencies."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(port, requests, concurrency, out))
    process.start()
    result: LoadResult = out.get()
    process.join()
    return result
