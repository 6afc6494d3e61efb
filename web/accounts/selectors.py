from django.db.models import QuerySet

from web.accounts.models import ApiToken


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
