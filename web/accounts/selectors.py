from django.db.models import QuerySet

from web.accounts.models import ApiToken, ConsoleAccess


def token_by_digest(*, digest: str) -> ApiToken | None:
    """The token with this digest, with its user, unless it was revoked."""
    return (
        ApiToken.objects.select_related("user")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )


def token_list() -> QuerySet[ApiToken]:
    """Every token, revoked ones too, newest first."""
    return ApiToken.objects.select_related("user")


def console_user_list() -> QuerySet[ConsoleAccess]:
    """Every console user's access, by user name."""
    return ConsoleAccess.objects.select_related("user")


def console_access_of(*, user_id: int) -> ConsoleAccess | None:
    """The console access of a signed-in user, or None if it was removed meanwhile."""
    return ConsoleAccess.objects.filter(user_id=user_id).first()
