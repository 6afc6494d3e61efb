"""Closed-loop load, each generator in its own process: wrk for HTTP, bench.grpc_load for
gRPC; and `alternating`, one request at a time to several servers in turn, from this
process. A run's figure is a dict: requests, rps, errors, p50_ms, p99_ms and percentiles_ms."""

import http.client
import json
import pathlib
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)
WRK_SCRIPT = REPO_ROOT / "bench" / "wrk_report.lua"
_MARK = "BENCH_JSON "


def figure(requests: int, seconds: float, errors: int, percentiles_ms: dict[str, float]) -> dict:
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "errors": errors,
        "p50_ms": percentiles_ms["50"],
        "p99_ms": percentiles_ms["99"],
        "percentiles_ms": percentiles_ms,
    }


def figure_from_latencies(latencies_ms: Sequence[float], seconds: float, errors: int) -> dict:
    values = np.percentile(np.asarray(latencies_ms), PERCENTILES)
    percentiles = {f"{p:g}": round(float(v), 3) for p, v in zip(PERCENTILES, values, strict=True)}
    return figure(len(latencies_ms), seconds, errors, percentiles)


def _read_mark(output: str, what: str) -> dict:
    for line in output.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK) :])
    raise RuntimeError(f"{what} printed no figures:\n{output[-2000:]}")


def wrk(url: str, body: dict, concurrency: int, seconds: float, authorization: str = "") -> dict:
    """One wrk run: `concurrency` connections, each sending the next request on an answer."""
    threads = min(concurrency, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        authorization,
        json.dumps(body),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    raw = _read_mark(done.stdout, f"wrk against {url}")
    return figure(
        raw["requests"],
        raw["duration_us"] / 1e6,
        raw["errors"],
        {key: value / 1000 for key, value in raw["percentiles_us"].items()},
    )


def grpc(
    target: str, method: str, request: dict, concurrency: int, seconds: float, channels: int = 1
) -> dict:
    """One run of bench.grpc_load: `concurrency` calls in flight, shared by `channels`
    connections."""
    command = [
        sys.executable,
        "-m",
        "bench.grpc_load",
        target,
        method,
        str(concurrency),
        str(seconds),
        str(channels),
    ]
    done = subprocess.run(
        command,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        cwd=REPO_ROOT,
    )
    return _read_mark(done.stdout + done.stderr, f"gRPC load on {method}")


def alternating(
    urls: Mapping[str, str], body: dict, seconds: float, authorization: str = ""
) -> dict[str, dict]:
    """c1 to each server at once, as one would compare them: one request at a time, to each
    server in turn (in an order shuffled every round), over a kept connection each, for
    `seconds`; each server's figure. Whatever the machine does meanwhile, each server's
    requests meet it alike, which two runs one after the other cannot promise."""
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    connections, paths = {}, {}
    for name, url in urls.items():
        parts = urllib.parse.urlsplit(url)
        connections[name] = http.client.HTTPConnection(parts.netloc, timeout=10)
        paths[name] = parts.path
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    errors = dict.fromkeys(urls, 0)
    order, shuffle = list(urls), random.Random(0).shuffle
    began = time.perf_counter()
    try:
        while time.perf_counter() - began < seconds:
            shuffle(order)
            for name in order:
                started = time.perf_counter()
                connections[name].request("POST", paths[name], payload, headers)
                response = connections[name].getresponse()
                response.read()
                latencies[name].append((time.perf_counter() - started) * 1000)
                errors[name] += response.status != 200
    finally:
        for connection in connections.values():
            connection.close()
    elapsed = time.perf_counter() - began
    return {name: figure_from_latencies(latencies[name], elapsed, errors[name]) for name in urls}


def median_figure(runs: Sequence[dict]) -> dict:
    """The median of each figure over repeated runs (each percentile on its own); a run that
    got no answer at all (a stall of the machine) has no percentiles and is left out of
    theirs."""
    answered = [run for run in runs if run["requests"]] or runs
    keys = runs[0]["percentiles_ms"]
    percentiles = {
        key: round(statistics.median(run["percentiles_ms"][key] for run in answered), 3)
        for key in keys
    }
    merged = figure(
        sum(run["requests"] for run in runs),
        sum(run["seconds"] for run in runs),
        sum(run["errors"] for run in runs),
        percentiles,
    )
    merged["rps"] = round(statistics.median(run["rps"] for run in runs), 1)
    merged["repetitions"] = len(runs)
    return merged


def median_open_loop(runs: Sequence[dict]) -> dict:
    """The median of each open-loop figure over repeated runs; requests and errors summed."""
    return {
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 3),
        "p99_ms": round(statistics.median(run["p99_ms"] for run in runs), 3),
        "rate": round(statistics.median(run["rate"] for run in runs), 1),
        "completed": sum(run["completed"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        # Every request sent on time (bench/open_loop.py), in every run.
        "valid": all(run["valid"] for run in runs),
        "send_lag_p99_ms": max(run["send_lag_ms"]["99"] for run in runs),
        "generator_cpu_ms_per_request": round(
            statistics.median(run["cpu_ms_per_request"] for run in runs), 4
        ),
        "repetitions": len(runs),
    }
