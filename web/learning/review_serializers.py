from rest_framework import serializers

from common import limits
from web.api.fields import StrictCharField
from web.learning.models import ReviewItem
from web.learning.review_selectors import Strategy
from web.learning.review_services import Decision


class ReviewLeaseRequestSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=Strategy.choices,
        default=Strategy.LEAST_CONFIDENCE,
        error_messages={
            "invalid_choice": 'Unknown strategy "{input}": use least_confidence, margin, '
            "entropy or disagreement."
        },
        help_text="Which items come first.",
    )
    balanced = serializers.BooleanField(
        default=False,
        help_text=(
            "Take turns between predicted labels: the label with the fewest items decided or "
            "leased so far gives the next item, its best by the strategy."
        ),
    )


class ReviewLeaseSerializer(serializers.ModelSerializer):
    """A leased item, with what the model predicted for its text. The prediction's fields are
    null if the log's retention has deleted it since."""

    prediction_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The logged prediction the item shows."
    )
    text = serializers.CharField(source="prediction.text", read_only=True, allow_null=True)
    label = serializers.CharField(
        source="prediction.label",
        read_only=True,
        allow_null=True,
        help_text="The label the model predicted.",
    )
    scores = serializers.DictField(
        source="prediction.scores",
        child=serializers.FloatField(),
        read_only=True,
        allow_null=True,
        help_text="Probability per label, as the model answered.",
    )
    model_id = serializers.UUIDField(source="prediction.model_id", read_only=True, allow_null=True)
    leased_until = serializers.DateTimeField(
        read_only=True, help_text="Decide it before then, or it is offered to others."
    )

    class Meta:
        model = ReviewItem
        fields = ("id", "prediction_id", "text", "label", "scores", "model_id", "leased_until")
        read_only_fields = fields


class ReviewDecisionRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=Decision.choices,
        error_messages={
            "invalid_choice": 'Unknown decision "{input}": use accept, correct or skip.'
        },
        help_text="What to do with the item.",
    )
    label = StrictCharField(
        max_length=limits.MAX_LABEL_CHARS,
        required=False,
        help_text="The right label: with `correct`, and only then.",
    )

    def validate(self, attrs: dict) -> dict:
        correcting = attrs["decision"] == Decision.CORRECT
        if correcting and "label" not in attrs:
            raise serializers.ValidationError({"label": ["A correction needs the right label."]})
        if not correcting and "label" in attrs:
            raise serializers.ValidationError(
                {"label": [f"Only a correction takes a label, not {attrs['decision']}."]}
            )
        return attrs


class ReviewItemSerializer(serializers.ModelSerializer):
    """A decided item."""

    # Not an enum in the schema: jobs have a `state` of their own, and two enums of one name
    # would rename theirs.
    state = serializers.CharField(read_only=True, help_text="`accepted`, `corrected` or `skipped`.")
    prediction_id = serializers.UUIDField(read_only=True, allow_null=True)
    data_id = serializers.IntegerField(
        source="data_row_id",
        read_only=True,
        allow_null=True,
        help_text="The row of `data` the decision added (source `review`); null for skip.",
    )
    label = serializers.CharField(
        read_only=True, help_text="The label given to the text; empty for skip."
    )

    class Meta:
        model = ReviewItem
        fields = ("id", "state", "prediction_id", "label", "data_id", "decided_at")
        read_only_fields = fields


class ReviewCountsSerializer(serializers.Serializer):
    leased = serializers.IntegerField(help_text="Unexpired leases.")
    accepted = serializers.IntegerField()
    corrected = serializers.IntegerField()
    skipped = serializers.IntegerField()


class ReviewOverviewSerializer(serializers.Serializer):
    leases = ReviewLeaseSerializer(many=True, help_text="Your unexpired leases, ending first.")
    counts = ReviewCountsSerializer(help_text="Your items by state.")
