"""A deployment check (`python -m web.manage check --deploy`): the secrets still hold the
development defaults or the placeholders committed with the repository."""

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

# Every committed value of these says so on its face (tests/web/test_secrets.py sees to it).
_PLACEHOLDER_MARKS = ("change-me", "development", "insecure")


@register(deploy=True)
def secrets_are_set(app_configs=None, **kwargs) -> list[CheckMessage]:
    values = {
        "API_TOKEN": settings.API_TOKEN,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    unset = [
        name for name, value in values.items() if any(mark in value for mark in _PLACEHOLDER_MARKS)
    ]
    if not unset:
        return []
    return [
        Warning(
            f"{', '.join(unset)} still hold{'s' if len(unset) == 1 else ''} a development "
            "default or a placeholder from the repository.",
            hint="Set each to a long random value of your own (see .env.example), e.g. "
            "python -c 'import secrets; print(secrets.token_hex(20))'.",
            id="textclf.W001",
        )
    ]
