import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from web.accounts.models import ApiToken, digest_of
from web.accounts.scopes import Scope, canonical

SERVICE_USERNAME = "service"
# The name the service user's token is listed under.
SERVICE_TOKEN_NAME = "API_TOKEN"

# What survives the `Authorization: Token <key>` header: printable ASCII without spaces; at
# most 40 characters, the length of the keys generated here and of the keys DRF's token
# table held (API_TOKEN values made for it still fit).
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
def token_create(
    *, username: str, scopes: Iterable[str], name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `username` (created if needed), and its key: the only time the key
    exists outside the caller's hands. The user's other tokens keep working.

    Raises ValidationError for a name the user model would refuse, TokenError for the
    service user, whose one token comes from API_TOKEN.
    """
    if username == SERVICE_USERNAME:
        raise TokenError(
            f"The '{SERVICE_USERNAME}' user holds only the token from API_TOKEN; "
            "create tokens for users of their own."
        )
    user = user_get_or_create(username=username)
    key = secrets.token_hex(20)  # 160 random bits, in the 40 characters a key may have
    token = ApiToken.objects.create(
        user=user,
        name=name,
        digest=digest_of(key),
        scopes=canonical(scopes),
        expires_at=expires_at,
    )
    return token, key


@transaction.atomic
def token_revoke(*, token_id: int) -> ApiToken:
    """Revoke a token: it stops working in every web process within
    API_TOKEN_CACHE_SECONDS. Revoking a revoked token changes nothing.

    Raises ApiToken.DoesNotExist, or TokenError for the service user's token.
    """
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token_id)
    if token.user.get_username() == SERVICE_USERNAME:
        raise TokenError(
            "This is the service user's token, which comes from API_TOKEN; to replace it, "
            "change API_TOKEN and run `python -m web.manage ensure_api_token` (the release "
            "step does), which revokes this one."
        )
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def token_ensure(*, username: str, key: str) -> ApiToken:
    """Make `key` the one working token of `username`, with the admin scope and no expiry,
    creating the user, and revoking the token an earlier key made. Raises TokenError for a
    key the header cannot carry, or one of another user."""
    if not _TOKEN_KEY.fullmatch(key):
        raise TokenError("A token must be 1 to 40 printable ASCII characters without spaces.")
    user = user_get_or_create(username=username)
    # Web replicas run this at the same start; the row lock makes them take turns,
    # so the later one finds the token already in place instead of failing.
    get_user_model().objects.select_for_update().filter(pk=user.pk).get()
    digest = digest_of(key)
    token = ApiToken.objects.filter(digest=digest).first()
    if token is not None and token.user_id != user.pk:
        raise TokenError("That token already belongs to another user.")
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(digest=digest).update(
        revoked_at=timezone.now()
    )
    if token is None:
        return ApiToken.objects.create(
            user=user, name=SERVICE_TOKEN_NAME, digest=digest, scopes=[Scope.ADMIN]
        )
    # API_TOKEN decides, even when it names a key an earlier change of it revoked (a
    # deployment rolled back to its previous settings): the service's own scripts use it.
    if token.scopes != [Scope.ADMIN] or token.expires_at or token.revoked_at:
        token.scopes, token.expires_at, token.revoked_at = [Scope.ADMIN], None, None
        token.save(update_fields=["scopes", "expires_at", "revoked_at"])
    return token
