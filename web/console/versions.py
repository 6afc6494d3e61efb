"""Versions: every model version with its metrics; for the one selected (the newest by
default) its record, the confusion matrix of its latest evaluation as a heatmap (followed
live while an evaluation runs), accuracy by version (hold-out, scheduled checks, live) as
lines, the promotion decisions about it with their evidence, and the controls that change
it (version_actions.py). The same calls as GET /api/models/, /api/models/{id}/,
/api/models/{id}/metrics/, /api/schedules/{id}/, /api/results/{id}/, /api/traffic/ and
/api/promotion/decisions/."""

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from algorithm.v1 import promotion_pb2, promotion_pb2_grpc
from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client, service_call
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.live_accuracy import live_accuracy_fields
from web.console import pages
from web.console.access import console_view
from web.console.decisions import decision_shown
from web.console.overview import attempt, when
from web.console.version_charts import heatmap, line_chart
from web.promotion.traffic_selectors import traffic_current

# Versions listed, newest first (GET /api/models/ pages through all of them); the newest in
# the accuracy chart, besides the selected one; decisions looked through for the selected
# version's, and the most of them shown.
MOST_VERSIONS = 200
CHART_VERSIONS = 8
MOST_DECISIONS = 100
SHOWN_DECISIONS = 5
RUNNING = ("queued", "running")


@console_view(Scope.READ)
def versions(request: HttpRequest, model_id: uuid.UUID | None = None) -> HttpResponse:
    client = algorithm_client()
    listed, list_error = attempt(lambda: client.list_models(page_size=MOST_VERSIONS, page_token=""))
    models = [_listed(as_json(found)) for found in listed.models] if listed else []
    traffic, traffic_error = attempt(traffic_current)
    for model in models:
        model["role"] = _role(model["model_id"], traffic)
    context: dict[str, Any] = {
        "models": models,
        "list_error": list_error,
        "more": max(0, listed.total_size - len(models)) if listed else 0,
        "traffic": traffic if traffic and (traffic["canary"] or traffic["shadow"]) else None,
        "traffic_error": traffic_error,
    }
    selected_id = str(model_id) if model_id else (models[0]["model_id"] if models else None)
    if selected_id is not None:
        try:
            reply = client.get_model(model_id=selected_id)
        except AlgorithmError as error:
            if error.status_code == 404:
                return pages.refusal(request, 404, "Not found", str(error.detail))
            context["selected_error"] = str(error.detail)
        else:
            context["selected"] = _selected(as_json(reply.model), traffic)
            context["evaluation"] = evaluation_of(context["selected"])
            context["chart"] = _accuracy_chart(models, context["selected"])
            context["decisions"], context["decisions_error"] = _decisions(selected_id)
    return render(request, "console/versions.html", context)


@console_view(Scope.READ)
def evaluation(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    """The selected version's latest evaluation alone, for htmx to follow one that runs."""
    if not request.htmx:
        return redirect("console:version", model_id=model_id)
    found, error = attempt(lambda: algorithm_client().get_model(model_id=str(model_id)))
    shown = evaluation_of(_selected(as_json(found.model), None)) if found else {}
    context = {"evaluation": {**shown, "model_id": str(model_id), "failure": error}}
    return render(request, "console/_evaluation.html", context)


def _listed(model: dict[str, Any]) -> dict[str, Any]:
    metrics = model["metrics"] or {}
    frozen = (model["evaluation"] or {}).get("metrics") or {}
    return {
        **model,
        "created": when(model["create_time"]),
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "frozen_accuracy": frozen.get("accuracy"),
    }


def _role(model_id: str, traffic: dict[str, Any] | None) -> str:
    """What the version does in the traffic split, in words; empty if nothing."""
    canary, shadow = (traffic or {}).get("canary"), (traffic or {}).get("shadow")
    if canary and canary["model_id"] == model_id:
        return f"canary, {canary['percent']:g} % of predictions"
    if shadow and shadow["model_id"] == model_id:
        return f"shadow, scores {shadow['share']:.0%} of predictions"
    return ""


def _selected(model: dict[str, Any], traffic: dict[str, Any] | None) -> dict[str, Any]:
    """The selected version's record with what the page shows beside it: its live accuracy,
    its schedule and last scheduled check, and its metric records."""
    client, model_id = algorithm_client(), model["model_id"]
    schedule, _ = attempt(lambda: client.get_schedule(model_id=model_id))
    check, _ = attempt(lambda: client.get_accuracy(model_id=model_id))
    records, records_error = attempt(lambda: client.list_metric_records(model_id=model_id))
    checked = as_json(check) if check else None
    return {
        **_listed(model),
        **live_accuracy_fields(model_id=model_id),
        "role": _role(model_id, traffic),
        "schedule": as_json(schedule) if schedule else None,
        "check": {**checked, "computed": when(checked["computed_time"])} if checked else None,
        "records": [as_json(record) for record in records or ()],
        "records_error": records_error,
    }


def evaluation_of(selected: dict[str, Any]) -> dict[str, Any]:
    """The version's latest evaluation as the page shows it: the newest metric record that
    succeeded (else the evaluation set's scores at training) as a heatmap, and the newer one
    still running (followed), or failed (its error), if any."""
    records = selected["records"]
    done = next((r for r in records if r["state"] == "succeeded" and r["metrics"]), None)
    newer = records[: records.index(done)] if done else records
    shown: dict[str, Any] = {
        "model_id": selected["model_id"],
        "running": next((r for r in newer if r["state"] in RUNNING), None),
        "failed": next((r for r in newer if r["state"] == "failed"), None),
        "error": selected["records_error"],
    }
    if done is not None:
        source = "the rows sent" if done["source"] == "upload" else "the data table"
        title = f"Evaluated {_date(done['end_time'])} on {done['row_count']} rows of {source}"
        matrix = done["metrics"]["confusion_matrix"]
        shown["record"] = done
    elif (selected["evaluation"] or {}).get("metrics", {}).get("confusion_matrix"):
        frozen = selected["evaluation"]
        title = f"At training, on the evaluation set's {frozen['rows']} rows"
        matrix = frozen["metrics"]["confusion_matrix"]
    else:
        return shown
    shown["accuracy"] = (done or selected["evaluation"])["metrics"]["accuracy"]
    shown["chart"] = heatmap(title, matrix["labels"], matrix["rows"])
    return shown


def _date(value: str | None) -> str:
    found = when(value)
    return f"{found:%Y-%m-%d %H:%M} UTC" if found else "(not ended)"


def _accuracy_chart(models: list[dict[str, Any]], selected: dict[str, Any]) -> Any:
    """Accuracy by version, oldest first: the newest CHART_VERSIONS and the selected one;
    hold-out at training, the last scheduled check, and live accuracy on the newest
    feedback (the model detail's window)."""
    shown = [
        model for model in models[:CHART_VERSIONS] if model["model_id"] != selected["model_id"]
    ]
    shown = sorted([*shown, selected], key=lambda model: model["create_time"])
    holdout, checks, live = {}, {}, {}
    for model in shown:
        model_id = model["model_id"]
        if model["accuracy"] is not None:
            holdout[model_id] = (model["accuracy"], model["create_time"])
        check, window = _measured(model, selected)
        if check and check["accuracy"] is not None:
            checks[model_id] = (check["accuracy"], check["computed_time"])
        if window and window["accuracy"] is not None:
            live[model_id] = (window["accuracy"], None)
    return line_chart(
        "Accuracy by version, oldest first",
        [(model["model_id"], model["model_id"][:8]) for model in shown],
        [
            ("holdout", "Hold-out at training", holdout),
            ("checks", "Last scheduled check", checks),
            ("live", "Live, on feedback", live),
        ],
        selected=selected["model_id"],
    )


def _measured(
    model: dict[str, Any], selected: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A version's last scheduled check and its live accuracy's newest-rows window (the
    selected version's as read already)."""
    if model["model_id"] == selected["model_id"]:
        found, live = selected["check"], selected["live_accuracy"]
    else:
        client = algorithm_client()
        check, _ = attempt(lambda: client.get_accuracy(model_id=model["model_id"]))
        found = as_json(check) if check else None
        live = live_accuracy_fields(model_id=model["model_id"])["live_accuracy"]
    return found, (live or {}).get("last_rows")


def _decisions(model_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """The newest promotion decisions that name the version, as challenger (or canary) or
    as champion."""
    request = promotion_pb2.ListDecisionsRequest(page_size=MOST_DECISIONS, page_token="")
    found, error = attempt(
        lambda: service_call(promotion_pb2_grpc.PromotionServiceStub, "ListDecisions", request)
    )
    named = [
        as_json(decision)
        for decision in (found.decisions if found else ())
        if model_id in (decision.candidate_id, decision.champion_id)
    ]
    return [decision_shown(decision) for decision in named[:SHOWN_DECISIONS]], error
