"""Scheduled monitoring's request and answer bodies."""

from typing import ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common import limits
from web.algorithm_proxy.serializers import TOO_LARGE, fits_a_double
from web.api.fields import StrictCharField, StrictUUIDField


class ScheduleRequestSerializer(serializers.Serializer):
    model_id = StrictUUIDField(help_text="One of our model versions, or any external model's UUID.")
    cron_expression = StrictCharField(
        max_length=200, help_text="Five fields, in UTC: minute hour day-of-month month day-of-week."
    )


class ScheduleSerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    cron_expression = serializers.CharField()
    create_time = serializers.DateTimeField()
    update_time = serializers.DateTimeField()


@extend_schema_field(
    {"oneOf": [{"type": "string", "maxLength": limits.MAX_LABEL_CHARS}, {"type": "number"}]}
)
class LabelField(serializers.Field):
    """A label as a string or a number, kept as sent."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "Must be a string or a number.",
        "too_large": TOO_LARGE,
        "max_length": f"Ensure this label has no more than {limits.MAX_LABEL_CHARS} characters.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if not fits_a_double(data):
            self.fail("too_large")
        if isinstance(data, str) and len(data) > limits.MAX_LABEL_CHARS:
            self.fail("max_length")
        return data

    def to_representation(self, value):
        return value


class ResultRequestSerializer(serializers.Serializer):
    model_id = StrictUUIDField()
    y_true = serializers.ListField(
        child=LabelField(), allow_empty=False, max_length=limits.MAX_RESULT_LABELS
    )
    y_pred = serializers.ListField(
        child=LabelField(), allow_empty=False, max_length=limits.MAX_RESULT_LABELS
    )

    def validate(self, attrs):
        if len(attrs["y_true"]) != len(attrs["y_pred"]):
            raise serializers.ValidationError(
                f"y_true and y_pred must have the same length, got {len(attrs['y_true'])} "
                f"and {len(attrs['y_pred'])}."
            )
        return attrs


class ResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model_id = serializers.UUIDField()
    samples = serializers.IntegerField()
    timestamp = serializers.DateTimeField()


class AccuracySerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    accuracy = serializers.FloatField(
        allow_null=True, help_text="Null when the newest row could not be scored: see error."
    )
    samples = serializers.IntegerField()
    result_id = serializers.IntegerField(allow_null=True, help_text="The results row scored.")
    result_timestamp = serializers.DateTimeField(allow_null=True)
    computed_time = serializers.DateTimeField()
    error = serializers.CharField(allow_null=True)
