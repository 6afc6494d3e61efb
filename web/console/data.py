"""Data: the `data` table, newest first, filtered by label, source, creation time and text as
GET /api/data/ filters it (its filter serializer, its selector), paged by keyset; add, edit and
delete a row (write) with the API's serializer and services, each delete confirmed first; and
the filtered rows exported as GET /api/data/export/ writes them (its table and streaming, and
its limit of exports at once). The import page is data_import.py."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from rest_framework import serializers

from common import limits
from web.accounts.scopes import Scope
from web.api.exports import ExportOptionsSerializer, ExportsBusy, export_response
from web.console import pages
from web.console.access import console_view
from web.data.export import DATA
from web.data.models import Data, Source
from web.data.selectors import data_list, data_page
from web.data.serializers import DataFilterSerializer, DataSerializer
from web.data.services import data_create, data_delete, data_update

# Rows on a page.
PAGE_ROWS = 50
# Characters of a text the table shows; the edit page shows it whole.
TEXT_CHARS = 200
FILTERS = ("search", "label", "source", "since", "until")
_CURSORS = ("before", "after")


def errors_of(error: serializers.ValidationError | dict) -> list[str]:
    """A serializer's errors as sentences, each naming its field."""
    detail = error.detail if isinstance(error, serializers.ValidationError) else error
    if isinstance(detail, dict):
        return [
            f"{field}: {message}" if field != "non_field_errors" else str(message)
            for field, found in detail.items()
            for message in (found if isinstance(found, list) else [found])
        ]
    return [str(message) for message in detail]


@console_view(Scope.READ, post=Scope.WRITE)
def data(request: HttpRequest) -> HttpResponse:
    """The table (GET); a new row (POST, write)."""
    if request.method == "POST":
        row = DataSerializer(data={key: request.POST.get(key, "") for key in ("text", "label")})
        if row.is_valid():
            created = data_create(**row.validated_data)
            messages.success(request, f"Row {created.pk} is added.")
            return redirect("console:data")
        return _table(request, {"add_errors": errors_of(row.errors), "added": request.POST}, 400)
    return _table(request, {}, 200)


def _table(request: HttpRequest, context: dict[str, Any], status: int) -> HttpResponse:
    shown = {name: request.GET.get(name, "") for name in FILTERS}
    filters = DataFilterSerializer(data={name: value for name, value in shown.items() if value})
    cursors, cursor_errors = _cursors(request)
    if not filters.is_valid() or cursor_errors:
        errors = cursor_errors + (errors_of(filters.errors) if filters.errors else [])
        context.update(filter_errors=errors, rows=[])
        status = 400
    else:
        page = data_page(size=PAGE_ROWS, **cursors, **filters.validated_data)
        query = urlencode({name: value for name, value in shown.items() if value})
        base = reverse("console:data")
        context.update(
            rows=page.rows,
            older=f"{base}?{_joined(query, f'before={page.older}')}" if page.older else None,
            newer=f"{base}?{_joined(query, f'after={page.newer}')}" if page.newer else None,
            newest=f"{base}?{query}" if page.newer else None,
            exports={
                title: f"{reverse('console:data-export')}?{_joined(query, f'format={format}')}"
                for format, title in (("csv", "CSV"), ("tsv", "TSV"), ("jsonl", "JSON lines"))
            },
        )
    context.update(
        filters=shown,
        filtered=any(shown.values()),
        sources=Source.choices,
        text_chars=TEXT_CHARS,
        max_text_chars=limits.MAX_TEXT_CHARS,
        max_label_chars=limits.MAX_LABEL_CHARS,
    )
    return render(request, "console/data.html", context, status=status)


def _joined(*parts: str) -> str:
    return "&".join(part for part in parts if part)


def _cursors(request: HttpRequest) -> tuple[dict[str, int], list[str]]:
    cursors, errors = {}, []
    for name in _CURSORS:
        value = request.GET.get(name, "")
        if value.isdigit():
            cursors[name] = int(value)
        elif value:
            errors.append(f"{name}: a row's id, a whole number.")
    if len(cursors) > 1:
        errors.append("Page with before or with after, not both.")
    return cursors, errors


@console_view(Scope.WRITE)
def edit(request: HttpRequest, data_id: int) -> HttpResponse:
    """A row's text and label, changed as PATCH /api/data/{id}/ changes them."""
    row = Data.objects.filter(pk=data_id).first()
    if row is None:
        return _no_row(request, data_id)
    context: dict[str, Any] = {
        "row": row,
        "form": {"text": row.text, "label": row.label},
        "max_text_chars": limits.MAX_TEXT_CHARS,
        "max_label_chars": limits.MAX_LABEL_CHARS,
    }
    if request.method == "POST":
        sent = {key: request.POST.get(key, "") for key in ("text", "label")}
        changed = DataSerializer(row, data=sent)
        if changed.is_valid():
            data_update(data=row, **changed.validated_data)
            messages.success(request, f"Row {row.pk} is saved.")
            return redirect("console:data")
        context.update(form=sent, errors=errors_of(changed.errors))
        return render(request, "console/data_edit.html", context, status=400)
    return render(request, "console/data_edit.html", context)


@console_view(Scope.WRITE)
def delete(request: HttpRequest, data_id: int) -> HttpResponse:
    """GET: what is about to be deleted, and the button that does it; POST: deleted, as
    DELETE /api/data/{id}/ deletes it."""
    row = Data.objects.filter(pk=data_id).first()
    if row is None:
        return _no_row(request, data_id)
    if request.method == "POST":
        data_delete(data=row)
        messages.success(request, f"Row {data_id} is deleted.")
        return redirect("console:data")
    return render(request, "console/data_delete.html", {"row": row})


def _no_row(request: HttpRequest, data_id: int) -> HttpResponse:
    return pages.refusal(
        request, 404, "No such row", f"There is no row {data_id}: it may have been deleted."
    )


@console_view(Scope.READ)
def export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The rows the table's filters select, as GET /api/data/export/ writes them."""
    filters = DataFilterSerializer(
        data={name: request.GET[name] for name in FILTERS if request.GET.get(name)}
    )
    options = ExportOptionsSerializer(data=request.GET)
    if not filters.is_valid() or not options.is_valid():
        errors = errors_of(filters.errors or {}) + errors_of(options.errors or {})
        return pages.refusal(request, 400, "Cannot export", " ".join(errors))
    try:
        return export_response(
            DATA, data_list(**filters.validated_data), options.validated_data["format"], request
        )
    except ExportsBusy as busy:
        response = pages.refusal(request, 503, "Exports are busy", str(busy.detail))
        response["Retry-After"] = str(busy.wait)
        return response
