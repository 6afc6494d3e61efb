"""Try it: classify a text with the active version or a chosen one, as POST /api/predict/
does (its request serializer, the one gRPC client), explained: the scores as bars and the
terms that decided marked in the text."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common import limits
from common.coalescing import Origin
from web.accounts.scopes import Scope, grants
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.serializers import PredictRequestSerializer
from web.api.middleware import request_id_of
from web.console.access import console_view
from web.console.charts import bar_chart
from web.console.explanations import highlighted
from web.console.overview import attempt, when

# Versions offered in the choice, newest first.
MOST_VERSIONS = 100


@console_view(Scope.PREDICT)
def try_it(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "text": request.POST.get("text", ""),
        "model_id": request.POST.get("model_id", ""),
        "max_text_chars": limits.MAX_TEXT_CHARS,
    }
    if request.method == "POST":
        context.update(_classified(request, context["text"], context["model_id"]))
    # Listing versions is reading: without the read scope, only the active one is offered.
    if grants(request.console_scopes, Scope.READ) and not request.htmx:
        found, context["versions_error"] = attempt(
            lambda: algorithm_client().list_models(page_size=MOST_VERSIONS, page_token="")
        )
        context["versions"] = [
            {
                "model_id": model.model_id,
                "algorithm": model.algorithm,
                "active": model.active,
                "created": when(model.create_time.ToJsonString()),
            }
            for model in (found.models if found else ())
        ]
    template = "console/_try_it_result.html" if request.htmx else "console/try_it.html"
    return render(request, template, context, status=context.get("status", 200))


def _classified(request: HttpRequest, text: str, model_id: str) -> dict[str, Any]:
    params = PredictRequestSerializer(
        data={"text": text, "model_id": model_id or None, "explain": True}
    )
    if not params.is_valid():
        return {
            "errors": {field: [str(e) for e in found] for field, found in params.errors.items()},
            "status": 400,
        }
    caller = f"console:{request.user.get_username()}"[: limits.MAX_CALLER_CHARS]
    try:
        prediction = algorithm_client().predict(
            text=params.validated_data["text"],
            model_id=str(params.validated_data["model_id"] or ""),
            origin=Origin("", caller, request_id_of(request)),
            explain=True,
        )
    except AlgorithmError as error:
        return {"failure": str(error.detail), "status": error.status_code}
    scores = sorted(prediction["scores"].items(), key=lambda item: (-item[1], item[0]))
    explanation = prediction.get("explanation") or {}
    return {
        "prediction": prediction,
        "scores": bar_chart("Scores by label", scores, percent=True),
        "segments": highlighted(params.validated_data["text"], explanation),
        "unexplained": explanation.get("unavailable"),
    }
