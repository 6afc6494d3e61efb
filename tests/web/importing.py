"""What the data-import tests share: the same rows in each format, and how to post them."""

import json
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from web.data.models import Data

URL = "/api/data/import/"
REPO = Path(__file__).resolve().parents[2]
SMS_SPAM = REPO / "tests" / "data" / "sms_spam.tsv"
CONFIRMATION_TR = REPO / "tests" / "data" / "confirmation_tr.tsv"

# The same three rows in each format; the CSV's text needs quoting (comma, quote, newline).
ROWS = [("Kazandınız, hemen arayın", "spam"), ('say "hi"\nto them', "ham"), ("ok", "ham")]
FILES = {
    "csv": (
        "id,label,text,source\n"
        '1,spam,"Kazandınız, hemen arayın",sms\n'
        '2,ham,"say ""hi""\nto them",sms\n'
        "3,ham,ok,sms\n"
    ),
    "tsv": 'label\ttext\nspam\tKazandınız, hemen arayın\nham\tsay "hi"\\nto them\nham\tok\n',
    "jsonl": "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in ROWS),
}
# A TSV cannot hold a newline; its second row keeps the two characters backslash and n.
EXPECTED = {
    "csv": ROWS,
    "tsv": [ROWS[0], ('say "hi"\\nto them', "ham"), ROWS[2]],
    "jsonl": ROWS,
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "jsonl": "application/x-ndjson",
}


def rows() -> list[tuple[str, str]]:
    return list(Data.objects.values_list("text", "label"))


def post_raw(client, content: str | bytes, media_type: str, query: str = ""):
    body = content.encode() if isinstance(content, str) else content
    return client.post(URL + query, body, content_type=media_type)


def post_file(client, content: str | bytes, name: str, query: str = "", **fields):
    body = content.encode() if isinstance(content, str) else content
    return client.post(
        URL + query, {"file": SimpleUploadedFile(name, body), **fields}, format="multipart"
    )


def created(count: int, skipped: int = 0, errors: list | None = None) -> dict:
    return {
        "rows_read": count + skipped,
        "rows_inserted": count,
        "rows_skipped": skipped,
        "errors": errors or [],
    }


def invalid(message: str, errors: list, rows_read: int, rows_invalid: int) -> dict:
    return {
        "message": message,
        "extra": {"errors": errors, "rows_read": rows_read, "rows_invalid": rows_invalid},
    }


def file_error(message: str, **extra) -> dict:
    return {"message": message, "extra": extra}


def sms_rows(count: int) -> list[str]:
    return [f"ham\tmessage {i}" for i in range(count)]
