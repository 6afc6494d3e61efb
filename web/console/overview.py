"""The overview: what is in the data, which version answers and how well, the last jobs, the
health of each service and the traffic split. Each part is read on its own, so a service
that does not answer leaves its part saying why and the rest still shown."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.live_accuracy import live_accuracy_fields
from web.api.readiness import readiness
from web.console.access import console_view
from web.console.charts import bar_chart
from web.data.selectors import data_counts
from web.promotion.traffic_selectors import traffic_current

T = TypeVar("T")
# Bars per chart, and jobs in the list: an overview, not the whole table.
MOST_BARS = 20
LAST_JOBS = 10


def attempt(read: Callable[[], T]) -> tuple[T | None, str | None]:
    """What `read` returns, or None and why the algorithm service could not answer."""
    try:
        return read(), None
    except AlgorithmError as error:
        return None, str(error.detail)


def when(value: str | None) -> datetime | None:
    """A timestamp of a service's answer (ISO 8601), for the templates' date filter."""
    return datetime.fromisoformat(value) if value else None


@console_view(Scope.READ)
def overview(request: HttpRequest) -> HttpResponse:
    charts = []
    for field, title in (("label", "Rows by label"), ("source", "Rows by source")):
        counts, values = data_counts(field=field, limit=MOST_BARS)
        charts.append(
            {
                "id": f"rows-by-{field}",
                "chart": bar_chart(title, [(key, float(rows)) for key, rows in counts]),
                "more": values - len(counts),
            }
        )
    info, info_error = attempt(algorithm_client().get_info)
    active = _active_version(info)
    jobs, jobs_error = attempt(
        lambda: algorithm_client().list_jobs(page_size=LAST_JOBS, page_token="")
    )
    traffic, traffic_error = attempt(traffic_current)
    checks, predicting = readiness()
    return render(
        request,
        "console/overview.html",
        {
            "charts": charts,
            "active": active,
            "info_error": info_error,
            "jobs": [_job(job) for job in jobs.jobs] if jobs else [],
            "jobs_error": jobs_error,
            "traffic": traffic if traffic and (traffic["canary"] or traffic["shadow"]) else None,
            "traffic_error": traffic_error,
            "health": [
                *({"name": name, "ok": ok} for name, ok in checks.items()),
                {"name": "predictions", "ok": predicting},
            ],
        },
    )


def _active_version(info: Any) -> dict[str, Any] | None:
    if info is None or not info.HasField("active_model"):
        return None
    model = as_json(info.active_model)
    evaluation = model["evaluation"] or {}
    live = live_accuracy_fields(model_id=model["model_id"])
    window = (live["live_accuracy"] or {}).get("last_rows") or {}
    return {
        **model,
        "created": when(model["create_time"]),
        "holdout_accuracy": (model["metrics"] or {}).get("accuracy"),
        "frozen_accuracy": (evaluation.get("metrics") or {}).get("accuracy"),
        "frozen_rows": evaluation.get("rows"),
        "live_accuracy": window.get("accuracy"),
        "live_feedback": window.get("feedback_count", 0),
        "live_error": live["live_accuracy_error"],
    }


def _job(message: Any) -> dict[str, Any]:
    job = as_json(message)
    return {**job, "created": when(job["create_time"]), "percent": round(job["progress"] * 100)}
