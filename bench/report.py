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


def figures_table(results: dict) -> str:
    """Latency (c1) and throughput of every path, one row each."""
    throughput = results.get("throughput", {})
    concurrencies = sorted({int(c) for path in throughput.values() for c in path}) or [1]
    header = ("path", "p50 ms", "p99 ms", *(f"req/s c{c}" for c in concurrencies))
    rows = [header]
    for name, figure in results.get("latency", {}).items():
        by_concurrency = throughput.get(name, {})
        rows.append(
            (
                name,
                _number(figure["p50_ms"]),
                _number(figure["p99_ms"]),
                *(
                    _number(by_concurrency[str(c)]["rps"]) if str(c) in by_concurrency else "-"
                    for c in concurrencies
                ),
            )
        )
    return _markdown(rows)


def peers_table(peers: dict) -> str:
    """The peers section: each path at each concurrency, with the CPU each server process
    spent per request (busiest first; "imbalanced" if its workers did not share the load in
    some run)."""
    rows = [("path", "conc.", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms/request by process")]
    for concurrency in sorted((key for key in peers if key.isdigit()), key=int):
        for name, figure in peers[concurrency].items():
            cpu = peers["cpu"][concurrency][name]
            rows.append(
                (
                    name,
                    concurrency,
                    _number(figure["rps"]),
                    _number(figure["p50_ms"]),
                    _number(figure["p99_ms"]),
                    figure["errors"],
                    "; ".join(_cpu_cell(server, cpu[server]) for server in cpu),
                )
            )
    return _markdown(rows)


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
    for section, names in (("mlflow", ("mlflow",)), ("peers", ("kserve_v1", "bentoml"))):
        figures = results.get(section, {})
        concurrencies = [key for key in figures if key.isdigit()]
        for name in names if concurrencies else ():
            curves[name] = {c: figures[c][name] for c in concurrencies}
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
