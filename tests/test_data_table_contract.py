"""The columns of web's `data` table that the algorithm side reads with raw SQL are the
columns web's model and its latest migration give the table.

Web owns the table through Django migrations; the worker, the algorithm service and the
benchmarks read it with SQL Django never sees. Each reader declares what it reads
(`DATA_COLUMNS`, the table's name from `DATA_TABLE` in algorithm/domain/datasource.py) and
builds its SQL from that, so a migration that renames or drops a column fails here, naming
the reader, instead of in the first training job after the release."""

import ast
import importlib
import re

import pytest
from django.db.migrations.loader import MigrationLoader

from algorithm.domain.datasource import DATA_TABLE
from tests.support import REPO_ROOT
from web.data.models import Data

# Where SQL against the table may be written: the algorithm side, and the benchmarks.
READER_TREES = ("algorithm", "worker", "bench")


def _sources() -> list[str]:
    return sorted(
        path.relative_to(REPO_ROOT).as_posix()
        for tree in READER_TREES
        for path in (REPO_ROOT / tree).rglob("*.py")
        if not {"v1", "inference"} & set(path.parts)
    )


def _names(path: str) -> set[str]:
    tree = ast.parse((REPO_ROOT / path).read_text())
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


# Every module that names the table: it reads it, and must say which columns.
READERS = [path for path in _sources() if "DATA_TABLE" in _names(path)]


def _module(path: str):
    return importlib.import_module(path.removesuffix(".py").replace("/", "."))


def _latest_migration_model():
    """The Data model as web's latest migration of the app leaves the table."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = loader.graph.leaf_nodes(Data._meta.app_label)
    return leaf, loader.project_state(leaf).apps.get_model(Data._meta.app_label, "Data")


def test_the_known_readers_are_found():
    assert {
        "algorithm/domain/datasource.py",
        "algorithm/serving/services/info.py",
        "bench/child.py",
    } <= set(READERS)


def test_the_table_is_the_models_table_in_the_latest_migration():
    leaf, migrated = _latest_migration_model()

    assert (Data._meta.db_table, migrated._meta.db_table) == (DATA_TABLE, DATA_TABLE), (
        f"web's Data model (or its migration {leaf[1]}) no longer names the table "
        f"{DATA_TABLE!r}, which {', '.join(READERS)} read"
    )


@pytest.mark.parametrize("reader", READERS)
def test_every_column_a_reader_declares_is_in_the_model_and_the_latest_migration(reader):
    declared = getattr(_module(reader), "DATA_COLUMNS", None)
    assert declared is not None, f"{reader} names DATA_TABLE: declare the DATA_COLUMNS it reads"
    leaf, migrated = _latest_migration_model()
    in_model = {field.column for field in Data._meta.concrete_fields}
    in_migration = {field.column for field in migrated._meta.concrete_fields}

    assert [c for c in declared if c not in in_model] == [], (
        f"{reader} reads these columns of {DATA_TABLE!r}, which web's Data model "
        "(web/data/models.py) no longer has: change the reader with the model"
    )
    assert [c for c in declared if c not in in_migration] == [], (
        f"{reader} reads these columns of {DATA_TABLE!r}, which the table no longer has "
        f"after web's migration {leaf[0]}.{leaf[1]}: change the reader with the migration"
    )


# SQL naming the table outright instead of through DATA_TABLE: a reader the tests above miss.
_LITERAL_TABLE = re.compile(rf"\b(from|join|into|update|table)\s+{DATA_TABLE}\b", re.I)


def test_no_sql_names_the_table_except_through_data_table():
    literal = {}
    for path in _sources():
        strings = [
            node.value
            for node in ast.walk(ast.parse((REPO_ROOT / path).read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        if found := [string for string in strings if _LITERAL_TABLE.search(string)]:
            literal[path] = found
    assert literal == {}, "name the table through DATA_TABLE, and declare DATA_COLUMNS"
