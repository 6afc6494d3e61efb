"""Console users: people who sign in to the console with a password, each with scopes
(ConsoleAccess). Made and removed by the `console_user` command; the API's tokens are
apart (services.py)."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from web.accounts.models import ConsoleAccess
from web.accounts.scopes import canonical
from web.accounts.services import SERVICE_USERNAME


class ConsoleUserError(ValueError):
    pass


def _user(username: str) -> AbstractBaseUser:
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None or not ConsoleAccess.objects.filter(user=user).exists():
        raise ConsoleUserError(f"There is no console user {username!r}.")
    return user


@transaction.atomic
def console_user_create(*, username: str, password: str, scopes: Iterable[str]) -> ConsoleAccess:
    """Console access for `username` with this password and these scopes, creating the user
    if it is new (a token user keeps their tokens).

    Raises django's ValidationError for a name the user model refuses or a password the
    validators refuse (AUTH_PASSWORD_VALIDATORS), ConsoleUserError for the service user, for
    no scope, or for a user who has console access already."""
    if username == SERVICE_USERNAME:
        raise ConsoleUserError(
            f"The '{SERVICE_USERNAME}' user is the deployment's own; make console users of "
            "their own."
        )
    scopes = canonical(scopes)
    if not scopes:
        raise ConsoleUserError("A console user needs at least one scope.")
    user_model = get_user_model()
    user_model._meta.get_field(user_model.USERNAME_FIELD).clean(username, None)
    user, _ = user_model.objects.select_for_update().get_or_create(
        **{user_model.USERNAME_FIELD: username}
    )
    if ConsoleAccess.objects.filter(user=user).exists():
        raise ConsoleUserError(
            f"{username!r} is a console user already: set-password changes the password; "
            "delete, then create, changes the scopes."
        )
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return ConsoleAccess.objects.create(user=user, scopes=scopes)


@transaction.atomic
def console_user_set_password(*, username: str, password: str) -> None:
    """A new password; every session of the user ends at its next request (Django checks each
    session against the password's hash). Raises ConsoleUserError, ValidationError."""
    user = _user(username)
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])


@transaction.atomic
def console_user_delete(*, username: str) -> None:
    """Remove a user's console access, and the user too unless they hold API tokens (which
    keep working). Their sessions end at their next request. Raises ConsoleUserError."""
    user = _user(username)
    if user.api_tokens.exists():
        ConsoleAccess.objects.filter(user=user).delete()
        # Token users authenticate with tokens only; the new hash ends every session.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    else:
        user.delete()
