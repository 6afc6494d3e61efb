"""The Versions page's changes, each behind a confirmation: its form posts here, the answer
is a page that says what will change (or why the request cannot be made), and only its
second form, which carries `confirmed`, makes the change. Each takes the API's scope for it
(docs/security.md) and goes through the same serializer and call as the API:

- activate (roll back or forward), evaluate, schedule and stop the checks: `write`, as
  POST /api/models/{id}/activate/, /evaluate/, POST and DELETE /api/schedules/;
- canary, shadow, clearing the split: `admin`, as PUT and DELETE /api/traffic/;
- delete: `admin`, as DELETE /api/models/{id}/."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.monitoring_serializers import ScheduleRequestSerializer
from web.console import pages
from web.console.access import console_view
from web.console.overview import attempt
from web.promotion.traffic_selectors import traffic_current
from web.promotion.traffic_serializers import TrafficRequestSerializer
from web.promotion.traffic_services import traffic_clear, traffic_set

# The bounds of a canary the form may set; left empty, the service's defaults.
CANARY_BOUNDS = ("max_error_rate", "min_live_accuracy", "min_answers", "min_feedback")


@dataclass
class Change:
    """A change as its confirmation shows it, and how to make it: `make` returns what to
    tell the person once it is made."""

    title: str
    button: str
    says: str
    make: Callable[[], str]
    # The form's values, sent again with the confirmation.
    fields: dict[str, str] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    danger: bool = False
    # Where to go once it is made; the version's page by default.
    then: str = ""


def _confirmed(request: HttpRequest, model_id: uuid.UUID | None, change: Change) -> HttpResponse:
    back = reverse("console:version", args=[model_id]) if model_id else reverse("console:versions")
    context: dict[str, Any] = {"change": change, "back": back}
    if change.errors:
        return render(request, "console/version_confirm.html", context, status=400)
    if request.POST.get("confirmed") != "yes":
        return render(request, "console/version_confirm.html", context)
    try:
        told = change.make()
    except AlgorithmError as error:
        context["failure"], context["retry"] = str(error.detail), error.status_code >= 500
        return render(request, "console/version_confirm.html", context, status=error.status_code)
    messages.success(request, told)
    return redirect(change.then or back)


def _errors(serializer: Any) -> dict[str, list[str]]:
    """A serializer's errors by field path (`canary.percent`); none if it is valid."""
    return {} if serializer.is_valid() else dict(_paths(serializer.errors))


def _paths(errors: Any, prefix: str = "") -> Any:
    if isinstance(errors, dict):
        for name, found in errors.items():
            yield from _paths(found, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or "form", [str(error) for error in errors]


@console_view(Scope.WRITE)
@require_POST
def activate(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    def make() -> str:
        algorithm_client().activate_model(model_id=str(model_id))
        return f"Version {model_id} is active: it answers every prediction that names no version."

    return _confirmed(
        request,
        model_id,
        Change(
            title="Activate this version?",
            button="Activate it",
            says="Predictions that name no version get their answers from it within a second, "
            "with no restart. If it is the canary or the shadow, it stops being one.",
            make=make,
            facts=[("Version", str(model_id))],
        ),
    )


@console_view(Scope.WRITE)
@require_POST
def evaluate(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    def make() -> str:
        record = algorithm_client().evaluate_model(model_id=str(model_id), rows=None)
        return f"Evaluation queued (job {record.job_id}): its confusion matrix follows here."

    return _confirmed(
        request,
        model_id,
        Change(
            title="Evaluate this version?",
            button="Evaluate it",
            says="A job scores it on every row of the data table as it is when the job runs, "
            "and keeps the outcome as a metric record.",
            make=make,
            facts=[("Version", str(model_id))],
        ),
    )


@console_view(Scope.WRITE)
@require_POST
def schedule(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    cron = request.POST.get("cron_expression", "")
    params = ScheduleRequestSerializer(data={"model_id": str(model_id), "cron_expression": cron})

    def make() -> str:
        made = algorithm_client().set_schedule(
            model_id=str(model_id), cron_expression=params.validated_data["cron_expression"]
        )
        return f"Accuracy checks of {model_id} scheduled: {made.cron_expression} (UTC)."

    return _confirmed(
        request,
        model_id,
        Change(
            title="Schedule this version's accuracy checks?",
            button="Schedule them",
            says="On each tick the worker scores the version's newest results row and keeps "
            "the accuracy. This replaces the version's schedule, if it has one.",
            make=make,
            fields={"cron_expression": cron},
            facts=[("Version", str(model_id)), ("Cron expression (UTC)", cron)],
            errors=_errors(params),
        ),
    )


@console_view(Scope.WRITE)
@require_POST
def unschedule(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    def make() -> str:
        algorithm_client().delete_schedule(model_id=str(model_id))
        return f"Accuracy checks of {model_id} stopped."

    return _confirmed(
        request,
        model_id,
        Change(
            title="Stop this version's accuracy checks?",
            button="Stop them",
            says="Its schedule is deleted; the accuracy last computed stays.",
            make=make,
            facts=[("Version", str(model_id))],
        ),
    )


@console_view(Scope.ADMIN)
@require_POST
def delete(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    def make() -> str:
        algorithm_client().delete_model(model_id=str(model_id))
        return f"Version {model_id} is deleted."

    return _confirmed(
        request,
        model_id,
        Change(
            title="Delete this version?",
            button="Delete it",
            says="Its files, its record and its metric records are deleted; it cannot be "
            "brought back. The active version cannot be deleted: activate another first.",
            make=make,
            facts=[("Version", str(model_id))],
            danger=True,
            then=reverse("console:versions"),
        ),
    )


@console_view(Scope.ADMIN)
@require_POST
def traffic(request: HttpRequest, model_id: uuid.UUID) -> HttpResponse:
    """Make the version the canary or the shadow; the other part of the split stays as it
    is, unless it names this version (a version is one or the other)."""
    role = "shadow" if request.POST.get("role") == "shadow" else "canary"
    current, error = attempt(traffic_current)
    if current is None:
        return pages.refusal(request, 503, "The algorithm service did not answer", error or "")
    mine = str(model_id)
    kept = {
        part: {key: value for key, value in current[part].items() if key != "since"}
        for part in ("canary", "shadow")
        if current[part] and current[part]["model_id"] != mine
    }
    fields = {"role": role}
    if role == "canary":
        fields["percent"] = request.POST.get("percent", "")
        fields |= {name: request.POST.get(name, "") for name in CANARY_BOUNDS}
        sent = {name: value for name, value in fields.items() if value and name != "role"}
        split = {"canary": {"model_id": mine, **sent}, "shadow": kept.get("shadow")}
    else:
        fields["share"] = request.POST.get("share", "")
        split = {
            "canary": kept.get("canary"),
            "shadow": {"model_id": mine, "share": fields["share"]},
        }
    params = TrafficRequestSerializer(data=split)
    errors = _errors(params)

    def make() -> str:
        valid = params.validated_data
        traffic_set(canary=valid["canary"], shadow=valid["shadow"])
        return f"Version {model_id} is the {role}."

    return _confirmed(
        request,
        model_id,
        Change(
            title=f"Make this version the {role}?",
            button=f"Make it the {role}",
            says="The canary answers its share of the predictions that name no version, and is "
            "rolled back on its own if it errs or its live accuracy falls; the shadow scores "
            "its share of them after the answer, for comparison. Serving follows within a "
            "quarter of a second.",
            make=make,
            fields=fields,
            facts=_split_facts(split, current["champion_id"]),
            errors=errors,
        ),
    )


@console_view(Scope.ADMIN)
@require_POST
def traffic_clear_all(request: HttpRequest) -> HttpResponse:
    def make() -> str:
        traffic_clear()
        return "The traffic split is cleared: the active version answers every prediction."

    current, _ = attempt(traffic_current)
    return _confirmed(
        request,
        None,
        Change(
            title="Clear the traffic split?",
            button="Clear it",
            says="The canary and the shadow are removed: the active version answers every "
            "prediction again.",
            make=make,
            facts=_split_facts(current, current["champion_id"]) if current else [],
        ),
    )


def _split_facts(split: dict[str, Any], champion_id: str | None) -> list[tuple[str, str]]:
    canary, shadow = split.get("canary"), split.get("shadow")
    return [
        ("Canary", f"{canary['model_id']}, {canary.get('percent')} % of predictions")
        if canary
        else ("Canary", "none"),
        ("Shadow", f"{shadow['model_id']}, share {shadow.get('share')}")
        if shadow
        else ("Shadow", "none"),
        ("Champion (the active version)", champion_id or "none"),
    ]
