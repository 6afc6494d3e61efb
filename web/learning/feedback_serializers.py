from typing import Any

from rest_framework import serializers

from common import limits
from web.api.fields import StrictCharField, StrictUUIDField
from web.data.serializers import CreatedBetweenSerializer
from web.learning.models import Feedback


class FeedbackCreateSerializer(serializers.Serializer):
    prediction_id = StrictUUIDField(
        required=False, help_text="The `prediction_id` of the prediction's answer."
    )
    reference = StrictCharField(
        required=False,
        max_length=limits.MAX_REFERENCE_CHARS,
        help_text="Instead of `prediction_id`: the `reference` sent with the prediction; the "
        "feedback is about the latest logged prediction carrying it.",
    )
    label = StrictCharField(
        max_length=limits.MAX_LABEL_CHARS, help_text="The true label of the text predicted."
    )
    add_to_data = serializers.BooleanField(
        default=False,
        help_text="Also add the text to the data with this label (source `feedback`), in the "
        "same transaction. Needs the `write` scope too.",
    )
    text = StrictCharField(
        required=False,
        max_length=limits.MAX_TEXT_CHARS,
        help_text="The text predicted, for `add_to_data` when the prediction log did not keep "
        "it; when it did, the text sent must be that one.",
    )
    replace = serializers.BooleanField(
        default=False,
        help_text="Replace the prediction's earlier feedback (otherwise a 409). Relabels the "
        "data row it added, if any, which needs the `write` scope.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [name for name in ("prediction_id", "reference") if name in attrs]
        if len(named) != 1:
            raise serializers.ValidationError(
                'Send "prediction_id" (from the prediction\'s answer) or "reference" (the one '
                "sent with the prediction) to say which prediction this is about"
                + (", not both." if named else ".")
            )
        return attrs


class FeedbackSerializer(serializers.ModelSerializer):
    prediction_id = serializers.UUIDField(read_only=True)
    reference = serializers.CharField(
        source="prediction.reference",
        read_only=True,
        help_text="The prediction's reference; empty if it had none.",
    )
    model_id = serializers.UUIDField(
        source="prediction.model_id", read_only=True, help_text="The version that predicted."
    )
    predicted_label = serializers.CharField(source="prediction.label", read_only=True)
    label = serializers.CharField(read_only=True, help_text="The true label, as given.")
    correct = serializers.SerializerMethodField(
        help_text="Whether the prediction's label is the true one."
    )
    data_id = serializers.IntegerField(
        source="data_row_id",
        read_only=True,
        allow_null=True,
        help_text="The data row the feedback added (`add_to_data`); null if none, or if it "
        "was deleted since.",
    )
    given_by = serializers.CharField(
        read_only=True, help_text='Who gave it: "token:<fingerprint>" of the token that sent it.'
    )

    class Meta:
        model = Feedback
        fields = (
            "id",
            "prediction_id",
            "reference",
            "model_id",
            "predicted_label",
            "label",
            "correct",
            "data_id",
            "given_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def get_correct(self, feedback: Feedback) -> bool:
        return feedback.label == feedback.prediction.label


class FeedbackFilterSerializer(CreatedBetweenSerializer):
    """Query parameters of the list (the times are those the feedback was first given); an
    empty value means no filter."""

    model_id = serializers.UUIDField(
        required=False, help_text="Only feedback on predictions of this model version."
    )
