"""The real SMS Spam Collection, the import_data command, and the import in OpenAPI."""

import os
import subprocess
import sys
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.web.importing import (
    FILES,
    REPO,
    ROWS,
    SMS_SPAM,
    created,
    post_raw,
    rows,
)
from web.data.models import Data

pytestmark = pytest.mark.django_db


# The real SMS Spam Collection.


def test_sms_spam_collection_imports_all_5574_rows(api_client):
    response = post_raw(api_client, SMS_SPAM.read_bytes(), "text/tab-separated-values")

    assert response.status_code == 201
    assert response.json() == created(5574)
    assert Counter(Data.objects.values_list("label", flat=True)) == {"ham": 4827, "spam": 747}
    first = Data.objects.first()
    assert (first.label, first.text[:22]) == ("ham", "Go until jurong point,")


# The import_data command.


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_sms_spam_collection():
    out, err = run_command(str(SMS_SPAM))

    assert out == f"Read 5574 rows from {SMS_SPAM}: inserted 5574, skipped 0.\n"
    assert err == ""
    assert Counter(Data.objects.values_list("label", flat=True)) == {"ham": 4827, "spam": 747}


def test_command_with_format_and_skip_invalid(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text(FILES["jsonl"] + '{"text": "no label"}\n', encoding="utf-8")

    out, err = run_command(str(path), "--format", "jsonl", "--skip-invalid")

    assert out == f"Read 4 rows from {path}: inserted 3, skipped 1.\n"
    assert err == "line 4, label: This field is required.\n"
    assert rows() == ROWS


def test_command_with_an_invalid_row_fails_and_inserts_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\na,ham\nb,\n", encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run_command(str(path))

    assert str(raised.value) == (
        f"{path}: 1 of 2 rows are invalid, so nothing was imported. Fix them, or pass "
        "--skip-invalid."
    )
    assert Data.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "data.xlsx",
            "",
            "Cannot tell the format of 'data.xlsx' from its name: pass --format csv, tsv or jsonl.",
        ),
        ("data.csv", None, "Cannot read {path}: No such file or directory."),
        (
            "data.csv",
            "a,b\n",
            "{path}: The header row (line 1) must name a text and a label "
            "column (for example 'text,label'); it has no text and no label column. It names: "
            "'a', 'b'. Nothing was imported.",
        ),
    ],
    ids=["unknown-extension", "missing-file", "bad-header"],
)
def test_command_failures_say_why(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run_command(str(path))

    assert str(raised.value) == message.format(path=path)


def test_command_exits_non_zero_on_failure(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "t", "label": ""}\n', encoding="utf-8")
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "LOG_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-m", "web.manage", "import_data", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "line 1, label: This field may not be blank.",
        f"CommandError: {path}: No row is valid (1 read), so nothing was imported.",
    ]


# OpenAPI.


def test_schema_documents_the_import(anonymous_client):
    schema = anonymous_client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    operation = schema["paths"]["/api/data/import/"]["post"]

    assert set(operation["requestBody"]["content"]) == {
        "multipart/form-data",
        "text/csv",
        "text/tab-separated-values",
        "application/x-ndjson",
        "application/jsonl",
    }
    assert operation["requestBody"]["content"]["text/csv"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    upload = schema["components"]["schemas"]["DataImportUpload"]
    assert upload["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "The CSV, TSV or JSON-lines file.",
    }
    assert {p["name"] for p in operation["parameters"]} == {"format", "skip_invalid"}
    assert set(operation["responses"]) == {"201", "400", "401", "403", "413", "429"}
    result = schema["components"]["schemas"]["DataImportResult"]
    assert set(result["properties"]) == {"rows_read", "rows_inserted", "rows_skipped", "errors"}
    error_extra = schema["components"]["schemas"]["DataImportErrorExtra"]
    assert {"errors", "rows_read", "rows_invalid"} <= set(error_extra["properties"])
