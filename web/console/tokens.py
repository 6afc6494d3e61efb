"""Tokens (admin): create one with scopes and an expiry (its key shown this once), list them
by fingerprint, revoke one. The same serializer, services and selector as /api/tokens/."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from web.accounts.models import ApiToken
from web.accounts.scopes import SCOPE_CHOICES, Scope
from web.accounts.selectors import token_list
from web.accounts.serializers import TokenCreateSerializer
from web.accounts.services import TokenError, token_revoke
from web.console.access import console_view

# Tokens listed, newest first; the API pages through all of them.
MOST_TOKENS = 200
MAX_EXPIRY_DAYS = 3650


@console_view(Scope.ADMIN)
def tokens(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"scope_choices": SCOPE_CHOICES, "max_days": MAX_EXPIRY_DAYS}
    status = 200
    if request.method == "POST":
        created, errors = _create(request)
        if created is None:
            # Filled in again to be corrected; after a token is made, empty for the next.
            context["form"], context["errors"], status = request.POST, errors, 400
        else:
            context["created"] = created
    listed = token_list()
    context["tokens"] = listed[:MOST_TOKENS]
    context["more"] = max(0, listed.count() - MOST_TOKENS)
    return render(request, "console/tokens.html", context, status=status)


def _create(request: HttpRequest) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The token made ({"token", "key"}), or none and the errors by field."""
    days = request.POST.get("expires_in_days", "").strip()
    if days and not (days.isdigit() and 1 <= int(days) <= MAX_EXPIRY_DAYS):
        return None, {"expires_in_days": [f"A whole number of days, 1 to {MAX_EXPIRY_DAYS}."]}
    params = TokenCreateSerializer(
        data={
            "user": request.POST.get("user", ""),
            "name": request.POST.get("name", ""),
            "scopes": request.POST.getlist("scopes"),
            "expires_at": timezone.now() + timedelta(days=int(days)) if days else None,
        }
    )
    if not params.is_valid():
        return None, {field: [str(e) for e in found] for field, found in params.errors.items()}
    try:
        token, key = params.save()
    except TokenError as error:
        return None, {"user": [str(error)]}
    return {"token": token, "key": key}, {}


@console_view(Scope.ADMIN)
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = token_revoke(token_id=token_id)
    except ApiToken.DoesNotExist:
        messages.error(request, f"There is no token {token_id}.")
    except TokenError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Token {token.fingerprint} is revoked.")
    return redirect("console:tokens")
