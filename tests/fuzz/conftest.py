"""One whole stack for the fuzzers: web (gunicorn), the gRPC server, the Flask shim and a
Celery worker, started with the commands `make run` uses, on their own database, Redis key
prefix, model folder and ports.

The fuzzers delete, activate, schedule and train at random, so they never share the other
tests' services: their jobs would queue in front of those tests' jobs.
"""

import concurrent.futures
import uuid

import pytest

from tests import support

PROCESSES = ("algorithm_grpc", "algorithm_http", "algorithm_celery", "web")
# Ten short Turkish rows of two labels: a real model answers predictions from the start,
# and training jobs the fuzzers start succeed in a fraction of a second.
DATASET = "tests/data/confirmation_tr.tsv"


class FuzzStack:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.web_url = f"http://127.0.0.1:{env['WEB_PORT']}"
        self.shim_url = f"http://127.0.0.1:{env['ALGORITHM_HTTP_PORT']}"
        self.grpc_target = env["ALGORITHM_GRPC_TARGET"]
        self.token = env["API_TOKEN"]


@pytest.fixture(scope="session")
def fuzz_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz-stack")
    with support.isolated_env("fuzz", workdir) as env:
        env.update(API_TOKEN=uuid.uuid4().hex, DJANGO_SECRET_KEY=uuid.uuid4().hex * 2)
        support.run_checked("python -m web.manage release", env)
        services = [
            support.Service(name, support.procfile_command(name), env, workdir)
            for name in PROCESSES
        ]
        try:
            # While the services start: the servers pick up the new active model as they
            # would one the worker trained.
            with concurrent.futures.ThreadPoolExecutor() as pool:
                commands = (
                    f"python -m web.manage import_data {DATASET}",
                    f"python -m algorithm.tools.cli train --dataset={DATASET}",
                )
                list(pool.map(lambda command: support.run_checked(command, env), commands))
            services[0].wait_for_port(int(env["ALGORITHM_GRPC_PORT"]))
            services[1].wait_for_port(int(env["ALGORITHM_HTTP_PORT"]))
            services[3].wait_for_port(int(env["WEB_PORT"]))
            support.wait_until(
                lambda: "ready." in services[2].output(), 60, "the Celery worker being ready"
            )
            yield FuzzStack(env)
        finally:
            with concurrent.futures.ThreadPoolExecutor() as pool:
                list(pool.map(support.Service.stop, services))


@pytest.fixture(scope="session")
def fuzz_channel(fuzz_stack):
    with support.service_channel(fuzz_stack.grpc_target) as channel:
        yield channel


@pytest.fixture(scope="session")
def fuzz_http():
    with support.shim_session() as session:
        yield session
