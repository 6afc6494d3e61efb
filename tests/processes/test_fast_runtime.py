"""The serving processes and the fast runtime: a version whose training-time comparison passed
is served by it, one without that record by scikit-learn, and GetInfo and /api/info/ say
which runtime serves the deployed model."""

import pytest

from algorithm.domain import ml
from algorithm.tools.local_classifier import TextClassifier
from algorithm.v1 import info_pb2, info_pb2_grpc, prediction_pb2
from tests.processes.conftest import activate_and_wait

pytestmark = pytest.mark.slow

PROBE = "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005."


@pytest.fixture
def fast_model_id(algorithm_services, active_model_id, sms_rows, prediction_stub):
    """The SMS model trained with the fast runtime's comparison, made active and served."""
    texts, labels = zip(*sms_rows, strict=True)
    model_id = TextClassifier(algorithm_services.store).train(texts, labels)["model_id"]
    activate_and_wait(algorithm_services, model_id, prediction_stub)
    yield model_id
    activate_and_wait(algorithm_services, active_model_id, prediction_stub)
    algorithm_services.store.delete(model_id)


def test_info_names_the_runtime_serving_the_deployed_model(
    algorithm_services, active_model_id, grpc_channel, prediction_stub, web_client, request
):
    info = info_pb2_grpc.InfoServiceStub(grpc_channel)
    # Published without the comparison's record, as versions trained before it were.
    assert info.GetInfo(info_pb2.GetInfoRequest(), timeout=5).runtime == "scikit-learn"

    fast_model_id = request.getfixturevalue("fast_model_id")
    reply = info.GetInfo(info_pb2.GetInfoRequest(), timeout=5)
    assert (reply.active_model.model_id, reply.runtime) == (fast_model_id, "fast_linear")
    algorithm = web_client.get("/api/info/").json()["algorithm"]
    assert algorithm["runtime"] == "fast_linear"

    predicted = prediction_stub.Predict(prediction_pb2.PredictRequest(text=PROBE), timeout=5)
    model = algorithm_services.store.load(fast_model_id)
    ((label, scores),) = ml.predict(model.vectorizer, model.classifier, [PROBE])
    assert predicted.label == label == "spam"
    assert max(abs(predicted.scores[name] - scores[name]) for name in scores) <= 1e-9
