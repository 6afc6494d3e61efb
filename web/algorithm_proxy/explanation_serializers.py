"""An explained prediction's `explanation` (docs/api.md#explanations), as the algorithm
service's Explanation message has it."""

from rest_framework import serializers


class TermContributionSerializer(serializers.Serializer):
    term = serializers.CharField(
        help_text='A word or n-gram of the vocabulary, or "#<column>" for a hashed feature, '
        "which has no name."
    )
    contribution = serializers.FloatField(
        help_text="The term's value in the text times its weight for the label."
    )


class LabelExplanationSerializer(serializers.Serializer):
    label = serializers.CharField()
    decision_value = serializers.FloatField(
        help_text="The label's value of the model's decision function: intercept + the terms' "
        "contributions + rest, exactly."
    )
    intercept = serializers.FloatField()
    terms = TermContributionSerializer(
        many=True,
        help_text="The largest contributions by absolute value, largest first "
        "(EXPLAIN_TOP_TERMS of them at most).",
    )
    rest = serializers.FloatField(help_text="The sum of the other terms' contributions.")


class ExplanationSerializer(serializers.Serializer):
    runtime = serializers.ChoiceField(
        choices=["fast_linear", "scikit-learn"],
        help_text="The runtime that served the prediction, whose features are explained.",
    )
    predicted = LabelExplanationSerializer(allow_null=True)
    runner_up = LabelExplanationSerializer(
        allow_null=True,
        help_text="The label with the next highest score. With two labels, the predicted "
        "label's decision negated.",
    )
    unavailable = serializers.CharField(
        allow_null=True,
        help_text="Why the version has no exact explanation, in a sentence; predicted and "
        "runner_up are null then.",
    )
