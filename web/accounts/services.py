import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.authtoken.models import Token

SERVICE_USERNAME = "service"

# What fits in Token.key and survives the `Authorization: Token <key>` header:
# printable ASCII without spaces, at most 40 characters.
_TOKEN_KEY = re.compile(r"[!-~]{1,40}")


class TokenError(ValueError):
    pass


def user_get_or_create(*, username: str) -> AbstractBaseUser:
    """The API user with this name, created without a password if it is new.

    Raises ValidationError for a name the user model would refuse.
    """
    user_model = get_user_model()
    user_model._meta.get_field(user_model.USERNAME_FIELD).clean(username, None)
    user, created = user_model.objects.get_or_create(**{user_model.USERNAME_FIELD: username})
    if created:
        # API users authenticate with tokens only.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def token_ensure(*, username: str, key: str) -> Token:
    """Make `key` the one token of `username`, creating the user and replacing an old key."""
    if not _TOKEN_KEY.fullmatch(key):
        raise TokenError("A token must be 1 to 40 printable ASCII characters without spaces.")
    user = user_get_or_create(username=username)
    # Web replicas run this at the same start; the row lock makes them take turns,
    # so the later one finds the token already in place instead of failing.
    get_user_model().objects.select_for_update().filter(pk=user.pk).get()
    current = Token.objects.filter(user=user).first()
    if current is not None and current.key == key:
        return current
    if Token.objects.filter(key=key).exists():
        raise TokenError("That token already belongs to another user.")
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user, key=key)


@transaction.atomic
def token_rotate(*, username: str) -> Token:
    """Give `username` (created if needed) a new random token; the old one stops working."""
    user = user_get_or_create(username=username)
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
