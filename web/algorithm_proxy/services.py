"""What the API's views and the console both do through the algorithm service, where there
is more to it than one client call."""

from typing import Any

from algorithm.v1 import training_pb2
from web.accounts.permissions import InsufficientScope
from web.accounts.scopes import Scope, grants
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.serializers import TrainRequestSerializer


def training_start(
    *, body: Any, scopes: tuple[str, ...], base_model_id: str = ""
) -> training_pb2.Job:
    """A training job for a request body (TrainRequestSerializer: algorithm, parameters,
    request id), retraining base_model_id if given; with promotion, a challenger's, which
    needs the admin scope. Raises the serializer's ValidationError, InsufficientScope, or
    the service's AlgorithmError."""
    params = TrainRequestSerializer(data=body or {})
    params.is_valid(raise_exception=True)
    valid = params.validated_data
    if valid["promotion"] and not grants(scopes, Scope.ADMIN):
        raise InsufficientScope(Scope.ADMIN, scopes)
    return algorithm_client().train(
        algorithm=valid["algorithm"],
        parameters=valid["parameters"],
        request_id=str(valid["request_id"] or ""),
        base_model_id=base_model_id,
        promotion=valid["promotion"],
    )
