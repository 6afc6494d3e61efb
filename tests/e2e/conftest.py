"""The whole stack as local processes, started once by `make run` for every module here, driven
like a user would. The modules run in name order on that one stack: the first
(test_data_training_and_prediction.py) loads the data and trains the models the others
predict with."""

import pathlib

import pytest
import requests

from tests import support

SAMPLE_TEXTS = [
    "WINNER!! You have won a free prize, call 09061701461 now to claim",
    "Are we still meeting for lunch tomorrow?",
    "URGENT! Your mobile number has been awarded a £2000 bonus",
    "ok see you at home later",
]


# For the folder, not the session: torn down once its last module has run.
@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stack")
    # Every prediction logged with its text, so that feedback and the review queue find
    # each one the tests make (tests/e2e/test_learning_loop.py).
    logged = {"PREDICTION_LOG_SAMPLE_RATE": "1", "PREDICTION_LOG_TEXT_SAMPLED": "full"}
    # The promotion policy's trigger and the canary's rollback checked every second, so that
    # tests/e2e/test_safe_promotion.py waits for neither, and a shadow that scores every text
    # it is sent there.
    checks = {
        "PROMOTION_CHECK_SECONDS": "1",
        "TRAFFIC_CHECK_SECONDS": "1",
        "SHADOW_MAX_TEXTS_PER_SECOND": "100000",
    }
    with support.make_run("e2e", workdir, {**logged, **checks}) as (env, _):
        shim = f"http://127.0.0.1:{env['ALGORITHM_HTTP_PORT']}"
        # An open port is not readiness: the shim answers its own.
        support.wait_until(lambda: _healthy(f"{shim}/health"), 60, "the shim answering 200")
        yield {
            "web": f"http://127.0.0.1:{env['WEB_PORT']}",
            "grpc": env["ALGORITHM_GRPC_TARGET"],
            "shim": shim,
            "models": pathlib.Path(env["MODEL_DIR"]),
            "token": env["API_TOKEN"],
            "headers": {"Authorization": f"Token {env['API_TOKEN']}"},
            "metrics": {
                service: f"http://127.0.0.1:{env[f'{service.upper()}_METRICS_PORT']}/metrics"
                for service in ("web", "algorithm", "worker", "scheduler")
            },
        }


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
