from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from algorithm.db import ensure_database
from algorithm.schema import apply_schema


class Command(BaseCommand):
    help = (
        "Prepare the database before the services start: Django migrations, the service "
        "user's API token, and the algorithm service's SQL files. Safe to run at every start."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if ensure_database():
            self.stdout.write("Created the database named in DATABASE_URL.")
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("ensure_api_token")
        applied = apply_schema()
        self.stdout.write(f"Applied the algorithm SQL files: {', '.join(applied)}")
