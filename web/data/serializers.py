from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common import limits
from common.datafiles import FORMATS, MAX_REPORTED_ERRORS
from web.api.fields import StrictCharField
from web.data.models import Data, Source


class DataSerializer(serializers.ModelSerializer):
    text = StrictCharField(max_length=limits.MAX_TEXT_CHARS)
    label = StrictCharField(max_length=limits.MAX_LABEL_CHARS)
    # Recorded by the way a row came, never sent.
    source = serializers.ChoiceField(
        choices=Source.choices,
        read_only=True,
        help_text="Where the row came from: `api` (this API), `import` (a file import), "
        "`review` (the review queue), `feedback` (feedback that added it).",
    )

    class Meta:
        model = Data
        fields = ("id", "text", "label", "source", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class CreatedBetweenSerializer(serializers.Serializer):
    """The time filters of a list's query parameters: ISO 8601 times (UTC unless they name
    an offset)."""

    since = serializers.DateTimeField(
        required=False, help_text="Only what was created at or after this time."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Only what was created before this time."
    )


class DataFilterSerializer(CreatedBetweenSerializer):
    """Query parameters of the list; an empty value means no filter."""

    label = serializers.CharField(
        required=False, allow_blank=True, help_text="Only data with exactly this label."
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Only data whose text contains this, ignoring case.",
    )
    source = serializers.ChoiceField(
        choices=Source.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f'Unknown source "{{input}}": use {", ".join(Source.values)}.'
        },
        help_text="Only data that came this way.",
    )


class DataImportOptionsSerializer(serializers.Serializer):
    """How to read an uploaded file: query parameters, or fields of the multipart form."""

    format = serializers.ChoiceField(
        choices=FORMATS,
        required=False,
        error_messages={"invalid_choice": 'Unknown format "{input}": use csv, tsv or jsonl.'},
        help_text=(
            "The file's format. By default, from the Content-Type of a raw body, or from the "
            "file name's extension (.csv, .tsv, .jsonl, .ndjson) in a multipart form."
        ),
    )
    skip_invalid = serializers.BooleanField(
        default=False,
        help_text=(
            "Insert the valid rows and skip the invalid ones, instead of inserting nothing "
            "when any row is invalid."
        ),
    )


class DataImportRowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The line of the file the row starts on, from 1.")
    field = serializers.CharField(
        allow_null=True, help_text="`text` or `label`; null when the row as a whole is wrong."
    )
    message = serializers.CharField()


class DataImportResultSerializer(serializers.Serializer):
    rows_read = serializers.IntegerField(help_text="Data rows in the file, header excluded.")
    rows_inserted = serializers.IntegerField()
    rows_skipped = serializers.IntegerField(help_text="Invalid rows left out (skip_invalid).")
    errors = DataImportRowErrorSerializer(
        many=True, help_text=f"The first {MAX_REPORTED_ERRORS} problems of the skipped rows."
    )


@extend_schema_field(OpenApiTypes.BINARY)  # the bytes sent, not the URL of a stored file
class _UploadField(serializers.FileField):
    pass


class DataImportUploadSerializer(DataImportOptionsSerializer):
    """The multipart form of an import (for the schema): the file and the options."""

    file = _UploadField(help_text="The CSV, TSV or JSON-lines file.")


class DataImportErrorExtraSerializer(serializers.Serializer):
    errors = DataImportRowErrorSerializer(
        many=True,
        required=False,
        help_text=f"Invalid rows: the first {MAX_REPORTED_ERRORS} problems, by line.",
    )
    rows_read = serializers.IntegerField(required=False, help_text="With invalid rows.")
    rows_invalid = serializers.IntegerField(required=False, help_text="With invalid rows.")
    line = serializers.IntegerField(
        required=False, help_text="The line a file-level problem is on, when it has one."
    )
    fields = serializers.DictField(
        required=False,
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Invalid options (`format`, `skip_invalid`), by name.",
    )


class DataImportErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="The first problem, as a sentence.")
    extra = DataImportErrorExtraSerializer()
