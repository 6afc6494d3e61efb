import re
from argparse import ArgumentParser, ArgumentTypeError
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.limits import MAX_TOKEN_NAME_CHARS
from web.accounts.scopes import DEFAULT_SCOPES, Scope
from web.accounts.services import TokenError, token_create

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"([1-9]\d{0,5})([smhd])", text)
    if match is None:
        raise ArgumentTypeError(f"{text!r} is not a duration such as 3600s, 90m, 12h or 30d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def _name(text: str) -> str:
    if len(text) > MAX_TOKEN_NAME_CHARS:
        raise ArgumentTypeError(f"a name has at most {MAX_TOKEN_NAME_CHARS} characters")
    return text


class Command(BaseCommand):
    help = (
        "Print the key of a new API token for USERNAME, creating the user if needed. The key "
        "is shown this once; only its hash is kept. The user's other tokens keep working "
        "(revoke_api_token revokes one)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            choices=[scope.value for scope in Scope],
            help="what the token may do; repeat for several "
            f"(default: {' '.join(DEFAULT_SCOPES)}). admin implies every scope, write read.",
        )
        parser.add_argument("--name", type=_name, default="", help="what the token is for")
        parser.add_argument(
            "--expires-in",
            type=_duration,
            help="the token stops working after this long: 3600s, 90m, 12h, 30d (default: never)",
        )

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        expires_in = options["expires_in"]
        try:
            token, key = token_create(
                username=username,
                scopes=options["scopes"] or DEFAULT_SCOPES,
                name=options["name"],
                expires_at=timezone.now() + expires_in if expires_in else None,
            )
        except ValidationError as error:
            raise CommandError(
                f"Invalid username {username!r}: {' '.join(error.messages)}"
            ) from error
        except TokenError as error:
            raise CommandError(str(error)) from error
        # Only the key goes to stdout, so scripts can capture it as is; what it is, to stderr.
        self.stderr.write(
            f"Token {token.pk} ({token.fingerprint}) of {username}: {' '.join(token.scopes)}"
            + (f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "")
        )
        self.stdout.write(key)
