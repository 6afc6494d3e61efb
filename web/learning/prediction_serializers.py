from typing import Any

from rest_framework import serializers

from common import limits
from web.data.serializers import CreatedBetweenSerializer
from web.learning.models import KeptBecause, LoggedPrediction


class LoggedPredictionSerializer(serializers.ModelSerializer):
    prediction_id = serializers.UUIDField(
        source="id", read_only=True, help_text="The `prediction_id` of the prediction's answer."
    )
    model_id = serializers.UUIDField(read_only=True, help_text="The version that predicted.")
    scores = serializers.DictField(
        child=serializers.FloatField(),
        read_only=True,
        help_text="Each label's probability, in the model's class order.",
    )
    caller = serializers.CharField(
        read_only=True,
        help_text='"token:<fingerprint>" of the REST token that asked, or "internal".',
    )
    text = serializers.CharField(
        read_only=True, help_text="The text predicted, if the log kept it; empty otherwise."
    )
    text_hash = serializers.CharField(
        read_only=True,
        help_text="A keyed hash of the text, if the log kept that instead; empty otherwise.",
    )
    kept_because = serializers.ChoiceField(
        choices=KeptBecause.choices,
        read_only=True,
        help_text="Why the log kept it: `uncertain` (always kept) or `sampled`.",
    )
    has_feedback = serializers.SerializerMethodField(
        help_text="Whether the prediction has feedback (POST /api/feedback/)."
    )
    feedback_label = serializers.SerializerMethodField(
        help_text="The true label the feedback gave; null without feedback."
    )

    class Meta:
        model = LoggedPrediction
        fields = (
            "prediction_id",
            "created_at",
            "model_id",
            "label",
            "scores",
            "top_probability",
            "margin",
            "entropy",
            "caller",
            "request_id",
            "reference",
            "text",
            "text_hash",
            "kept_because",
            "has_feedback",
            "feedback_label",
        )
        read_only_fields = fields

    def get_has_feedback(self, prediction: LoggedPrediction) -> bool:
        return self.get_feedback_label(prediction) is not None

    def get_feedback_label(self, prediction: LoggedPrediction) -> str | None:
        feedback = getattr(prediction, "feedback", None)  # the reverse one-to-one, if any
        return None if feedback is None else feedback.label


class PredictionFilterSerializer(CreatedBetweenSerializer):
    """Query parameters that select logged predictions (the times are those of the
    predictions); an empty value means no filter."""

    model_id = serializers.UUIDField(
        required=False, help_text="Only the predictions of this model version."
    )
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=limits.MAX_REFERENCE_CHARS,
        help_text="Only the predictions sent with this reference.",
    )
    label = serializers.CharField(
        required=False, allow_blank=True, help_text="Only the predictions of this label."
    )
    kept_because = serializers.ChoiceField(
        choices=KeptBecause.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f'Unknown reason "{{input}}": use {", ".join(KeptBecause.values)}.'
        },
        help_text="Only the predictions the log kept for this reason.",
    )


class PredictionDeleteSerializer(PredictionFilterSerializer):
    """What to delete: the filters of the list, or `all`; `dry_run` only counts."""

    dry_run = serializers.BooleanField(
        default=False, help_text="Count what the filters select; delete nothing."
    )
    all = serializers.BooleanField(
        default=False,
        help_text="Delete every logged prediction: needed to delete without a filter, and "
        "refused with one.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            # A filter misspelt or not offered would otherwise be left out, and the delete
            # would take more than was meant.
            raise serializers.ValidationError(
                f"Unknown parameter {', '.join(map(repr, unknown))}: a delete takes "
                f"{', '.join(self.fields)}."
            )
        filtered = any(attrs.get(name) for name in PredictionFilterSerializer().fields)
        if attrs["all"] and filtered:
            raise serializers.ValidationError(
                "all=true deletes every logged prediction: send it without filters, or the "
                "filters without it."
            )
        if not (attrs["all"] or filtered):
            raise serializers.ValidationError(
                "Name what to delete with since, until, model_id, reference, label or "
                "kept_because (see how many first with dry_run=true), or send all=true to "
                "delete every logged prediction."
            )
        return attrs


class PredictionDeleteResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(help_text="Whether this only counted.")
    count = serializers.IntegerField(
        help_text="The predictions deleted; with dry_run, those the filters select now."
    )
