"""The console's Versions page in process, against a stand-in algorithm service on a real
port: every version, the selected one's heatmap, accuracy lines and decisions, each change
behind its confirmation and sent as the API sends it, and who may make which."""

import re

import grpc
import pytest

from algorithm.v1 import models_pb2, monitoring_pb2, promotion_pb2, traffic_pb2
from common.proto_json import from_json
from tests.web.algorithm_stand_in import StandIn, refuse
from tests.web.console import csrf_token, post_form, signed_in

pytestmark = pytest.mark.django_db

NEW = "1a2b3c4d-0000-4000-8000-000000000003"
MID = "1a2b3c4d-0000-4000-8000-000000000002"
OLD = "1a2b3c4d-0000-4000-8000-000000000001"
LABELS = ["ham", "spam", "promo"]
MATRIX = [[50, 2, 1], [3, 40, 0], [0, 5, 9]]
PER_LABEL = {
    label: {"precision": 0.9, "recall": recall, "f1": 0.9, "support": 10}
    for label, recall in zip(LABELS, (0.95, 0.9, 0.6), strict=True)
}


def _model(model_id: str, day: int, accuracy: float, **fields) -> models_pb2.Model:
    return from_json(
        models_pb2.Model,
        {
            "model_id": model_id,
            "algorithm": "naive_bayes",
            "parameters": {"alpha": 0.1},
            "labels": LABELS,
            "row_count": 120,
            "metrics": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "per_label": PER_LABEL},
            "create_time": f"2025-01-0{day}T10:00:00Z",
            **fields,
        },
    )


MODELS = {
    NEW: _model(NEW, 3, 0.95, active=True),
    MID: _model(MID, 2, 0.91),
    OLD: _model(OLD, 1, 0.97),
}
RECORD = {
    "metric_id": "2b3c4d5e-0000-4000-8000-000000000001",
    "model_id": NEW,
    "job_id": "3c4d5e6f-0000-4000-8000-000000000001",
    "state": "succeeded",
    "source": "data_table",
    "row_count": 110,
    "metrics": {
        "accuracy": 0.9,
        "macro_f1": 0.8,
        "per_label": PER_LABEL,
        "confusion_matrix": {"labels": LABELS, "rows": MATRIX},
    },
    "create_time": "2025-01-03T11:00:00Z",
    "end_time": "2025-01-03T11:00:05Z",
}
DECISION = {
    "decision_id": "4d5e6f70-0000-4000-8000-000000000001",
    "create_time": "2025-01-03T12:00:00Z",
    "kind": "promotion",
    "outcome": "kept",
    "champion_id": NEW,
    "candidate_id": MID,
    "reason": "failed: recall drop of promo",
    "rule": {"metric": "accuracy", "min_improvement": 0.0, "max_recall_drop": 0.05},
    "evidence": {
        "evaluation_set": {"id": "5e6f7081-0000-4000-8000-000000000001", "rows": 30},
        "metric": "accuracy",
        "champion": {"model_id": NEW, "accuracy": 0.95, "macro_f1": 0.9, "per_label": PER_LABEL},
        "challenger": {"model_id": MID, "accuracy": 0.96, "macro_f1": 0.9, "per_label": {}},
        "checks": [
            {"name": "accuracy improvement", "value": 0.01, "bound": 0.0, "passed": True},
            {"name": "recall drop of promo", "value": 0.6, "bound": 0.05, "passed": False},
        ],
    },
}


def _found(table: dict, make):
    def answer(request, context):
        if request.model_id not in table:
            context.set_trailing_metadata((("x-textclf-service-error", "1"),))
            context.abort(grpc.StatusCode.NOT_FOUND, f"There is no model {request.model_id}.")
        return make(table[request.model_id])

    return answer


def _live(accuracy: float | None) -> models_pb2.GetLiveAccuracyResponse:
    window = {"size": 1000, "feedback_count": 10 if accuracy else 0, "accuracy": accuracy}
    return from_json(models_pb2.GetLiveAccuracyResponse, {"last_rows": window})


@pytest.fixture
def service(settings):
    traffic = {"shadow": {"model_id": OLD, "share": 0.5}, "champion_id": NEW}
    stand_in = StandIn(
        {
            "ModelService": (
                models_pb2,
                {
                    "ListModels": lambda request, context: models_pb2.ListModelsResponse(
                        models=list(MODELS.values()), total_size=3
                    ),
                    "GetModel": _found(MODELS, lambda m: models_pb2.GetModelResponse(model=m)),
                    "GetLiveAccuracy": lambda request, context: _live(
                        0.9 if request.model_id == NEW else None
                    ),
                    "ListMetricRecords": lambda request, context: (
                        models_pb2.ListMetricRecordsResponse(
                            metric_records=[from_json(models_pb2.MetricRecord, RECORD)]
                            if request.model_id == NEW
                            else []
                        )
                    ),
                    "ActivateModel": _found(
                        MODELS, lambda m: models_pb2.ActivateModelResponse(model=m)
                    ),
                    "DeleteModel": lambda request, context: models_pb2.DeleteModelResponse(),
                    "EvaluateModel": lambda request, context: models_pb2.EvaluateModelResponse(
                        metric_record=from_json(models_pb2.MetricRecord, RECORD)
                    ),
                },
            ),
            "MonitoringService": (
                monitoring_pb2,
                {
                    "GetSchedule": _found(
                        {NEW: "*/5 * * * *"},
                        lambda cron: monitoring_pb2.GetScheduleResponse(
                            schedule=monitoring_pb2.Schedule(model_id=NEW, cron_expression=cron)
                        ),
                    ),
                    "GetAccuracy": _found(
                        {NEW: 0.93},
                        lambda accuracy: from_json(
                            monitoring_pb2.GetAccuracyResponse,
                            {
                                "model_id": NEW,
                                "accuracy": accuracy,
                                "samples": 40,
                                "computed_time": "2025-01-03T13:00:00Z",
                            },
                        ),
                    ),
                    "SetSchedule": lambda request, context: monitoring_pb2.SetScheduleResponse(
                        schedule=monitoring_pb2.Schedule(
                            model_id=request.model_id, cron_expression=request.cron_expression
                        )
                    ),
                    "DeleteSchedule": lambda r, c: monitoring_pb2.DeleteScheduleResponse(),
                },
            ),
            "TrafficService": (
                traffic_pb2,
                {
                    "GetTraffic": lambda request, context: traffic_pb2.GetTrafficResponse(
                        traffic=from_json(traffic_pb2.Traffic, traffic)
                    ),
                    "SetTraffic": lambda request, context: traffic_pb2.SetTrafficResponse(
                        traffic=traffic_pb2.Traffic(
                            canary=request.canary, shadow=request.shadow, champion_id=NEW
                        )
                    ),
                    "ClearTraffic": lambda r, c: traffic_pb2.ClearTrafficResponse(),
                },
            ),
            "PromotionService": (
                promotion_pb2,
                {
                    "ListDecisions": lambda request, context: promotion_pb2.ListDecisionsResponse(
                        decisions=[from_json(promotion_pb2.Decision, DECISION)], total_size=1
                    )
                },
            ),
        }
    )
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{stand_in.port}"
    yield stand_in
    stand_in.stop()


def _between(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def test_the_page_shows_every_version_and_the_newest_ones_heatmap_lines_and_decisions(service):
    client, _ = signed_in("read")
    html = client.get("/console/versions/").content.decode()
    assert re.findall(r'<tr data-version="([^"]+)"', html) == [NEW, MID, OLD]
    serves = re.findall(r"<td data-serves>([^<]*)</td>", html)
    assert serves == ["active", "-", "shadow, scores 50% of predictions"]
    assert f'data-selected-version="{NEW}"' in html
    cells = re.findall(
        r'data-cell data-row="(\w+)" data-col="(\w+)" data-value="(\d+)"',
        _between(html, 'data-chart="confusion"', "</svg>"),
    )
    assert cells == [
        (true, predicted, str(MATRIX[row][col]))
        for row, true in enumerate(LABELS)
        for col, predicted in enumerate(LABELS)
    ]
    points = re.findall(
        r'data-point data-series="(\w+)" data-key="([^"]+)" data-value="([^"]+)"',
        _between(html, 'data-chart="accuracy"', "</svg>"),
    )
    assert points == [
        ("holdout", OLD, "0.97"),
        ("holdout", MID, "0.91"),
        ("holdout", NEW, "0.95"),
        ("checks", NEW, "0.93"),
        ("live", NEW, "0.9"),
    ]
    decision = _between(html, f'data-decision="{DECISION["decision_id"]}"', "</article>")
    assert re.findall(r'data-side="(\w+)"', decision) == ["champion", "challenger"]
    assert decision.count('<th scope="row">promo</th>') == 2
    assert re.findall(r'data-check="([^"]+)" data-passed="(\w+)"', decision) == [
        ("accuracy improvement", "true"),
        ("recall drop of promo", "false"),
    ]
    # A reader is shown no change at all.
    assert re.findall(r'<form[^>]*action="([^"]+)"', html) == ["/console/sign-out/"]


def test_activating_an_older_version_takes_a_confirmation_then_calls_the_service(service):
    client, _ = signed_in("write")
    url = f"/console/versions/{OLD}/activate/"
    asked = post_form(client, url, {}, form_page=f"/console/versions/{OLD}/")
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Activate this version?" in page
    assert '<input type="hidden" name="confirmed" value="yes">' in page
    assert service.calls("ActivateModel") == []
    done = post_form(client, url, {"confirmed": "yes"}, form_page=f"/console/versions/{OLD}/")
    assert (done.status_code, done["Location"]) == (302, f"/console/versions/{OLD}/")
    assert [sent.model_id for sent in service.calls("ActivateModel")] == [OLD]
    assert f"Version {OLD} is active" in client.get(done["Location"]).content.decode()


def test_a_new_canary_keeps_the_shadow_and_the_shadow_made_canary_is_no_longer_one(service):
    client, _ = signed_in("admin")
    page = f"/console/versions/{MID}/"
    form = {"role": "canary", "percent": "10", "min_answers": "20", "confirmed": "yes"}
    done = post_form(client, f"/console/versions/{MID}/traffic/", form, form_page=page)
    assert done.status_code == 302
    form = {"role": "canary", "percent": "5", "confirmed": "yes"}
    post_form(client, f"/console/versions/{OLD}/traffic/", form, form_page=page)
    first, second = service.calls("SetTraffic")
    assert (first.canary.model_id, first.canary.percent, first.canary.min_answers) == (MID, 10, 20)
    assert not first.canary.HasField("max_error_rate")
    assert (first.shadow.model_id, first.shadow.share) == (OLD, 0.5)
    assert (second.canary.model_id, second.HasField("shadow")) == (OLD, False)


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"role": "canary", "percent": "150"}, "canary.percent: Must be above 0 and below 100"),
        ({"role": "canary", "percent": ""}, "canary.percent: This field is required."),
        ({"role": "shadow", "share": "2"}, "shadow.share: Must be above 0 and at most 1."),
    ],
)
def test_a_bad_split_is_a_400_naming_the_field_and_changes_nothing(service, form, error):
    client, _ = signed_in("admin")
    answer = post_form(
        client, f"/console/versions/{MID}/traffic/", {**form, "confirmed": "yes"}, "/console/"
    )
    assert answer.status_code == 400
    assert error in answer.content.decode()
    assert service.calls("SetTraffic") == []


def test_a_schedule_is_checked_by_the_serializer_then_by_the_service(service):
    client, _ = signed_in("write")
    url = f"/console/versions/{NEW}/schedule/"
    blank = post_form(client, url, {"cron_expression": ""}, "/console/")
    assert blank.status_code == 400
    assert "cron_expression: This field may not be blank." in blank.content.decode()
    message = "cron_expression must have 5 fields (minute hour day-of-month month day-of-week)"
    service.answer("SetSchedule", refuse(grpc.StatusCode.INVALID_ARGUMENT, message))
    refused = post_form(client, url, {"cron_expression": "hourly", "confirmed": "yes"}, "/console/")
    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert "data-confirm>" not in refused.content.decode()
    assert [sent.cron_expression for sent in service.calls("SetSchedule")] == ["hourly"]


def test_a_writer_may_not_delete_or_route_traffic_and_sees_no_such_control(service):
    client, _ = signed_in("write")
    html = client.get(f"/console/versions/{MID}/").content.decode()
    assert re.findall(r'<form[^>]*action="([^"]+)"', html) == [
        "/console/sign-out/",
        f"/console/versions/{MID}/activate/",
        f"/console/versions/{MID}/evaluate/",
        f"/console/versions/{MID}/schedule/",
    ]
    token = csrf_token(client, "/console/")
    for path in ("delete", "traffic"):
        answer = client.post(
            f"/console/versions/{MID}/{path}/",
            {"confirmed": "yes", "role": "canary", "percent": "5", "csrfmiddlewaretoken": token},
        )
        assert answer.status_code == 403
    cleared = client.post("/console/versions/traffic/clear/", {"csrfmiddlewaretoken": token})
    assert cleared.status_code == 403
    assert service.calls("DeleteModel") == service.calls("SetTraffic") == []
    admin, _ = signed_in("admin")
    html = admin.get(f"/console/versions/{MID}/").content.decode()
    for path in ("delete", "traffic"):
        assert f'action="/console/versions/{MID}/{path}/"' in html
    assert 'action="/console/versions/traffic/clear/"' in html


def test_deleting_a_version_takes_a_confirmation_and_goes_back_to_the_list(service):
    client, _ = signed_in("admin")
    url = f"/console/versions/{MID}/delete/"
    assert post_form(client, url, {}, "/console/").status_code == 200
    assert service.calls("DeleteModel") == []
    done = post_form(client, url, {"confirmed": "yes"}, "/console/")
    assert (done.status_code, done["Location"]) == (302, "/console/versions/")
    assert [sent.model_id for sent in service.calls("DeleteModel")] == [MID]


def test_an_evaluation_that_runs_is_followed_until_it_ends(service):
    running = {**RECORD, "state": "running", "metrics": None, "end_time": None}
    records = [from_json(models_pb2.MetricRecord, r) for r in (running, RECORD)]
    service.answer(
        "ListMetricRecords",
        lambda request, context: models_pb2.ListMetricRecordsResponse(metric_records=records),
    )
    client, _ = signed_in("read")
    url = f"/console/versions/{NEW}/evaluation/"
    polled = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in polled
    assert f'hx-get="{url}" hx-trigger="every 1s"' in polled
    assert "data-evaluation-running" in polled and 'data-chart="confusion"' in polled
    records[:] = records[1:]
    ended = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in ended and ended.count("data-cell ") == len(LABELS) ** 2
    assert client.get(url)["Location"] == f"/console/versions/{NEW}/"


def test_an_unknown_version_is_a_404(service):
    client, _ = signed_in("read")
    answer = client.get("/console/versions/9f9f9f9f-0000-4000-8000-000000000009/")
    assert answer.status_code == 404
    assert "There is no model 9f9f9f9f-0000-4000-8000-000000000009." in answer.content.decode()


def test_the_page_answers_while_the_algorithm_service_is_away():
    client, _ = signed_in("admin")
    page = client.get("/console/versions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The algorithm service did not answer" in html
    assert "data-selected-version" not in html
