"""The model detail's shape: a version's record with its drift and its live accuracy
(docs/api.md)."""

from rest_framework import serializers

from web.algorithm_proxy.live_accuracy import LiveAccuracySerializer
from web.algorithm_proxy.serializers import ModelSerializer


class ReferenceProfileSerializer(serializers.Serializer):
    texts = serializers.IntegerField(help_text="Hold-out texts it was measured on.")
    predicted_label_shares = serializers.DictField(child=serializers.FloatField())
    true_label_shares = serializers.DictField(child=serializers.FloatField())
    mean_top_probability = serializers.FloatField()
    mean_text_chars = serializers.FloatField()
    mean_oov_share = serializers.FloatField(
        allow_null=True, help_text="Null for a vectorizer without a vocabulary (hashing)."
    )


class DriftSerializer(serializers.Serializer):
    baseline = ReferenceProfileSerializer(
        allow_null=True,
        help_text="The hold-out's figures at training; null for a version trained before "
        "they were recorded.",
    )
    predictions = serializers.IntegerField(help_text="Predictions served.")
    label_counts = serializers.DictField(child=serializers.IntegerField())
    mean_top_probability = serializers.FloatField(allow_null=True)
    mean_text_chars = serializers.FloatField(allow_null=True)
    oov_texts = serializers.IntegerField(
        help_text="Texts whose out-of-vocabulary share was measured (scored by the fast runtime)."
    )
    mean_oov_share = serializers.FloatField(allow_null=True)
    label_psi = serializers.FloatField(
        allow_null=True,
        help_text="Population stability index of the served predicted labels against the "
        "hold-out's; above 0.2 is a shift worth a look.",
    )
    top_probability_delta = serializers.FloatField(allow_null=True)
    oov_share_delta = serializers.FloatField(allow_null=True)


class ModelDetailSerializer(ModelSerializer):
    drift = DriftSerializer()
    live_accuracy = LiveAccuracySerializer(
        allow_null=True, help_text="From feedback; null when it could not be computed."
    )
    live_accuracy_error = serializers.CharField(
        allow_null=True, help_text="Why live_accuracy is null, if it is."
    )
