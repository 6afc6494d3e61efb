"""The run's outputs: the printed tables, latest.json and latest.png."""

import json
import os
import pathlib
import platform

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.targets import Target


def machine() -> dict:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    info["line"] = (
        f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, Linux {info['kernel']}"
    )
    return info


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def targets_table(targets: list[Target]) -> str:
    rows = [("target", "figure", "bound", "ratio", "")]
    for target in targets:
        rows.append(
            (
                target.name,
                f"{_number(target.figure)} {target.unit}",
                f"{target.relation} {_number(target.bound)} ({target.rule})",
                f"{target.ratio:.2f}",
                "met" if target.met else "MISSED",
            )
        )
    return _markdown(rows)


def _spread(figure: dict, key: str) -> str:
    """The median and, over the repetitions kept in "runs", the lowest and the highest."""
    median = _number(figure[key])
    runs = [run[key] for run in figure.get("runs", ()) if run.get("requests", 1)]
    if len(runs) < 2:
        return median
    return f"{median} ({_number(min(runs))}-{_number(max(runs))})"


def figures_table(results: dict) -> str:
    """Latency (c1) and throughput of every path, one row each: the median over the
    repetitions, and their range."""
    throughput = results.get("throughput", {})
    concurrencies = sorted({int(c) for path in throughput.values() for c in path}) or [1]
    header = ("path", "p50 ms", "p99 ms", *(f"req/s c{c}" for c in concurrencies))
    rows = [header]
    for name, figure in results.get("latency", {}).items():
        by_concurrency = throughput.get(name, {})
        rows.append(
            (
                name,
                _spread(figure, "p50_ms"),
                _spread(figure, "p99_ms"),
                *(
                    _spread(by_concurrency[str(c)], "rps") if str(c) in by_concurrency else "-"
                    for c in concurrencies
                ),
            )
        )
    return _markdown(rows)


def peers_table(by_concurrency: dict) -> str:
    """One sitting of the peers section: each path at each concurrency (median and range
    over the repetitions), with the CPU each server process spent per request (busiest
    first; "imbalanced" if its workers did not share the load in some run)."""
    rows = [("path", "conc.", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms/request by process")]
    for concurrency in sorted(by_concurrency, key=int):
        for name, figure in by_concurrency[concurrency].items():
            cpu = figure["cpu"]
            rows.append(
                (
                    name,
                    concurrency,
                    _spread(figure, "rps"),
                    _spread(figure, "p50_ms"),
                    _spread(figure, "p99_ms"),
                    figure["errors"],
                    "; ".join(_cpu_cell(server, cpu[server]) for server in cpu),
                )
            )
    return _markdown(rows)


def open_loop_table(open_loop: dict) -> str:
    """REST and each peer at fixed arrival rates (median and range over the repetitions)."""
    rows = [("pair", "share", "req/s sent", "path", "p50 ms", "p99 ms", "completed", "errors")]
    for peer, by_peer in open_loop.items():
        for share, at in by_peer["shares"].items():
            for name in ("rest_predict", peer):
                figure = at[name]
                rows.append(
                    (
                        f"rest_predict / {peer}",
                        f"{float(share):.0%} of {_number(by_peer['capacity_rps'])}",
                        _number(at["rate"]),
                        name,
                        _spread(figure, "p50_ms"),
                        _spread(figure, "p99_ms"),
                        figure["completed"],
                        figure["errors"],
                    )
                )
    return _markdown(rows)


def learning_table(learning: dict) -> str:
    """REST predict with the prediction log off, at its default policy and keeping
    everything (median and range over the repetitions, with the records the log wrote and
    dropped), then the data exports."""
    rows = [("REST predict", "p50 ms c1", "req/s c1", "req/s c32", "log written", "dropped")]
    for name, records in learning["log_records"].items():
        rows.append(
            (
                name,
                _spread(learning[f"{name}_c1"], "p50_ms"),
                _spread(learning[f"{name}_c1"], "rps"),
                _spread(learning[f"{name}_c32"], "rps"),
                _number(records["written"]),
                _number(records["dropped"]),
            )
        )
    exports = [("data export", "seconds", "MB", "web peak RSS MiB")]
    for export in learning["export"].values():
        exports.append(
            (
                f"{export['rows']:,} rows, CSV",
                export["seconds"],
                round(export["bytes"] / 1e6, 1),
                export["peak_rss_mib"],
            )
        )
    return f"{_markdown(rows)}\n\n{_markdown(exports)}"


def traffic_table(traffic: dict) -> str:
    """REST predict with no split, a canary at 10 % and a shadow at 100 % (median and range
    over the repetitions), and the gRPC CPU per prediction at c1 with the shadow on and off."""
    rows = [("REST predict", "p50 ms c1", "req/s c1", "req/s c32")]
    for name in ("traffic_none", "traffic_canary", "traffic_shadow"):
        c1 = traffic[f"{name}_c1"]
        rows.append(
            (
                name.removeprefix("traffic_"),
                _spread(c1, "p50_ms"),
                _spread(c1, "rps"),
                _spread(traffic[f"{name}_c32"], "rps"),
            )
        )
    cpu = traffic["cpu_ms_per_prediction"]
    switched = traffic["shadow_on_and_off"]
    added = (
        "gRPC CPU ms per prediction at c1, two servers at once, the shadow on in one and "
        "swapped each pair: shadow on "
        f"{_spread(switched['on'], 'grpc_cpu_ms')}, off {_spread(switched['off'], 'grpc_cpu_ms')};"
        f" the shadow adds {_spread(switched['added'], 'grpc_cpu_ms')} (the median of the "
        "pairs' differences, and their range)"
    )
    model = (
        f"the shadow model in process: {cpu['model_in_process']} ms CPU per text back to back, "
        f"{cpu['model_in_process_paced']} ms paced as at c1"
    )
    answered = f"the canary run answered by the {traffic['canary_answered_by']}"
    turn = traffic["in_turn"]
    in_turn = (
        "one request at a time to each server in turn, p50 ms: "
        + ", ".join(
            f"{name.removeprefix('traffic_')} {_spread(turn[name], 'p50_ms')}"
            for name in ("traffic_none", "traffic_canary", "traffic_shadow")
        )
        + "; added to the no-split one's: "
        + ", ".join(
            f"{name} {_spread(turn[f'traffic_{name}_added'], 'p50_ms')}"
            for name in ("canary", "shadow")
        )
    )
    return f"{_markdown(rows)}\n\n{added}; {model}; {answered}\n\n{in_turn}"


def console_table(console: dict) -> str:
    """Each console page's GETs, one at a time (p50, p90 and the slowest), on the tables the
    section filled."""
    rows = [("console page", "path", "p50 ms", "p90 ms", "max ms", "KB", "requests")]
    for name, figure in console["pages"].items():
        rows.append(
            (
                name,
                figure["path"],
                _number(figure["p50_ms"]),
                _number(figure["p90_ms"]),
                _number(figure["max_ms"]),
                round(figure["bytes"] / 1000, 1),
                figure["requests"],
            )
        )
    seeded = console["seeded"]
    tables = (
        f"{seeded['data_rows']:,} data rows, {seeded['predictions']:,} logged predictions "
        f"({seeded['uncertain']:,} uncertain), {seeded['feedback']:,} feedback, "
        f"{seeded['review_items']:,} review items, written in {seeded['seconds']} s"
    )
    return f"{_markdown(rows)}\n\n{tables}"


def _cpu_cell(server: str, cpu: dict) -> str:
    processes = " + ".join(f"{ms:.2f}" for ms in cpu["processes_ms"] if ms >= 0.005)
    flag = f" imbalanced in {cpu['imbalanced_runs']}/{cpu['runs']}" * bool(cpu["imbalanced_runs"])
    return f"{server} {processes or '0'} = {cpu['total_ms']:.2f}{flag}"


def _markdown(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def write_json(path: pathlib.Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def draw(path: pathlib.Path, results: dict) -> None:
    figure, axes = plt.subplots(2, 3, figsize=(18, 10))
    _latency_distributions(axes[0][0], results.get("latency", {}))
    _scaling(axes[0][1], axes[0][2], results)
    _batches(axes[1][0], results.get("batch", {}))
    _growth(axes[1][1], axes[1][2], results.get("growth", {}))
    figure.suptitle(f"textclf benchmarks ({results.get('sizes', '')})")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _percentile_curve(axis, label: str, figure: dict) -> None:
    points = sorted((float(p), v) for p, v in figure["percentiles_ms"].items())
    axis.plot([p for p, _ in points], [v for _, v in points], marker="o", label=label)


def _latency_distributions(axis, latency: dict) -> None:
    for name, figure in latency.items():
        if "percentiles_ms" in figure:
            _percentile_curve(axis, name, figure)
    axis.set(title="Latency one call at a time", xlabel="percentile", ylabel="ms", yscale="log")
    axis.legend(fontsize=8)


def _scaling(rps_axis, p99_axis, results: dict) -> None:
    curves = dict(results.get("throughput", {}))
    best = results.get("peers", {}).get("best", {})
    for name in ("kserve_v1_best", "bentoml_best", "mlflow") if best else ():
        curves[name] = {c: by_path[name] for c, by_path in best.items()}
    for name, by_concurrency in curves.items():
        if not isinstance(by_concurrency, dict) or "error" in by_concurrency:
            continue
        points = sorted((int(c), figure) for c, figure in by_concurrency.items())
        xs = [c for c, _ in points]
        rps_axis.plot(xs, [f["rps"] for _, f in points], marker="o", label=name)
        p99_axis.plot(xs, [f["p99_ms"] for _, f in points], marker="o", label=name)
    rps_axis.set(
        title="Throughput, closed loop",
        xlabel="concurrency",
        ylabel="requests/s",
        xscale="log",
        yscale="log",
    )
    p99_axis.set(
        title="p99 latency under load",
        xlabel="concurrency",
        ylabel="ms",
        xscale="log",
        yscale="log",
    )
    rps_axis.legend(fontsize=8)
    p99_axis.legend(fontsize=8)


def _batches(axis, batch: dict) -> None:
    batches = batch.get("batches", {})
    if batches:
        sizes = sorted(int(size) for size in batches)
        axis.plot(
            sizes,
            [batches[str(n)]["per_text_ms"] for n in sizes],
            marker="o",
            label="PredictBatch per text",
        )
        single = batch["single_predict"]["p50_ms"]
        axis.axhline(single, color="gray", linestyle="--", label="single Predict")
        axis.axhline(single / 20, color="red", linestyle=":", label="target: single / 20")
    axis.set(
        title="Batch cost per text (p50)",
        xlabel="texts per call",
        ylabel="ms",
        xscale="log",
        yscale="log",
    )
    axis.legend(fontsize=8)


def _growth(length_axis, rows_axis, growth: dict) -> None:
    for name in ("grpc_predict", "in_process"):
        curve = growth.get(name, {})
        if curve:
            lengths = sorted(int(n) for n in curve)
            fit = growth[f"{name}_fit"]
            length_axis.plot(
                lengths,
                [curve[str(n)]["p50_ms"] for n in lengths],
                marker="o",
                label=f"{name} (slope {fit['slope']})",
            )
    length_axis.set(
        title="Predict p50 vs text length",
        xlabel="characters",
        ylabel="ms",
        xscale="log",
        yscale="log",
    )
    length_axis.legend(fontsize=8)
    training = growth.get("training", {})
    if training:
        rows = sorted(int(n) for n in training["seconds"])
        rows_axis.plot(
            rows,
            [training["seconds"][str(n)] for n in rows],
            marker="o",
            label=f"{training['algorithm']} (slope {training['fit']['slope']})",
        )
    rows_axis.set(
        title="Training time vs rows", xlabel="rows", ylabel="s", xscale="log", yscale="log"
    )
    rows_axis.legend(fontsize=8)
