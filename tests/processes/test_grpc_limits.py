"""The gRPC server's message size limit: a message over it is refused at once with
RESOURCE_EXHAUSTED, never read into memory whole or left hanging, and serving goes on."""

import re
import time

import grpc
import pytest

from algorithm.v1 import prediction_pb2
from common.limits import MAX_MESSAGE_BYTES

pytestmark = pytest.mark.slow


def test_a_message_over_the_limit_is_resource_exhausted_and_serving_goes_on(
    prediction_stub, served_model_id
):
    assert MAX_MESSAGE_BYTES == 16 * 2**20
    chunk = "x" * 2**20
    request = prediction_pb2.PredictBatchRequest(texts=[chunk] * 17, model_id=served_model_id)
    assert request.ByteSize() > MAX_MESSAGE_BYTES

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        prediction_stub.PredictBatch(request, timeout=30)

    assert time.monotonic() - started < 10
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert re.fullmatch(
        rf"SERVER: Received message larger than max \(\d+ vs\. {MAX_MESSAGE_BYTES}\)",
        caught.value.details(),
    )
    reply = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text="hello", model_id=served_model_id), timeout=5
    )
    assert reply.model_id == served_model_id
