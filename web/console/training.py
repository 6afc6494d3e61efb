"""Training: start a job with an algorithm and its parameters (write; a challenger, admin),
the form built from the algorithms the service lists with their bounds; watch a job's
progress live until it ends; the newest jobs. The same calls as GET /api/algorithms/,
POST /api/train/ (its serializer and scope rule: services.training_start), GET /api/jobs/
and GET /api/jobs/{id}/."""

import math
import uuid
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from rest_framework.exceptions import ValidationError

from common.proto_json import as_json
from web.accounts.permissions import InsufficientScope
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.services import training_start
from web.console import pages
from web.console.access import console_view
from web.console.overview import attempt, when

# Jobs listed, newest first; GET /api/jobs/ pages through all of them.
MOST_JOBS = 20
ENDED = ("succeeded", "failed")


@console_view(Scope.READ, post=Scope.WRITE)
def training(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        job, context["errors"], context["failure"], status = _start(request)
        if job is not None:
            return redirect("console:training-job", job_id=job.job_id)
        if status == 403:
            return pages.forbidden(request, Scope.ADMIN)
    return _page(request, context, request.POST if request.method == "POST" else None, status)


@console_view(Scope.READ)
def job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """A job's page, which follows it until it ends; to htmx (its polling), the job alone."""
    found, failure = _job(str(job_id))
    if request.htmx:
        return render(request, "console/_training_job.html", {"job": {**found, "failure": failure}})
    if found.get("missing"):
        return pages.refusal(request, 404, "Not found", failure or "")
    # The form below holds the job's algorithm and parameters, to train them again.
    again = {
        f"{found.get('algorithm')}.{name}": value
        for name, value in (found.get("parameters") or {}).items()
    }
    again["algorithm"] = found.get("algorithm", "")
    return _page(request, {"watched": {**found, "failure": failure}}, again, 200)


def _job(job_id: str) -> tuple[dict[str, Any], str | None]:
    """The job as the templates show it, or why it could not be read: `missing` if the
    service knows no such job (polling it again would not help)."""
    try:
        found = algorithm_client().get_job(job_id=job_id)
    except AlgorithmError as error:
        return {"job_id": job_id, "missing": error.status_code == 404}, str(error.detail)
    return _shown(as_json(found)), None


def _shown(job: dict[str, Any]) -> dict[str, Any]:
    return {
        **job,
        "ended": job["state"] in ENDED,
        "percent": round(job["progress"] * 100),
        "created": when(job["create_time"]),
        "started": when(job["start_time"]),
        "finished": when(job["end_time"]),
        "accuracy": (job["metrics"] or {}).get("accuracy"),
    }


def _page(
    request: HttpRequest, context: dict[str, Any], form: Mapping[str, Any] | None, status: int
) -> HttpResponse:
    listed, context["algorithms_error"] = attempt(algorithm_client().list_algorithms)
    context["algorithms"] = _form_of([as_json(found) for found in listed or ()], form)
    jobs, context["jobs_error"] = attempt(
        lambda: algorithm_client().list_jobs(page_size=MOST_JOBS, page_token="")
    )
    context["jobs"] = [_shown(as_json(found)) for found in jobs.jobs] if jobs else []
    context["more_jobs"] = max(0, jobs.total_size - len(context["jobs"])) if jobs else 0
    # A new one each time the form is shown: sent twice (a double click, a reload), the
    # form starts one job, as a repeated request_id does over the API.
    context["request_id"] = uuid.uuid4()
    context["promotion"] = bool(form and form.get("promotion"))
    return render(request, "console/training.html", context, status=status)


def _form_of(
    algorithms: list[dict[str, Any]], form: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The algorithms as the form shows them: the chosen one checked (the default at first),
    each parameter an input with its bounds, holding what was sent or its default."""
    chosen = form.get("algorithm") if form else None
    if chosen not in {found["name"] for found in algorithms}:
        chosen = next((found["name"] for found in algorithms if found["is_default"]), None)
    shown = []
    for algorithm in algorithms:
        parameters = []
        for parameter in algorithm["parameters"]:
            field = f"{algorithm['name']}.{parameter['name']}"
            integer = parameter["type"] == "integer"
            parameters.append(
                {
                    **parameter,
                    "field": field,
                    "id": f"parameter-{algorithm['name']}-{parameter['name']}",
                    "integer": integer,
                    "value": form.get(field, "") if form else parameter["default"],
                }
            )
        shown.append({**algorithm, "checked": algorithm["name"] == chosen, "fields": parameters})
    return shown


def _start(request: HttpRequest) -> tuple[Any, dict[str, list[str]], str | None, int]:
    """The job started, or none and the errors by field, the service's refusal and the
    status to answer with."""
    algorithm = request.POST.get("algorithm", "")
    listed, _ = attempt(algorithm_client().list_algorithms)
    declared = next((as_json(found) for found in listed or () if found.name == algorithm), None)
    parameters, errors = _parameters(request.POST, algorithm, declared)
    if errors:
        return None, errors, None, 400
    body = {
        "algorithm": algorithm,
        "parameters": parameters,
        "request_id": request.POST.get("request_id") or None,
        "promotion": request.POST.get("promotion") or False,
    }
    try:
        job = training_start(body=body, scopes=request.console_scopes)
    except ValidationError as error:
        fields = error.detail if isinstance(error.detail, dict) else {"form": error.detail}
        return None, {name: [str(e) for e in found] for name, found in fields.items()}, None, 400
    except InsufficientScope:
        return None, {}, None, 403
    except AlgorithmError as error:
        return None, {}, str(error.detail), error.status_code
    return job, {}, None, 202


def _parameters(
    form: QueryDict, algorithm: str, declared: dict[str, Any] | None
) -> tuple[dict[str, float | int], dict[str, list[str]]]:
    """The algorithm's parameters as numbers of their types; empty ones left out (the
    service fills in their defaults). Their bounds are the service's to check."""
    values: dict[str, float | int] = {}
    errors: dict[str, list[str]] = {}
    for parameter in declared["parameters"] if declared else ():
        field = f"{algorithm}.{parameter['name']}"
        sent = form.get(field, "").strip()
        if not sent:
            continue
        try:
            number = float(sent)
        except ValueError:
            number = math.nan
        integer = parameter["type"] == "integer"
        if not math.isfinite(number) or (integer and not number.is_integer()):
            kind = "A whole number" if integer else "A number"
            errors[field] = [f"{kind} from {parameter['minimum']:g} to {parameter['maximum']:g}."]
            continue
        values[parameter["name"]] = int(number) if integer else number
    return values, errors
