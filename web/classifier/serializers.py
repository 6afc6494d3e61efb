from rest_framework import serializers

from web.api.fields import StrictCharField

MAX_TEXT_CHARS = 20_000
MAX_BATCH_TEXTS = 1_000


class TrainRequestSerializer(serializers.Serializer):
    algorithm = StrictCharField(required=False, default="", allow_blank=True, max_length=100)
    parameters = serializers.DictField(required=False, allow_null=True, default=None)
    request_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class PredictRequestSerializer(serializers.Serializer):
    text = StrictCharField(required=False, max_length=MAX_TEXT_CHARS, trim_whitespace=False)
    texts = serializers.ListField(
        child=StrictCharField(max_length=MAX_TEXT_CHARS, trim_whitespace=False),
        required=False,
        allow_empty=False,
        max_length=MAX_BATCH_TEXTS,
    )
    model_id = serializers.UUIDField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if ("text" in attrs) == ("texts" in attrs):
            raise serializers.ValidationError(
                'Send either "text" (one string) or "texts" (a list of strings), not both.'
            )
        return attrs


class PredictionSerializer(serializers.Serializer):
    label = serializers.CharField()
    scores = serializers.DictField(child=serializers.FloatField())
    model_id = serializers.UUIDField()


class LabelMetricsSerializer(serializers.Serializer):
    precision = serializers.FloatField()
    recall = serializers.FloatField()
    f1 = serializers.FloatField()
    support = serializers.IntegerField()


class MetricsSerializer(serializers.Serializer):
    accuracy = serializers.FloatField()
    macro_f1 = serializers.FloatField()
    per_label = serializers.DictField(child=LabelMetricsSerializer())
    train_rows = serializers.IntegerField()
    test_rows = serializers.IntegerField()


class JobSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["train"])
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
