import sys
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common import limits
from web.api.fields import StrictCharField, StrictUUIDField


def _fits_a_double(value: Any) -> bool:
    """Whether every number in a JSON value fits a double: gRPC carries JSON numbers as
    doubles, and JSON integers have no size limit."""
    if isinstance(value, dict):
        return all(_fits_a_double(item) for item in value.values())
    if isinstance(value, list):
        return all(_fits_a_double(item) for item in value)
    return not isinstance(value, int) or abs(value) <= sys.float_info.max


TOO_LARGE = "Numbers must fit a double (at most about 1.8e308)."


class TrainRequestSerializer(serializers.Serializer):
    algorithm = StrictCharField(required=False, default="", allow_blank=True, max_length=100)
    parameters = serializers.DictField(required=False, allow_null=True, default=None)
    request_id = StrictUUIDField(required=False, allow_null=True, default=None)

    def validate_parameters(self, value):
        if value is not None and not _fits_a_double(value):
            raise serializers.ValidationError(TOO_LARGE)
        return value


class TextToClassifyField(StrictCharField):
    """A text as the algorithm service takes it, kept as sent (spaces included): at most
    MAX_TEXT_CHARS characters, and not blank by the service's own rule."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=limits.MAX_TEXT_CHARS, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if limits.is_blank(text):
            self.fail("blank")
        return text


class ReferenceField(StrictCharField):
    """A caller's own key for a prediction (a ticket id, say), kept as sent so that feedback
    finds it by the same string: at most MAX_REFERENCE_CHARS characters; empty for none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=limits.MAX_REFERENCE_CHARS, allow_blank=True, trim_whitespace=False, **kwargs
        )


class PredictRequestSerializer(serializers.Serializer):
    text = TextToClassifyField(required=False)
    texts = serializers.ListField(
        child=TextToClassifyField(),
        required=False,
        allow_empty=False,
        max_length=limits.MAX_BATCH_TEXTS,
    )
    model_id = StrictUUIDField(required=False, allow_null=True, default=None)
    reference = ReferenceField(
        required=False,
        help_text="With `text`: your own key for this prediction (a ticket id, say), which "
        "feedback can name it by.",
    )
    references = serializers.ListField(
        child=ReferenceField(),
        required=False,
        max_length=limits.MAX_BATCH_TEXTS,
        help_text="With `texts`: one reference per text, in the same order (an empty string "
        "for none).",
    )

    # Every prediction is validated here, and DRF deep-copies a serializer's declared fields
    # for each instance: most of the cost of a prediction in web. These fields keep nothing of
    # a request (no context, never partial), so all instances share the first one's.
    _shared_fields = None

    @property
    def fields(self):
        cls = type(self)
        if cls._shared_fields is None:
            cls._shared_fields = serializers.Serializer.fields.func(self)
        return cls._shared_fields

    def validate(self, attrs):
        if ("text" in attrs) == ("texts" in attrs):
            raise serializers.ValidationError(
                'Send either "text" (one string) or "texts" (a list of strings), not both.'
            )
        if "reference" in attrs and "texts" in attrs:
            raise serializers.ValidationError(
                {"reference": ['Goes with "text"; with "texts", send "references", one per text.']}
            )
        if "references" in attrs and "text" in attrs:
            raise serializers.ValidationError(
                {"references": ['Go with "texts"; with "text", send one "reference".']}
            )
        if "references" in attrs and len(attrs["references"]) != len(attrs["texts"]):
            raise serializers.ValidationError(
                {
                    "references": [
                        f"Send one reference per text (an empty string for none): "
                        f"{len(attrs['texts'])} texts, {len(attrs['references'])} references."
                    ]
                }
            )
        return attrs


class PredictionSerializer(serializers.Serializer):
    label = serializers.CharField()
    scores = serializers.DictField(child=serializers.FloatField())
    model_id = serializers.UUIDField()
    prediction_id = serializers.UUIDField(
        help_text="This prediction's id, which feedback can name it by."
    )
    reference = serializers.CharField(
        allow_blank=True, help_text="The request's reference for this text, as sent; empty if none."
    )


class LabelMetricsSerializer(serializers.Serializer):
    precision = serializers.FloatField()
    recall = serializers.FloatField()
    f1 = serializers.FloatField()
    support = serializers.IntegerField()


class ConfusionMatrixSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="One row per true label, one count per predicted label, in `labels` order.",
    )


class MetricsSerializer(serializers.Serializer):
    accuracy = serializers.FloatField()
    macro_f1 = serializers.FloatField()
    per_label = serializers.DictField(child=LabelMetricsSerializer())
    train_rows = serializers.IntegerField(allow_null=True, help_text="Training metrics only.")
    test_rows = serializers.IntegerField(allow_null=True, help_text="Training metrics only.")
    confusion_matrix = ConfusionMatrixSerializer(allow_null=True, help_text="Evaluations only.")


class JobSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["train", "evaluate"])
    state = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    stage = serializers.ChoiceField(
        choices=["loading", "training", "evaluating", "saving"], allow_null=True
    )
    progress = serializers.FloatField(help_text="Fraction done, 0 to 1.")
    rows_read = serializers.IntegerField()
    rows_total = serializers.IntegerField()
    algorithm = serializers.CharField()
    parameters = serializers.DictField()
    model_id = serializers.UUIDField(allow_null=True)
    metric_id = serializers.UUIDField(allow_null=True, help_text="Evaluation jobs only.")
    metrics = MetricsSerializer(allow_null=True)
    error = serializers.CharField(allow_null=True)
    create_time = serializers.DateTimeField()
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)


class AlgorithmParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["float", "integer"])
    description = serializers.CharField()
    default = serializers.FloatField()
    minimum = serializers.FloatField()
    maximum = serializers.FloatField()


class AlgorithmSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    is_default = serializers.BooleanField()
    parameters = AlgorithmParameterSerializer(many=True)


class ModelSerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    algorithm = serializers.CharField()
    parameters = serializers.DictField()
    labels = serializers.ListField(child=serializers.CharField())
    row_count = serializers.IntegerField()
    data_snapshot = serializers.DictField(
        help_text="The data table as training read it: rows, max_id, last_update."
    )
    metrics = MetricsSerializer(help_text="Hold-out metrics from training.")
    create_time = serializers.DateTimeField(help_text="When training finished.")
    training_seconds = serializers.FloatField()
    library_versions = serializers.DictField(child=serializers.CharField())
    active = serializers.BooleanField()
    job_id = serializers.UUIDField(allow_null=True)


class ModelPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ModelSerializer(many=True)


class ModelPageParamsSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    page_size = serializers.IntegerField(
        required=False,
        default=limits.DEFAULT_PAGE_SIZE,
        min_value=1,
        max_value=limits.MAX_PAGE_SIZE,
    )


class LabelledTextSerializer(serializers.Serializer):
    text = TextToClassifyField()
    label = StrictCharField(max_length=limits.MAX_LABEL_CHARS)


class EvaluateRequestSerializer(serializers.Serializer):
    rows = LabelledTextSerializer(
        many=True,
        required=False,
        allow_empty=False,
        max_length=limits.MAX_RESULT_LABELS,
        help_text="Rows to evaluate on; leave out to evaluate on the current data table.",
    )


class MetricRecordSerializer(serializers.Serializer):
    metric_id = serializers.UUIDField()
    model_id = serializers.UUIDField()
    job_id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    source = serializers.ChoiceField(choices=["data_table", "upload"])
    row_count = serializers.IntegerField()
    metrics = MetricsSerializer(allow_null=True, help_text="Set once the job has succeeded.")
    error = serializers.CharField(allow_null=True)
    create_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField(allow_null=True)


class AlgorithmInfoSerializer(serializers.Serializer):
    version = serializers.CharField()
    build_time = serializers.CharField()
    git_revision = serializers.CharField()
    uptime_seconds = serializers.FloatField()
    active_model = ModelSerializer(
        allow_null=True, help_text="The deployed model: training time, metrics and more."
    )
    model_refused = serializers.CharField(
        allow_null=True, help_text="Why the newest activated version was refused, if it was."
    )
    model_count = serializers.IntegerField()
    data_rows = serializers.IntegerField(allow_null=True)
    replica = serializers.CharField(
        help_text="The host name of the algorithm replica that answered this call: with "
        "several replicas, successive calls go to each in turn."
    )
    texts_predicted = serializers.IntegerField(
        help_text="Texts that replica has classified since it started."
    )
    runtime = serializers.CharField(
        help_text="What scores the deployed model's predictions on that replica: "
        "'fast_linear' (checked against scikit-learn on the version's hold-out at training) "
        "or 'scikit-learn'; empty before the first model is served."
    )


class InfoSerializer(serializers.Serializer):
    version = serializers.CharField()
    build_time = serializers.CharField(help_text="When the image was built, or 'unknown'.")
    git_revision = serializers.CharField()
    uptime_seconds = serializers.FloatField(help_text="Of this web process.")
    data_rows = serializers.IntegerField()
    algorithm = AlgorithmInfoSerializer(allow_null=True)
    algorithm_error = serializers.CharField(allow_null=True)


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
        if not _fits_a_double(data):
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
