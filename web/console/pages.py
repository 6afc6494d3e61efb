"""The console's refusals as pages, in the console's own layout: 403 (a scope the person
lacks, or a form whose CSRF token did not match), 404, 429 and 503."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def refusal(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(
        request,
        "console/refusal.html",
        {"title": title, "message": message},
        status=status,
    )


def forbidden(request: HttpRequest, needed: str) -> HttpResponse:
    return refusal(
        request,
        403,
        "Not allowed",
        f"This needs the '{needed}' scope, which your console user does not have. Ask an "
        "admin to give it to you.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: only the console's forms are checked (the API takes tokens only)."""
    return refusal(
        request,
        403,
        "The form has expired",
        "This form was not sent from a page of this console, or it is too old. Go back, "
        "reload the page, and send it again.",
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return refusal(request, 404, "Not found", "There is no such page in the console.")
