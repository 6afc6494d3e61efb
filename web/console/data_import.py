"""Import a file (write): a CSV, TSV or JSON-lines file read as POST /api/data/import/ reads a
multipart upload (web/data/imports.py: the same options, size limit, parser and statement
bound), all or nothing unless the valid rows alone are asked for; invalid rows listed by line
as the API lists them.

Its body may be as large as the API import's (DATA_IMPORT_MAX_BYTES): web/config/asgi.py
reads that much for this path only for a signed-in console user who may write
(access.importer_of); anyone else's post here is held to MAX_CONSOLE_FORM_BYTES."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import exceptions, serializers

from common.datafiles import FORMATS, MAX_REPORTED_ERRORS, DataImportError
from web.accounts.scopes import Scope
from web.console.access import console_view
from web.console.data import errors_of
from web.data.imports import check_import_size, import_file, invalid_summary, uploaded_file
from web.data.serializers import DataImportResultSerializer, DataImportRowErrorSerializer
from web.data.services import DataImportInvalid

# What the form's "only the valid rows" box says, which the summary of invalid rows names.
SKIP_INVALID = 'tick "Import the valid rows and skip the invalid ones"'


@console_view(Scope.WRITE)
def data_import(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "formats": FORMATS,
        "max_mib": settings.DATA_IMPORT_MAX_BYTES // 2**20,
        "max_errors": MAX_REPORTED_ERRORS,
    }
    status = 200
    if request.method == "POST":
        outcome, status = _imported(request)
        context.update(outcome)
        context["chosen"] = {
            name: request.POST.get(name, "") for name in ("format", "skip_invalid")
        }
    return render(request, "console/data_import.html", context, status=status)


def _imported(request: HttpRequest) -> tuple[dict[str, Any], int]:
    """What the import did ({"report"}) or why it did not ({"failure"}, with "errors" by line
    for invalid rows), and the page's status."""
    options = {
        name: request.POST[name] for name in ("format", "skip_invalid") if request.POST.get(name)
    }
    try:
        check_import_size(request.META.get("CONTENT_LENGTH"))
        stream, format, skip_invalid = uploaded_file(request.FILES, options)
        report = import_file(stream=stream, format=format, skip_invalid=skip_invalid)
    except DataImportError as error:
        return {"failure": error.message}, 400
    except DataImportInvalid as error:
        return {
            "failure": invalid_summary(error, skip_invalid=SKIP_INVALID),
            "errors": DataImportRowErrorSerializer(error.report.errors, many=True).data,
        }, 400
    except serializers.ValidationError as error:
        return {"failure": " ".join(errors_of(error))}, 400
    except exceptions.APIException as error:  # too large; the statement's bound passed
        return {"failure": str(error.detail)}, error.status_code
    result = DataImportResultSerializer(report).data
    return {"report": result, "errors": result["errors"]}, 200
