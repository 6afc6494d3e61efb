import sys
from typing import Any

from rest_framework import serializers

from common import limits
from web.algorithm_proxy.explanation_serializers import ExplanationSerializer
from web.api.fields import StrictBooleanField, StrictCharField, StrictUUIDField


def fits_a_double(value: Any) -> bool:
    """Whether every number in a JSON value fits a double: gRPC carries JSON numbers as
    doubles, and JSON integers have no size limit."""
    if isinstance(value, dict):
        return all(fits_a_double(item) for item in value.values())
    if isinstance(value, list):
        return all(fits_a_double(item) for item in value)
    return not isinstance(value, int) or abs(value) <= sys.float_info.max


TOO_LARGE = "Numbers must fit a double (at most about 1.8e308)."


class TrainRequestSerializer(serializers.Serializer):
    algorithm = StrictCharField(required=False, default="", allow_blank=True, max_length=100)
    parameters = serializers.DictField(required=False, allow_null=True, default=None)
    request_id = StrictUUIDField(required=False, allow_null=True, default=None)
    promotion = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Train a challenger, promoted or kept by the promotion policy (admin scope).",
    )

    def validate_parameters(self, value):
        if value is not None and not fits_a_double(value):
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
    explain = StrictBooleanField(
        required=False,
        default=False,
        help_text="Answer each prediction with its `explanation`: the terms that moved the "
        f"decision most. At most {limits.MAX_EXPLAIN_TEXTS} texts per request then.",
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
        if attrs["explain"] and len(attrs.get("texts", ())) > limits.MAX_EXPLAIN_TEXTS:
            raise serializers.ValidationError(
                {
                    "explain": [
                        f"Explains at most {limits.MAX_EXPLAIN_TEXTS} texts per request, "
                        f"{len(attrs['texts'])} were sent: send them in several requests, or "
                        "without explain."
                    ]
                }
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
    explanation = ExplanationSerializer(
        required=False, help_text='Only with `"explain": true`: why the model chose the label.'
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


class EvaluationSetMetricsSerializer(serializers.Serializer):
    set_id = serializers.UUIDField(help_text="The evaluation set (GET /api/evaluation-set/).")
    rows = serializers.IntegerField(help_text="Rows of the set it was measured on.")
    metrics = MetricsSerializer()


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
    promotion = serializers.BooleanField(
        help_text="A challenger's training: promoted or kept by the promotion policy."
    )


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
    evaluation = EvaluationSetMetricsSerializer(
        allow_null=True,
        help_text="Its scores on the evaluation set it was measured on at training; null "
        "when no set was current.",
    )


class ModelPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ModelSerializer(many=True)


class JobPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobSerializer(many=True)


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
