"""SQL is only ever built with parameters: no value is formatted into a query's text.

Reads the source of every module that talks to a database and checks what each execute()
(and its relatives) is given as the query."""

import ast

import pytest

from tests.support import REPO_ROOT

SOURCES = sorted(
    path
    for pattern in ("algorithm/**/*.py", "worker/*.py", "web/**/*.py")
    for path in REPO_ROOT.glob(pattern)
    if "migrations" not in path.parts and not {"v1", "inference"} & set(path.parts)
)
QUERY_METHODS = {"execute", "executemany", "mogrify", "copy_expert", "raw", "extra", "RawSQL"}
# Interpolated names allowed in a query's text besides module constants (UPPER_CASE), each
# with its reason. An ORDER BY expression cannot be a parameter; every caller passes a constant.
# An admin's delete by filter runs the subquery Django's ORM compiled, with its parameters.
ALLOWED_NAMES = {
    ("algorithm/domain/datasource.py", "order_by"),
    ("web/learning/prediction_services.py", "select"),
}


def _allowed_query(node: ast.expr, where: str) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):  # a module constant holding a query
        return node.id.lstrip("_").isupper()
    if isinstance(node, ast.Subscript):  # one of a module constant's queries
        return isinstance(node.value, ast.Name) and node.value.id.lstrip("_").isupper()
    if isinstance(node, ast.JoinedStr):  # an f-string: only constants (column lists) in it
        return all(
            isinstance(part, ast.Constant)
            or (
                isinstance(part.value, ast.Name)
                and (part.value.id.lstrip("_").isupper() or (where, part.value.id) in ALLOWED_NAMES)
            )
            for part in node.values
        )
    if isinstance(node, ast.Call):
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name == "SQL":  # psycopg2.sql composition quotes what it formats
            return True
        if name == "format" and isinstance(function, ast.Attribute):
            return isinstance(function.value, ast.Call) and _allowed_query(function.value, where)
        if name == "read_text":  # the repository's own .sql files
            return True
    return False


def unsafe_queries(source: str, where: str) -> list[int]:
    """Lines where a query's text is built from something other than constants."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name in QUERY_METHODS and not _allowed_query(node.args[0], where):
            lines.append(node.lineno)
    return lines


def test_the_scan_covers_the_modules_that_run_sql():
    names = {str(path.relative_to(REPO_ROOT)) for path in SOURCES}
    assert {
        "algorithm/domain/jobs.py",
        "algorithm/domain/monitoring.py",
        "algorithm/serving/services/monitoring.py",
        "web/data/services.py",
    } <= names


def test_no_query_is_built_by_formatting_values_into_it():
    found = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in SOURCES
        if (lines := unsafe_queries(path.read_text(), str(path.relative_to(REPO_ROOT))))
    }
    assert found == {}


@pytest.mark.parametrize(
    "query",
    [
        'f"SELECT * FROM data WHERE label = {label}"',
        "\"SELECT * FROM data WHERE label = '%s'\" % label",
        '"SELECT * FROM data WHERE label = {}".format(label)',
        '"SELECT * FROM data WHERE label = " + label',
        "query",
    ],
)
def test_the_scan_finds_formatted_queries(query):
    assert unsafe_queries(f"cursor.execute({query})", "x.py") == [1]
    assert unsafe_queries(f"Data.objects.raw({query})", "x.py") == [1]


def test_the_scan_lets_parameters_and_constant_column_lists_through():
    source = """
cursor.execute("SELECT * FROM data WHERE label = %s", (label,))
cursor.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
cursor.copy_expert(_COPY_SQL, source)
"""
    assert unsafe_queries(source, "x.py") == []
