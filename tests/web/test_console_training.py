"""The console's Training page in process, against a stand-in TrainingService on a real port:
the form built from the algorithms and their bounds, what it sends to Train, what it refuses
before and after, the job followed by htmx until it ends, and who may start one."""

import re
import uuid

import grpc
import pytest

from algorithm.v1 import training_pb2
from common.proto_json import from_json
from tests.web.algorithm_stand_in import StandIn, refuse
from tests.web.console import csrf_token, post_form, signed_in

pytestmark = pytest.mark.django_db

JOB_ID = "5a0c3e1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
MODEL_ID = "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b"
ALGORITHMS = [
    {
        "name": "linear_svm",
        "description": "A linear SVM.",
        "is_default": True,
        "parameters": [
            {"name": "C", "type": "float", "description": "Inverse regularisation.",
             "default": 1.0, "minimum": 1e-4, "maximum": 1e4},
        ],
    },
    {
        "name": "naive_bayes",
        "description": "Multinomial naive Bayes.",
        "is_default": False,
        "parameters": [
            {"name": "alpha", "type": "float", "description": "Smoothing.",
             "default": 0.1, "minimum": 1e-4, "maximum": 10.0},
            {"name": "ngram_max", "type": "integer", "description": "Longest n-gram.",
             "default": 1, "minimum": 1, "maximum": 3},
        ],
    },
]  # fmt: skip


def _job(**fields) -> training_pb2.Job:
    base = {
        "job_id": JOB_ID,
        "kind": "train",
        "state": "queued",
        "algorithm": "naive_bayes",
        "create_time": "2025-01-02T03:04:05Z",
    }
    return from_json(training_pb2.Job, {**base, **fields})


@pytest.fixture
def service(settings):
    """The stand-in, answering with state["job"] as it is then (tests change it)."""
    state = {"job": _job()}
    stand_in = StandIn(
        {
            "TrainingService": (
                training_pb2,
                {
                    "ListAlgorithms": lambda request, context: training_pb2.ListAlgorithmsResponse(
                        algorithms=[from_json(training_pb2.Algorithm, a) for a in ALGORITHMS]
                    ),
                    "Train": lambda request, context: training_pb2.TrainResponse(job=state["job"]),
                    "GetJob": lambda request, context: training_pb2.GetJobResponse(
                        job=state["job"]
                    ),
                    "ListJobs": lambda request, context: training_pb2.ListJobsResponse(
                        jobs=[state["job"]], total_size=1
                    ),
                },
            )
        }
    )
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{stand_in.port}"
    stand_in.state = state
    yield stand_in
    stand_in.stop()


def test_the_form_offers_each_algorithm_with_its_parameters_bounds(service):
    client, _ = signed_in("write")
    html = client.get("/console/training/").content.decode()
    radios = re.findall(
        r'<input type="radio" name="algorithm" id="[^"]+" value="(\w+)"( checked)?', html
    )
    assert radios == [("linear_svm", " checked"), ("naive_bayes", "")]
    ngram = re.search(r'<input id="parameter-naive_bayes-ngram_max"[^>]*>', html).group()
    assert 'name="naive_bayes.ngram_max"' in ngram
    assert 'min="1" max="3" step="1" value="1"' in ngram
    alpha = re.search(r'<input id="parameter-naive_bayes-alpha"[^>]*>', html).group()
    assert 'min="0.0001" max="10" step="any" value="0.1"' in alpha
    # Only an admin may train a challenger.
    assert 'name="promotion"' not in html
    admin, _ = signed_in("admin")
    assert 'name="promotion"' in admin.get("/console/training/").content.decode()


def test_starting_a_job_sends_the_chosen_algorithms_typed_parameters_and_follows_it(service):
    client, _ = signed_in("write")
    request_id = str(uuid.uuid4())
    form = {
        "algorithm": "naive_bayes",
        "naive_bayes.alpha": "0.5",
        "naive_bayes.ngram_max": "2",
        "linear_svm.C": "3",
        "request_id": request_id,
    }
    answer = post_form(client, "/console/training/", form)
    assert (answer.status_code, answer["Location"]) == (302, f"/console/training/jobs/{JOB_ID}/")
    [sent] = service.calls("Train")
    assert (sent.algorithm, dict(sent.parameters), sent.request_id, sent.promotion) == (
        "naive_bayes",
        {"alpha": 0.5, "ngram_max": 2},
        request_id,
        False,
    )
    page = client.get(answer["Location"]).content.decode()
    assert f'data-job-watch="{JOB_ID}"' in page
    assert f'hx-get="/console/training/jobs/{JOB_ID}/" hx-trigger="every 1s"' in page


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("naive_bayes.ngram_max", "2.5", "naive_bayes.ngram_max: A whole number from 1 to 3."),
        ("naive_bayes.alpha", "lots", "naive_bayes.alpha: A number from 0.0001 to 10."),
        ("naive_bayes.alpha", "inf", "naive_bayes.alpha: A number from 0.0001 to 10."),
    ],
)
def test_a_parameter_that_is_no_number_of_its_type_is_a_400_naming_it(service, field, value, error):
    client, _ = signed_in("write")
    answer = post_form(client, "/console/training/", {"algorithm": "naive_bayes", field: value})
    assert answer.status_code == 400
    assert error in answer.content.decode()
    assert service.calls("Train") == []


def test_what_the_service_refuses_is_shown_with_its_status(service):
    message = "Parameter 'alpha' must be between 0.0001 and 10.0, got 50.0."
    service.answer("Train", refuse(grpc.StatusCode.INVALID_ARGUMENT, message))
    client, _ = signed_in("write")
    form = {"algorithm": "naive_bayes", "naive_bayes.alpha": "50"}
    answer = post_form(client, "/console/training/", form)
    assert answer.status_code == 400
    assert message.replace("'", "&#x27;") in answer.content.decode()


def test_a_challenger_needs_the_admin_scope(service):
    client, _ = signed_in("write")
    answer = post_form(client, "/console/training/", {"algorithm": "", "promotion": "true"})
    assert answer.status_code == 403
    assert "needs the &#x27;admin&#x27; scope" in answer.content.decode()
    assert service.calls("Train") == []
    admin, _ = signed_in("admin")
    assert post_form(admin, "/console/training/", {"promotion": "true"}).status_code == 302
    assert [sent.promotion for sent in service.calls("Train")] == [True]


def test_htmx_polls_a_running_job_and_stops_once_it_has_failed(service):
    client, _ = signed_in("read")
    url = f"/console/training/jobs/{JOB_ID}/"
    service.state["job"] = _job(state="running", stage="loading", progress=0.25)
    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="running"' in running and 'hx-trigger="every 1s"' in running
    assert "<html" not in running  # the job alone, swapped in place
    assert "<span data-job-percent>25</span>" in running
    failed = "Every label needs at least 3 rows; add rows for: 'rare'."
    service.state["job"] = _job(state="failed", progress=0.2, error=failed)
    ended = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="failed"' in ended and "hx-get" not in ended
    assert re.search(r"<p[^>]*data-job-error>([^<]*)</p>", ended).group(1) == failed.replace(
        "'", "&#x27;"
    )


def test_a_job_the_service_does_not_know_is_a_404(service):
    service.answer("GetJob", refuse(grpc.StatusCode.NOT_FOUND, f"There is no job {JOB_ID}."))
    client, _ = signed_in("read")
    page = client.get(f"/console/training/jobs/{JOB_ID}/")
    assert page.status_code == 404
    assert f"There is no job {JOB_ID}." in page.content.decode()
    # Polled, it says so and asks no more.
    polled = client.get(f"/console/training/jobs/{JOB_ID}/", HTTP_HX_REQUEST="true")
    assert polled.status_code == 200
    assert "hx-get" not in polled.content.decode()


def test_a_reader_sees_the_jobs_but_no_form_and_is_refused_a_post(service):
    client, _ = signed_in("read")
    html = client.get("/console/training/").content.decode()
    assert f'data-job="{JOB_ID}"' in html
    assert re.findall(r'<form[^>]*action="([^"]+)"', html) == ["/console/sign-out/"]
    answer = client.post(
        "/console/training/",
        {"algorithm": "naive_bayes", "csrfmiddlewaretoken": csrf_token(client, "/console/")},
    )
    assert answer.status_code == 403
    assert service.calls("Train") == []


def test_the_page_answers_while_the_algorithm_service_is_away():
    client, _ = signed_in("write")
    page = client.get("/console/training/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("The algorithm service did not answer") == 2
    assert "data-train-form" not in html
