import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = (
        "Prepare the database before the services start: the algorithm service's SQL files "
        "(its own entry point, `python -m algorithm.tools.sql_schema`, which also creates the "
        "database if the server lacks it), then Django migrations and the service user's API "
        "token. "
        "Safe to run at every start."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # A child process: web never imports the algorithm service's code.
        schema = subprocess.run([sys.executable, "-m", "algorithm.tools.sql_schema"], check=False)
        if schema.returncode:
            raise CommandError("The algorithm service's SQL files could not be applied.")
        # Migrations are not requests: the statement bound of web's connections would stop a
        # long one (an index on a large data table) halfway.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("ensure_api_token")
