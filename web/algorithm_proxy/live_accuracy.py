"""The model detail's live accuracy: the version's accuracy on the feedback its predictions
got (the algorithm service's GetLiveAccuracy), beside its hold-out accuracy. The detail
answers without it when the service cannot give it: the version's record is worth having
while the database or the service is down."""

import logging
from typing import Any

import grpc
from rest_framework import serializers

from common.proto_json import as_json
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError

logger = logging.getLogger(__name__)

# An algorithm service without GetLiveAccuracy (one not yet upgraded) has no method for it.
OLDER_SERVICE = "The algorithm service does not compute live accuracy: upgrade it to web's version."


def live_accuracy_fields(*, model_id: str) -> dict[str, Any]:
    """`live_accuracy`, and `live_accuracy_error`: why it is null, if it is."""
    try:
        found = as_json(algorithm_client().get_live_accuracy(model_id=model_id))
    except AlgorithmError as error:
        unimplemented = isinstance(error.__cause__, grpc.RpcError) and (
            error.__cause__.code() == grpc.StatusCode.UNIMPLEMENTED
        )
        reason = OLDER_SERVICE if unimplemented else str(error.detail)
        logger.warning("No live accuracy for model %s: %s", model_id, reason)
        return {"live_accuracy": None, "live_accuracy_error": reason}
    del found["model_id"]
    return {"live_accuracy": found, "live_accuracy_error": None}


class LiveLabelAccuracySerializer(serializers.Serializer):
    label = serializers.CharField()
    precision = serializers.FloatField(
        allow_null=True, help_text="correct_count / predicted_count; null if never predicted."
    )
    recall = serializers.FloatField(
        allow_null=True, help_text="correct_count / support; null if never the true label."
    )
    support = serializers.IntegerField(help_text="Feedback whose true label is this one.")
    predicted_count = serializers.IntegerField(help_text="Feedback on predictions of it.")
    correct_count = serializers.IntegerField()


class LiveAccuracyWindowSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Feedback rows (last_rows) or days (last_days).")
    feedback_count = serializers.IntegerField()
    correct_count = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True, help_text="Null without feedback.")
    labels = LiveLabelAccuracySerializer(many=True)


class LiveAccuracySerializer(serializers.Serializer):
    last_rows = LiveAccuracyWindowSerializer(
        help_text="The newest LIVE_ACCURACY_WINDOW_ROWS feedback rows on its predictions."
    )
    last_days = LiveAccuracyWindowSerializer(
        help_text="The feedback given in the last LIVE_ACCURACY_WINDOW_DAYS days."
    )
    holdout_accuracy = serializers.FloatField(help_text="Its hold-out accuracy at training.")
