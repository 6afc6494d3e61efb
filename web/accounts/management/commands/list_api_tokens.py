from typing import Any

from django.core.management.base import BaseCommand

from web.accounts.selectors import token_list


def _time(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


class Command(BaseCommand):
    help = "List every API token, revoked ones too, newest first. Keys are never stored."

    def handle(self, *args: Any, **options: Any) -> None:
        header = ("ID", "FINGERPRINT", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "REVOKED")
        rows = [
            (
                str(token.pk),
                token.fingerprint,
                token.user.get_username(),
                token.name or "-",
                ",".join(token.scopes),
                _time(token.created_at),
                _time(token.expires_at),
                _time(token.revoked_at),
            )
            for token in token_list()
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )
