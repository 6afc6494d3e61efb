import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Prepare the database before the services start: the algorithm service's SQL files "
        "(its own entry point, `python -m algorithm.sql_schema`, which also creates the database "
        "if the server lacks it), then Django migrations and the service user's API token. "
        "Safe to run at every start."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # A child process: web never imports the algorithm service's code.
        schema = subprocess.run([sys.executable, "-m", "algorithm.sql_schema"], check=False)
        if schema.returncode:
            raise CommandError("The algorithm service's SQL files could not be applied.")
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("ensure_api_token")
