"""The evaluation set, the promotion policy and its decisions over REST: what web sends the
algorithm service and how it answers, against a stand-in PromotionService on a real port."""

from concurrent import futures

import grpc
import pytest

from algorithm.v1 import promotion_pb2, training_pb2
from common.proto_json import from_json
from common.wire import NO_RETRY_METADATA, SERVICE_ERROR_METADATA

pytestmark = pytest.mark.django_db

SET_ID = "8f1e4b2a-6c3d-4e5f-9a0b-1c2d3e4f5a6b"
JOB_ID = "0b5c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
DECISION_ID = "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a"


@pytest.fixture
def service(settings):
    """Starts a stand-in of the algorithm service: start(service_name, **methods), each
    method a function(request, context); the requests each got are in `received`."""
    servers, received = [], []

    def start(service_name: str, module, **methods) -> list:
        def recording(name, function):
            def handler(request, context):
                received.append((name, request))
                return function(request, context)

            return handler

        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                recording(name, function),
                request_deserializer=getattr(module, f"{name}Request").FromString,
                response_serializer=lambda message: message.SerializeToString(),
            )
            for name, function in methods.items()
        }
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(f"algorithm.v1.{service_name}", handlers),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{port}"
        return received

    yield start
    for server in servers:
        server.stop(grace=None)


def refuse(code: grpc.StatusCode, message: str):
    def answer(request, context):
        context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
        context.abort(code, message)

    return answer


EVALUATION_SET = from_json(
    promotion_pb2.EvaluationSet,
    {
        "set_id": SET_ID,
        "create_time": "2026-12-07T10:00:00+00:00",
        "method": "fraction",
        "fraction": 0.2,
        "stratified": True,
        "seed": 3,
        "new_rows_share": 0.1,
        "synced_data_id": 500,
        "row_count": 100,
        "rows": 99,
        "label_counts": {"ham": 80, "spam": 19},
    },
)


def test_an_admin_makes_an_evaluation_set_with_the_fields_sent(service, api_client):
    received = service(
        "PromotionService",
        promotion_pb2,
        CreateEvaluationSet=lambda request, context: promotion_pb2.CreateEvaluationSetResponse(
            evaluation_set=EVALUATION_SET
        ),
    )

    response = api_client.post(
        "/api/evaluation-set/",
        {"method": "fraction", "fraction": 0.2, "seed": 3, "new_rows_share": 0.1},
        format="json",
    )

    assert response.status_code == 201
    assert response.json() == {
        "set_id": SET_ID,
        "create_time": "2026-12-07T10:00:00+00:00",
        "method": "fraction",
        "fraction": 0.2,
        "stratified": True,
        "seed": 3,
        "new_rows_share": 0.1,
        "synced_data_id": 500,
        "row_count": 100,
        "rows": 99,
        "label_counts": {"ham": 80, "spam": 19},
    }
    ((name, request),) = received
    assert (name, request.method, request.fraction, request.stratified, request.seed) == (
        "CreateEvaluationSet",
        "fraction",
        0.2,
        True,
        3,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "fraction"}, "fraction"),
        ({"method": "fraction", "fraction": 1}, "fraction"),
        ({"method": "ids"}, "data_ids"),
        ({"method": "sample"}, "method"),
    ],
)
def test_an_evaluation_set_request_missing_what_its_method_needs_is_a_400(
    service, api_client, body, field
):
    received = service("PromotionService", promotion_pb2)

    response = api_client.post("/api/evaluation-set/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert received == []


def test_unknown_ids_come_back_as_the_services_message(service, api_client):
    message = "These data ids are not in the data table: 7, 9."
    service(
        "PromotionService",
        promotion_pb2,
        CreateEvaluationSet=refuse(grpc.StatusCode.INVALID_ARGUMENT, message),
    )

    response = api_client.post(
        "/api/evaluation-set/", {"method": "ids", "data_ids": [1, 7, 9]}, format="json"
    )

    assert (response.status_code, response.json()["message"]) == (400, message)


def test_a_write_token_reads_the_set_but_cannot_change_it(service, token_client):
    service(
        "PromotionService",
        promotion_pb2,
        GetEvaluationSet=lambda request, context: promotion_pb2.GetEvaluationSetResponse(
            evaluation_set=EVALUATION_SET
        ),
    )
    client = token_client("write")

    assert client.get("/api/evaluation-set/").json()["set_id"] == SET_ID
    for response in (
        client.post("/api/evaluation-set/", {"method": "fraction", "fraction": 0.2}),
        client.delete("/api/evaluation-set/"),
        client.put("/api/promotion/policy/", {}, format="json"),
        client.post("/api/promotion/challenger/"),
        client.post("/api/train/", {"promotion": True}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["extra"]["required_scope"] == "admin"


def test_the_policy_is_sent_with_its_defaults_and_answered_as_stored(service, api_client):
    def set_policy(request, context):
        return promotion_pb2.SetPolicyResponse(
            policy=promotion_pb2.PromotionPolicyRecord(policy=request.policy, counted_from_id=42)
        )

    received = service("PromotionService", promotion_pb2, SetPolicy=set_policy)

    response = api_client.put(
        "/api/promotion/policy/",
        {"trigger": {"every_new_rows": 100}, "metric": "macro_f1", "parameters": {"C": 0.5}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["policy"] == {
        "trigger": {"every_new_rows": 100, "cron_expression": None},
        "algorithm": "",
        "parameters": {"C": 0.5},
        "metric": "macro_f1",
        "min_improvement": 0.0,
        "max_recall_drop": 0.05,
        "min_shadow_agreement": None,
        "min_shadow_predictions": None,
    }
    assert response.json()["counted_from_id"] == 42
    ((_, request),) = received
    assert not request.policy.trigger.HasField("cron_expression")
    # Left out, the shadow rule is not used; its count's default is the service's.
    assert not request.policy.HasField("min_shadow_agreement")
    assert not request.policy.HasField("min_shadow_predictions")


def test_the_shadow_rule_is_sent_and_its_bounds_checked(service, api_client):
    received = service(
        "PromotionService",
        promotion_pb2,
        SetPolicy=lambda request, context: promotion_pb2.SetPolicyResponse(
            policy=promotion_pb2.PromotionPolicyRecord(policy=request.policy)
        ),
    )
    rule = {"min_shadow_agreement": 0.95, "min_shadow_predictions": 2000}

    response = api_client.put("/api/promotion/policy/", rule, format="json")

    assert response.status_code == 200
    assert {name: response.json()["policy"][name] for name in rule} == rule
    ((_, request),) = received
    assert (request.policy.min_shadow_agreement, request.policy.min_shadow_predictions) == (
        0.95,
        2000,
    )
    for wrong in (
        {"min_shadow_agreement": 1.2},
        {"min_shadow_predictions": 0},
        {"min_shadow_predictions": 1_000_001},
    ):
        refused = api_client.put("/api/promotion/policy/", wrong, format="json")
        assert refused.status_code == 400
        assert set(refused.json()["extra"]["fields"]) == set(wrong)
    assert len(received) == 1


def test_a_policy_without_an_evaluation_set_is_a_409_saying_to_make_one(service, api_client):
    message = "There is no evaluation set: create one first (POST /api/evaluation-set/ ...)."
    service(
        "PromotionService",
        promotion_pb2,
        SetPolicy=refuse(grpc.StatusCode.FAILED_PRECONDITION, message),
    )

    response = api_client.put("/api/promotion/policy/", {}, format="json")

    assert (response.status_code, response.json()["message"]) == (409, message)


def test_a_challenger_is_a_202_with_its_job(service, api_client):
    service(
        "PromotionService",
        promotion_pb2,
        TrainChallenger=lambda request, context: promotion_pb2.TrainChallengerResponse(
            job=training_pb2.Job(job_id=JOB_ID, promotion=True, state=training_pb2.JOB_STATE_QUEUED)
        ),
    )

    response = api_client.post("/api/promotion/challenger/")

    assert response.status_code == 202
    assert response["Location"] == f"/api/jobs/{JOB_ID}/"
    assert (response.json()["promotion"], response.json()["state"]) == (True, "queued")


def test_train_with_promotion_asks_for_a_challenger(service, api_client):
    received = service(
        "TrainingService",
        training_pb2,
        Train=lambda request, context: training_pb2.TrainResponse(
            job=training_pb2.Job(job_id=JOB_ID, promotion=request.promotion)
        ),
    )

    promoted = api_client.post("/api/train/", {"promotion": True}, format="json")
    plain = api_client.post("/api/train/", {}, format="json")

    assert (promoted.json()["promotion"], plain.json()["promotion"]) == (True, False)
    assert [request.promotion for _, request in received] == [True, False]


def decision(number: int) -> promotion_pb2.Decision:
    return from_json(
        promotion_pb2.Decision,
        {
            "decision_id": DECISION_ID,
            "kind": "promotion",
            "outcome": "kept",
            "reason": f"decision {number}",
            "rule": {"metric": "accuracy"},
            "evidence": {"checks": [{"name": "accuracy improvement", "passed": False}]},
        },
    )


def test_decisions_are_paged_newest_first_and_read_one_by_one(service, api_client):
    def list_decisions(request, context):
        offset = int(request.page_token or 0)
        numbers = range(offset, min(offset + request.page_size, 3))
        return promotion_pb2.ListDecisionsResponse(
            decisions=[decision(number) for number in numbers],
            next_page_token=str(offset + request.page_size)
            if offset + request.page_size < 3
            else "",
            total_size=3,
        )

    service(
        "PromotionService",
        promotion_pb2,
        ListDecisions=list_decisions,
        GetDecision=lambda request, context: promotion_pb2.GetDecisionResponse(
            decision=decision(0)
        ),
    )

    first = api_client.get("/api/promotion/decisions/?page_size=2").json()
    second = api_client.get(first["next"]).json()
    one = api_client.get(f"/api/promotion/decisions/{DECISION_ID}/").json()

    assert [found["reason"] for found in first["results"] + second["results"]] == [
        "decision 0",
        "decision 1",
        "decision 2",
    ]
    assert (first["count"], second["next"]) == (3, None)
    assert one["evidence"]["checks"] == [{"name": "accuracy improvement", "passed": False}]
    assert api_client.get("/api/promotion/decisions/?page=9").status_code == 404
