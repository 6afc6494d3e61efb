from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from web.accounts.services import token_rotate


class Command(BaseCommand):
    help = (
        "Print a new API token for USERNAME, creating the user if needed. "
        "The user's previous token stops working."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        try:
            token = token_rotate(username=username)
        except ValidationError as error:
            raise CommandError(
                f"Invalid username {username!r}: {' '.join(error.messages)}"
            ) from error
        # Only the key goes to stdout, so scripts can capture it as is.
        self.stdout.write(token.key)
