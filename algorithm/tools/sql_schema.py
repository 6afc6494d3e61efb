"""Apply the algorithm side's plain SQL files, in name order; each is idempotent.

Run as ``python -m algorithm.tools.sql_schema`` before the services start (web's ``release`` command
runs it first): it creates DATABASE_URL's database if the server lacks it, then applies the
files. ``--test-data`` also loads the monitoring test data (sql/testdata/results.sql).
"""

import pathlib
import sys

from algorithm.domain import db

SQL_DIR = pathlib.Path(__file__).resolve().parent.parent / "domain" / "sql"
TEST_DATA = SQL_DIR / "testdata" / "results.sql"
# Any constant works; it only keeps two starting deployments from applying at once.
_ADVISORY_LOCK_KEY = 0x7465787463


def apply_schema(*, test_data: bool = False) -> list[str]:
    """Apply the SQL files (and, when asked, the monitoring test data); return their names."""
    applied = []
    conn = db.connect()
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
            for path in [*sorted(SQL_DIR.glob("*.sql")), *([TEST_DATA] if test_data else [])]:
                cursor.execute(path.read_text())
                applied.append(path.name)
    finally:
        conn.close()
    return applied


def main() -> None:
    if db.ensure_database():
        print("Created the database named in DATABASE_URL.")
    applied = apply_schema(test_data="--test-data" in sys.argv)
    print(f"Applied the algorithm SQL files: {', '.join(applied)}")


if __name__ == "__main__":
    main()
