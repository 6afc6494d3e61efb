from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from web.accounts.models import ApiToken
from web.accounts.services import TokenError, token_revoke


class Command(BaseCommand):
    help = (
        "Revoke API tokens by id (list_api_tokens shows them): every web process refuses "
        "them within API_TOKEN_CACHE_SECONDS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="+", type=int, metavar="ID")

    def handle(self, *args: Any, ids: list[int], **options: Any) -> None:
        for token_id in ids:
            try:
                token = token_revoke(token_id=token_id)
            except ApiToken.DoesNotExist:
                raise CommandError(f"There is no token {token_id}.") from None
            except TokenError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(
                f"Token {token.pk} ({token.fingerprint}) of {token.user.get_username()} is "
                f"revoked since {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC."
            )
