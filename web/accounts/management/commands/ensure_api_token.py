from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from web.accounts.services import SERVICE_USERNAME, TokenError, token_ensure


class Command(BaseCommand):
    help = (
        f"Give the '{SERVICE_USERNAME}' user exactly the token in API_TOKEN (given or generated), "
        "with the admin scope, stored as its hash; a token from an earlier API_TOKEN is "
        "revoked. Safe to run at every start."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token_ensure(username=SERVICE_USERNAME, key=settings.API_TOKEN)
        except TokenError as error:
            raise CommandError(f"API_TOKEN is unusable: {error}") from error
        # Never echo the token itself: this output ends up in logs.
        self.stdout.write(
            f"The '{SERVICE_USERNAME}' user has the token from API_TOKEN, with the admin scope."
        )
