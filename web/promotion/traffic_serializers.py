"""The bodies of /api/traffic/ and /api/traffic/shadow/ (algorithm.v1.TrafficService)."""

from rest_framework import serializers

from common import limits


class _Strict(serializers.Serializer):
    """Refuses keys it has no field for: a misspelt bound would otherwise be left out, and
    its default applied, without a word."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"Unknown field {', '.join(map(repr, unknown))}: use "
                        f"{', '.join(self.fields)}."
                    ]
                }
            )
        return super().to_internal_value(data)


def _count(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=limits.MAX_TRAFFIC_MIN_COUNT,
        required=False,
        allow_null=True,
        help_text=help_text,
    )


class CanaryRequestSerializer(_Strict):
    model_id = serializers.UUIDField(help_text="The candidate version; not the active one.")
    percent = serializers.FloatField(
        help_text="Its share of the predictions that name no version, in percent: above 0 "
        "and below 100."
    )
    max_error_rate = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        allow_null=True,
        help_text="Rolled back once errors / answers exceeds this (default 0.05).",
    )
    min_live_accuracy = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        allow_null=True,
        help_text="Rolled back once its live accuracy falls below this (default: not checked).",
    )
    min_answers = _count("Answers the error rate is judged on, at least (default 100).")
    min_feedback = _count("Feedback the live accuracy is judged on, at least (default 50).")

    def validate_percent(self, value: float) -> float:
        if not 0 < value < 100:
            raise serializers.ValidationError(
                "Must be above 0 and below 100; to send every prediction to the version, "
                "activate it."
            )
        return value


class ShadowRequestSerializer(_Strict):
    model_id = serializers.UUIDField(help_text="The shadow version; not the active one.")
    share = serializers.FloatField(
        help_text="The share of predictions it also scores, after the answer: above 0, at most 1."
    )

    def validate_share(self, value: float) -> float:
        if not 0 < value <= 1:
            raise serializers.ValidationError("Must be above 0 and at most 1.")
        return value


class TrafficRequestSerializer(_Strict):
    canary = CanaryRequestSerializer(
        required=False, allow_null=True, default=None, help_text="null or left out: no canary."
    )
    shadow = ShadowRequestSerializer(
        required=False, allow_null=True, default=None, help_text="null or left out: no shadow."
    )


class CanarySerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    percent = serializers.FloatField()
    max_error_rate = serializers.FloatField()
    min_live_accuracy = serializers.FloatField(allow_null=True)
    min_answers = serializers.IntegerField()
    min_feedback = serializers.IntegerField()
    since = serializers.DateTimeField(
        help_text="When this version became the canary: the rollback check counts from then."
    )


class ShadowSerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    share = serializers.FloatField()
    since = serializers.DateTimeField(help_text="When this version became the shadow.")


class TrafficSerializer(serializers.Serializer):
    canary = CanarySerializer(allow_null=True)
    shadow = ShadowSerializer(allow_null=True)
    champion_id = serializers.UUIDField(
        allow_null=True, help_text="The active version, which answers the rest."
    )


class LabelAgreementSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="The champion's label.")
    predictions = serializers.IntegerField(help_text="Texts the champion gave this label.")
    agreed = serializers.IntegerField(help_text="Of which the shadow gave the same.")
    agreement = serializers.FloatField(allow_null=True)


class LabelPairSerializer(serializers.Serializer):
    champion_label = serializers.CharField()
    shadow_label = serializers.CharField()
    count = serializers.IntegerField()


class ShadowAgreementSerializer(serializers.Serializer):
    shadow_id = serializers.UUIDField()
    predictions = serializers.IntegerField(help_text="Texts both scored.")
    agreed = serializers.IntegerField(help_text="Of which both gave the same label.")
    agreement = serializers.FloatField(
        allow_null=True, help_text="agreed / predictions; null before any."
    )
    labels = LabelAgreementSerializer(many=True)
    pairs = LabelPairSerializer(many=True)
    current = serializers.BooleanField(help_text="Whether this version is the shadow now.")


class ShadowAgreementParamsSerializer(serializers.Serializer):
    model_id = serializers.UUIDField(
        required=False, help_text="A past shadow; left out: the current one."
    )
