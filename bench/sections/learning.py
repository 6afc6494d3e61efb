"""What the learning loop costs the answers, side by side in one run: REST predict with the
prediction log off, at its default policy, and keeping every prediction with its full text
(whose drops, if any, say whether the log keeps up); and the data export of 100,000 and of
1,000,000 rows through a web process of its own, with that process's peak memory."""

import pathlib
import re
import time

import requests

from bench import data
from bench.context import SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import descendants
from bench.stack import API_TOKEN
from bench.targets import Target, at_least, at_most

VARIANTS = {
    "log_off": {"PREDICTION_LOG": "off"},
    "log_default": {},
    "log_everything": {
        "PREDICTION_LOG_SAMPLE_RATE": "1",
        "PREDICTION_LOG_TEXT_UNCERTAIN": "full",
        "PREDICTION_LOG_TEXT_SAMPLED": "full",
        "PREDICTION_LOG_TEXT_BYTES_PER_MINUTE": str(1 << 40),
    },
}
CONCURRENCIES = (1, 32)
# The default policy may cost this much of the answers.
LOG_COST = 0.05
EXPORT_MEMORY_MIB = 10


def _log_records(ctx: Context, name: str) -> dict[str, float]:
    """The variant's gRPC server's prediction log records, written and dropped."""
    port = ctx.stack.ports[f"{name}_grpc_metrics"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.findall(
        r'^textclf_prediction_log_records_total\{outcome="(\w+)"\} (\S+)$', text, re.M
    )
    return {"written": 0.0, "dropped": 0.0} | {outcome: float(n) for outcome, n in found}


def _peak_rss_mib(root: int) -> float:
    """The highest peak resident memory (VmHWM) among a server's processes."""
    peaks = []
    for pid in descendants([root]):
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if match:
            peaks.append(int(match.group(1)) / 1024)
    return round(max(peaks), 1)


def _export(ctx: Context, name: str) -> dict:
    started = time.perf_counter()
    received = 0
    url = ctx.stack.url(name, "/api/data/export/?format=csv")
    headers = {"Authorization": f"Token {API_TOKEN}"}
    with requests.get(url, headers=headers, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 16):
            received += len(chunk)
    seconds = time.perf_counter() - started
    root = ctx.stack.services[name].process.pid
    return {"seconds": round(seconds, 2), "bytes": received, "peak_rss_mib": _peak_rss_mib(root)}


def run(ctx: Context) -> tuple[dict, list[Target]]:
    body = {"text": SAMPLE_TEXT, "model_id": ctx.models["sms"]}
    seconds = ctx.sizes.load_seconds
    for name, settings in VARIANTS.items():
        ctx.stack.start_rest_variant(name, **settings)
    ctx.stack.start_rest_variant("export_web")
    try:
        ctx.stack.wait_ready()
        for name in VARIANTS:
            warm_up(lambda c, s, name=name: ctx.http(name, "/api/predict/", body, c, s))
        runs = {
            f"{name}_c{c}": (
                lambda name=name, c=c: ctx.http(name, "/api/predict/", body, c, seconds)
            )
            for name in VARIANTS
            for c in CONCURRENCIES
        }
        figures: dict = side_by_side(runs, ctx.sizes.repetitions)
        # Records still queued when the load stops are written within a second or two.
        time.sleep(3)
        figures["log_records"] = {name: _log_records(ctx, name) for name in VARIANTS}
        exports = {}
        for rows in ctx.sizes.export_rows:
            data.load_table(ctx.stack, rows)
            exports[str(rows)] = {"rows": rows, **_export(ctx, "export_web")}
        figures["export"] = exports
    finally:
        for name in [*VARIANTS, "export_web"]:
            ctx.stack.stop(name)
            ctx.stack.stop(f"{name}_grpc")
    off, default = figures["log_off_c32"], figures["log_default_c32"]
    off_c1, default_c1 = figures["log_off_c1"], figures["log_default_c1"]
    everything = figures["log_records"]["log_everything"]
    small_rows, large_rows = ctx.sizes.export_rows
    small, large = exports[str(small_rows)], exports[str(large_rows)]
    targets = [
        at_least(
            "REST c32 with the prediction log at its default policy",
            default["rps"],
            (1 - LOG_COST) * off["rps"],
            "req/s",
            f"{1 - LOG_COST} x the log off",
        ),
        at_most(
            "REST p50 c1 with the prediction log at its default policy",
            default_c1["p50_ms"],
            (1 + LOG_COST) * off_c1["p50_ms"],
            "ms",
            f"{1 + LOG_COST} x the log off",
        ),
        at_most(
            "Prediction log records dropped, every prediction kept with its text",
            everything["dropped"],
            0,
            "records",
            f"none of {everything['written'] + everything['dropped']:,.0f}, PostgreSQL healthy",
        ),
        at_most(
            f"Web peak memory exporting {large_rows:,} rows",
            large["peak_rss_mib"],
            small["peak_rss_mib"] + EXPORT_MEMORY_MIB,
            "MiB",
            f"its peak at {small_rows:,} rows + {EXPORT_MEMORY_MIB} MiB",
        ),
    ]
    return figures, targets
