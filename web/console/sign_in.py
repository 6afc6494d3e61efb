"""Signing in and out. A sign-in is refused before its password is hashed once its client
address or its user name has failed too often (SignInFailures), and while
CONSOLE_SIGN_IN_CONCURRENCY others are being checked in this process: hashing is the one
costly thing a visitor who is not signed in can make web do. The hashing itself runs on
threads of the lowest CPU priority, so that while sign-ins are checked, predictions and
every other request still get the cores first."""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from web.accounts.selectors import console_access_of
from web.api.throttling import SignInFailures, SignInUnavailable
from web.console import pages
from web.console.access import first_page, signed_in_scopes
from web.console.middleware import CONSOLE_PREFIX

_checking = threading.BoundedSemaphore(settings.CONSOLE_SIGN_IN_CONCURRENCY)
WRONG = "Wrong user name or password."


def _lowest_priority() -> None:
    # Linux keeps a nice value per thread: this lowers only the checking thread's.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


# Threads start at first use, so a pool made before gunicorn forks its workers is each one's.
_checkers = ThreadPoolExecutor(
    settings.CONSOLE_SIGN_IN_CONCURRENCY,
    thread_name_prefix="sign-in",
    initializer=_lowest_priority,
)


def _user_with(username: str, password: str):
    """The active user these credentials name, or None: ModelBackend's check, with the
    password hashed on a checking thread (a user name no one has costs one hash all the same,
    so that timing does not tell names apart)."""
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    encoded = user.password if user is not None and user.has_usable_password() else None
    if encoded is None:
        _checkers.submit(make_password, password).result()
        return None
    if not _checkers.submit(check_password, password, encoded).result():
        return None
    if identify_hasher(encoded).must_update(encoded):
        # Hashed again with the current hasher's settings, as ModelBackend does.
        user.set_password(password)
        user.save(update_fields=["password"])
    return user if user.is_active else None


class SignInForm(forms.Form):
    username = forms.CharField(
        label="User name",
        max_length=get_user_model()._meta.get_field("username").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    # Django's hashers refuse longer passwords too; bounded here before any of them runs.
    password = forms.CharField(
        label="Password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _next_page(request: HttpRequest, scopes: tuple[str, ...]) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if safe and wanted.startswith(CONSOLE_PREFIX):
        return wanted
    return first_page(scopes) or CONSOLE_PREFIX


@csrf_protect
@sensitive_post_parameters("password")
def sign_in(request: HttpRequest) -> HttpResponse:
    scopes = signed_in_scopes(request)
    if scopes is not None:
        return redirect(_next_page(request, scopes))
    form = SignInForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_valid():
        answer = _check(request, form)
        if isinstance(answer, HttpResponse):
            return answer
        status = 401
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "console/sign_in.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


def _check(request: HttpRequest, form: SignInForm) -> HttpResponse | None:
    """The answer to a sign-in: the next page, or a refusal; None for a wrong password (the
    form then says so)."""
    username, password = form.cleaned_data["username"], form.cleaned_data["password"]
    failures = SignInFailures(request, username)
    try:
        if failures.refused():
            return _too_many(request, failures.wait_seconds)
    except SignInUnavailable:
        return pages.refusal(
            request,
            503,
            "Sign-in is unavailable",
            "Sign-in cannot count failed attempts right now (Redis is unreachable), so it "
            "is paused. Try again in a minute.",
        )
    if not _checking.acquire(blocking=False):
        return pages.refusal(
            request,
            429,
            "Too many sign-ins at once",
            "Other sign-ins are being checked right now. Try again in a few seconds.",
        )
    try:
        user = _user_with(username, password)
    finally:
        _checking.release()
    access = console_access_of(user_id=user.pk) if user is not None else None
    if user is None or access is None:
        # Refused all the same without Redis; the next attempt finds it gone and is paused.
        with contextlib.suppress(SignInUnavailable):
            failures.failed()
        form.add_error(None, WRONG)
        return None
    login(request, user)
    # Sessions past their idle time are gone from the cookie's point of view; their rows go
    # here, at each sign-in (one indexed DELETE), so the table holds about the live ones.
    Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return redirect(_next_page(request, tuple(access.scopes)))


def _too_many(request: HttpRequest, wait_seconds: float) -> HttpResponse:
    minutes = max(1, round(wait_seconds / 60))
    response = pages.refusal(
        request,
        429,
        "Too many failed sign-ins",
        "There have been too many failed sign-ins from your address or for this user name. "
        f"Try again in about {minutes} minute{'s' if minutes != 1 else ''}, or ask an admin "
        "to set a new password (console_user set-password).",
    )
    response["Retry-After"] = str(max(1, round(wait_seconds)))
    return response


@require_POST
@csrf_protect
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("console:sign-in")
