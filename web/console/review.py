"""Review (write): the review queue one item at a time, as POST /api/review/lease/ and POST
/api/review/{id}/ work it (their serializers and services; the console user is the
reviewer). The item shows the model's scores as bars and the terms that decided marked in
its text; a label is one key press (static/console/review.js: the digits press the numbered
buttons), a correction names another label, a skip adds nothing. Each decision answers the
next item in place (htmx swaps the item's panel; without script, the form posts and the
page reloads).

The explanation comes from predicting the text again with `explain`, through the gRPC client
as Try it does, by the version that made the logged prediction if it still exists, else the
active one; if neither answers, the text is shown unmarked."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from common import limits
from common.coalescing import Origin
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.api.middleware import request_id_of
from web.console.access import console_view
from web.console.charts import bar_chart
from web.console.data import errors_of
from web.console.explanations import highlighted
from web.learning.models import ReviewItem
from web.learning.review_selectors import (
    Strategy,
    review_counts,
    review_leases,
    reviewer_of_console_user,
)
from web.learning.review_serializers import (
    ReviewDecisionRequestSerializer,
    ReviewLeaseRequestSerializer,
)
from web.learning.review_services import (
    Decision,
    ReviewItemNotFound,
    ReviewRefused,
    review_decide,
    review_lease,
)

# Labels that get a digit key, 1 to 9; any more are buttons without one.
KEYED_LABELS = 9
SKIP_KEY = "0"


def _reviewer(request: HttpRequest) -> str:
    return reviewer_of_console_user(user_id=request.user.pk, username=request.user.get_username())


def _choice(values: QueryDict) -> dict[str, Any]:
    """The strategy and balance asked for, as the lease serializer reads them; its defaults
    for anything it refuses (the page's own select offers only what it accepts)."""
    params = ReviewLeaseRequestSerializer(
        data={name: values[name] for name in ("strategy", "balanced") if values.get(name)}
    )
    if not params.is_valid():
        params = ReviewLeaseRequestSerializer(data={})
        params.is_valid()
    return dict(params.validated_data)


@console_view(Scope.WRITE)
def review(request: HttpRequest) -> HttpResponse:
    """The item the reviewer holds (the lease that ends first), or the button that leases one."""
    choice = _choice(request.GET)
    held = review_leases(reviewer=_reviewer(request), now=timezone.now()).first()
    return _page(request, choice, held, {})


@console_view(Scope.WRITE)
@require_POST
def lease(request: HttpRequest) -> HttpResponse:
    """The item the reviewer holds, or the next by the strategy, leased as POST
    /api/review/lease/ leases it."""
    choice = _choice(request.POST)
    item, said = _next_item(request, choice)
    return _answer(request, choice, item, said, status=409 if "failure" in said else 200)


@console_view(Scope.WRITE)
@require_POST
def decide(request: HttpRequest, item_id: int) -> HttpResponse:
    """A decision on the item, as POST /api/review/{id}/ takes it: a numbered label's button
    (`pick`) accepts the model's label or corrects to another; `decision=correct` with
    `other_label`, or `decision=skip`. Then the next item."""
    choice = _choice(request.POST)
    reviewer = _reviewer(request)
    params = ReviewDecisionRequestSerializer(data=_decision_of(request.POST, item_id))
    if not params.is_valid():
        held = review_leases(reviewer=reviewer, now=timezone.now()).filter(pk=item_id).first()
        failure = " ".join(errors_of(params.errors))
        return _answer(request, choice, held, {"failure": failure}, status=400)
    try:
        decided = review_decide(item_id=item_id, reviewer=reviewer, **params.validated_data)
    except (ReviewItemNotFound, ReviewRefused) as error:
        item, more = _next_item(request, choice)
        status = 404 if isinstance(error, ReviewItemNotFound) else 409
        return _answer(request, choice, item, {**more, "failure": str(error)}, status=status)
    item, more = _next_item(request, choice)
    return _answer(request, choice, item, {**more, "notice": _decided(decided)})


def _decision_of(form: QueryDict, item_id: int) -> dict[str, str]:
    picked = form.get("pick")
    if picked is not None:
        item = ReviewItem.objects.select_related("prediction").filter(pk=item_id).first()
        predicted = item.prediction.label if item and item.prediction else None
        if picked == predicted:
            return {"decision": str(Decision.ACCEPT)}
        return {"decision": str(Decision.CORRECT), "label": picked}
    decision = {"decision": form.get("decision", "")}
    if decision["decision"] == str(Decision.CORRECT):
        decision["label"] = form.get("other_label", "")
    return decision


def _decided(item: ReviewItem) -> str:
    if item.data_row_id is None:
        return f"Item {item.pk} skipped."
    return f"Item {item.pk} labelled {item.label}: row {item.data_row_id} added to the data."


def _next_item(request: HttpRequest, choice: dict[str, Any]) -> tuple[ReviewItem | None, dict]:
    """The lease the reviewer already holds that ends first, else a new one; with what to
    tell them when there is none."""
    reviewer = _reviewer(request)
    held = review_leases(reviewer=reviewer, now=timezone.now()).first()
    if held is not None:
        return held, {}
    try:
        item = review_lease(reviewer=reviewer, **choice)
    except ReviewRefused as error:
        return None, {"failure": str(error)}
    return item, ({} if item is not None else {"nothing_left": True})


def _answer(
    request: HttpRequest,
    choice: dict[str, Any],
    item: ReviewItem | None,
    said: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """The item's panel for htmx (always 200: htmx swaps only a success's answer in); without
    it the page with the failure and its status, or after a success the page again."""
    if request.htmx:
        return render(request, "console/_review_item.html", _panel(request, choice, item, said))
    if status >= 400:
        return _page(request, choice, item, said, status=status)
    if said.get("notice"):
        messages.success(request, said["notice"])
    query = f"?strategy={choice['strategy']}" + ("&balanced=true" if choice["balanced"] else "")
    return redirect(reverse("console:review") + query)


def _page(
    request: HttpRequest,
    choice: dict[str, Any],
    item: ReviewItem | None,
    said: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    context = {
        **_panel(request, choice, item, said),
        "strategies": Strategy.choices,
    }
    return render(request, "console/review.html", context, status=status)


def _panel(
    request: HttpRequest, choice: dict[str, Any], item: ReviewItem | None, said: dict[str, Any]
) -> dict[str, Any]:
    """What the item's panel shows: the item (its text marked, its scores, a button per
    label), or why there is none; the reviewer's counts."""
    context: dict[str, Any] = {
        **said,
        "choice": choice,
        "skip_key": SKIP_KEY,
        "max_label_chars": limits.MAX_LABEL_CHARS,
        "counts": review_counts(reviewer=_reviewer(request), now=timezone.now()),
    }
    if item is None:
        return context
    prediction = item.prediction
    context["item"] = item
    if prediction is None:
        return context
    scores = sorted(prediction.scores.items(), key=lambda pair: (-pair[1], pair[0]))
    labels = sorted(prediction.scores)
    context.update(
        prediction=prediction,
        scores=bar_chart("The model's scores", scores, percent=True),
        choices=[
            {
                "label": label,
                "key": str(index + 1) if index < KEYED_LABELS else "",
                "predicted": label == prediction.label,
            }
            for index, label in enumerate(labels)
        ],
        **_explained(request, prediction.text, str(prediction.model_id)),
    )
    return context


def _explained(request: HttpRequest, text: str, model_id: str) -> dict[str, Any]:
    """The text in segments marked by the explanation of its prediction, or unmarked and why."""
    caller = f"console:{request.user.get_username()}"[: limits.MAX_CALLER_CHARS]
    origin = Origin("", caller, request_id_of(request))
    for version in (model_id, ""):
        try:
            answer = algorithm_client().predict(
                text=text, model_id=version, origin=origin, explain=True
            )
        except AlgorithmError as error:
            if error.status_code == 404 and version:
                continue  # that version is gone: the active one explains instead
            return {"segments": highlighted(text, None), "unexplained": str(error.detail)}
        explanation = answer.get("explanation") or {}
        if explanation.get("unavailable"):
            return {"segments": highlighted(text, None), "unexplained": explanation["unavailable"]}
        return {
            "segments": highlighted(text, explanation),
            "explained_label": answer["label"],
            "explained_by": answer["model_id"],
        }
    return {"segments": highlighted(text, None)}
