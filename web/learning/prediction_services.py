"""An admin's deletes from the prediction log, by filter."""

from typing import Any

from django.db import connection

from web.learning.models import LoggedPrediction
from web.learning.prediction_selectors import prediction_list

# Rows per DELETE, as the algorithm service's retention job deletes: each batch is a short
# statement of its own, well within DATABASE_STATEMENT_TIMEOUT_SECONDS, however many match.
BATCH_ROWS = 5_000
TABLE = LoggedPrediction._meta.db_table


def prediction_delete(**filters: Any) -> int:
    """Delete the logged predictions `prediction_list(**filters)` selects; how many went. The
    database deletes their feedback and unlinks their review items with them (the foreign
    keys' ON DELETE, learning migration 0003); Django's delete() would load every row to do
    that itself."""
    ids = prediction_list(**filters).order_by().values("id")
    deleted = 0
    while True:
        select, params = ids[:BATCH_ROWS].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE id IN ({select})", params)
            deleted += cursor.rowcount
            if cursor.rowcount < BATCH_ROWS:
                return deleted
