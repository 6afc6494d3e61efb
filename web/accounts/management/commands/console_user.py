"""Console users: create, set-password, delete, list. The password is read from standard
input (asked twice at a terminal), never from the command line, where other users of the
machine and the shell's history would see it."""

import getpass
import sys
from argparse import ArgumentParser
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from web.accounts.console_user_services import (
    ConsoleUserError,
    console_user_create,
    console_user_delete,
    console_user_set_password,
)
from web.accounts.scopes import Scope
from web.accounts.selectors import console_user_list


def _password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise CommandError("The two passwords differ.")
    else:
        first = stdin.readline().rstrip("\r\n")
    if not first:
        raise CommandError("Give the password on standard input: one line.")
    return first


class Command(BaseCommand):
    help = (
        "Manage the people who sign in to the console (/console/): create NAME --scope S "
        "(repeatable), set-password NAME, delete NAME, list. Passwords are read from "
        "standard input."
    )

    # Tests hand the password in as a file (call_command(..., stdin=...)).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new console user")
        create.add_argument("username")
        create.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            required=True,
            choices=[scope.value for scope in Scope],
            help="what the user may do, as the API's token scopes; repeat for several. admin "
            "implies every scope, write read.",
        )
        actions.add_parser("set-password", help="a new password").add_argument("username")
        actions.add_parser("delete", help="remove console access").add_argument("username")
        actions.add_parser("list", help="every console user and their scopes")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        username = options.get("username", "")
        stdin = options.get("stdin") or sys.stdin
        try:
            if action == "create":
                access = console_user_create(
                    username=username, password=_password(stdin), scopes=options["scopes"]
                )
                self.stdout.write(f"Console user {username}: {' '.join(access.scopes)}")
            elif action == "set-password":
                console_user_set_password(username=username, password=_password(stdin))
                self.stdout.write(f"New password for {username}; their sessions have ended.")
            elif action == "delete":
                console_user_delete(username=username)
                self.stdout.write(f"{username} can no longer sign in to the console.")
            else:
                for access in console_user_list():
                    self.stdout.write(f"{access.user.get_username()}  {','.join(access.scopes)}")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        except ConsoleUserError as error:
            raise CommandError(str(error)) from error
