"""What each container of the running stack may hold, write and reach: its own secrets only, no
secret in any log, a read-only unprivileged root, its own log folder; Redis, the database role
and the algorithm service refuse whoever lacks the credential."""

import uuid

import pytest

from common import credentials
from tests.compose.conftest import LONG_RUNNING
from tests.test_compose import SECRETS_OF

pytestmark = pytest.mark.compose


# The rotation names are shared only while set, and this stack rotates nothing.
LONG_RUNNING_SECRETS = {
    name: SECRETS_OF[name] - set(credentials.ROTATION_NAMES) for name in LONG_RUNNING
}


def test_each_container_holds_only_its_own_secrets(stack):
    secret_names = {*credentials.NAMES, *credentials.ROTATION_NAMES, *credentials.SERVER_NAMES}
    for service, expected in LONG_RUNNING_SECRETS.items():
        listed = stack.run_in(service, "ls", "-A", "/secrets")
        assert listed.returncode == 0, listed.stderr
        assert set(listed.stdout.split()) == expected, service
        for container in stack.containers(service):
            names = {item.partition("=")[0] for item in stack.inspect(container)["Config"]["Env"]}
            assert not names & secret_names, (service, names & secret_names)
    # migrate has exited: what it mounted is web's folder.
    (migrate,) = stack.containers("migrate")
    (web,) = stack.containers("web")[:1]
    mounted = {
        container: {m["Destination"]: m["Name"] for m in stack.inspect(container)["Mounts"]}
        for container in (migrate, web)
    }
    assert mounted[migrate]["/secrets"] == mounted[web]["/secrets"]


def test_no_password_or_key_is_in_any_log(stack):
    # The API token is printed once, by design; nothing else secret ever is.
    holders = {
        "web": LONG_RUNNING_SECRETS["web"] - {"API_TOKEN"},
        "algorithm": {"MODEL_SIGNING_KEY"},
        "db": {"POSTGRES_PASSWORD"},
    }
    kept = {
        name: stack.run_in(service, "cat", f"/secrets/{name}").stdout.strip()
        for service, names in holders.items()
        for name in names
    }
    assert all(len(value) == 40 for value in kept.values()), kept.keys()
    # What docker keeps of stdout, and the log files: web's, and the others' it mounts.
    logs = stack.compose("logs", "--no-color", timeout=120)
    logs += stack.run_in("web", "sh", "-c", "cat /logs/*.log /logs/*/*.log").stdout
    assert [name for name, value in kept.items() if value in logs] == []


def test_every_container_is_read_only_unprivileged_and_bounded(stack):
    for service in LONG_RUNNING:
        for container in stack.containers(service):
            config = stack.inspect(container)
            host = config["HostConfig"]
            assert host["ReadonlyRootfs"] is True, service
            assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], service
            assert "no-new-privileges:true" in host["SecurityOpt"], service
            assert host["Memory"] > 0 and host["PidsLimit"] > 0, service
            assert config["Config"]["User"] not in ("", "0", "root"), service
            status = stack.run_in(
                service, "grep", "-E", "^(CapEff|NoNewPrivs):", "/proc/self/status"
            )
            assert status.stdout.split() == ["CapEff:", "0000000000000000", "NoNewPrivs:", "1"]
    for service in ("web", "algorithm", "algorithm_celery", "scheduler"):
        # The code belongs to root, and the root file system is read-only besides.
        check = 'id -u; test -z "$(find /app ! -user root -print -quit)"; touch /app/x'
        result = stack.run_in(service, "sh", "-c", check)
        assert result.stdout.split() == ["10001"], (service, result.stdout)
        assert result.returncode != 0 and "Read-only file system" in result.stderr, service
        assert stack.run_in(service, "touch", "/tmp/x").returncode == 0, service


def test_no_container_can_write_another_containers_log_files(stack):
    writable = {}
    for service in ("web", "algorithm", "algorithm_celery", "scheduler"):
        for container in stack.containers(service):
            mounts = stack.inspect(container)["Mounts"]
            logs = [m for m in mounts if m["Destination"].startswith("/logs")]
            (own,) = [m for m in logs if m["RW"]]
            assert own["Destination"] == "/logs", (service, own)
            writable.setdefault(own["Name"], set()).add(service)
    # One writer per log volume (replicas of a service share theirs).
    assert all(len(services) == 1 for services in writable.values()), writable
    # From web, which mounts no models: the shim's log cannot be swapped for a link to ACTIVE.
    swap = "ln -sf /models/ACTIVE /logs/algorithm/algorithm-http.log"
    result = stack.run_in("web", "sh", "-c", swap)
    assert result.returncode != 0 and "Read-only file system" in result.stderr, result
    # The scheduler sees no other container's log at all.
    listed = stack.run_in("scheduler", "ls", "-A", "/logs").stdout.split()
    assert [name for name in listed if not name.startswith(("scheduler.log", ".__"))] == []
    # GET /api/log/ still merges every container's logs: web's own (a 404 is a line of its),
    # the others' through its read-only mounts.
    missing = f"/nope-{uuid.uuid4().hex[:8]}/"
    assert stack.api("GET", missing).status_code == 404
    records = stack.api("GET", "/log/?lines=1000").json()
    assert any(f"Not Found: /api{missing}" in record["line"] for record in records)
    services = {record.get("service") for record in records}
    assert {"web", "algorithm-grpc", "worker", "scheduler"} <= services, services


def test_redis_refuses_a_client_without_the_password(stack):
    # redis-cli inside Redis's own container, and the Python client from algorithm's.
    answer = stack.run_in("redis", "redis-cli", "ping")
    assert "NOAUTH" in answer.stdout + answer.stderr, answer
    attempt = stack.run_in(
        "algorithm",
        "python",
        "-c",
        "import redis\n"
        "try:\n"
        "    redis.Redis(host='redis', socket_timeout=5).ping()\n"
        "except redis.AuthenticationError as error:\n"
        "    print('refused:', type(error).__name__)\n",
    )
    assert attempt.stdout == "refused: AuthenticationError\n", attempt


def test_the_apps_database_role_can_neither_run_programs_nor_create_roles(stack):
    # Through the app's own connection (DATABASE_URL and its password), inside web.
    script = """
import psycopg2
from common import settings

connection = psycopg2.connect(settings.DATABASE_URL)
connection.autocommit = True
cursor = connection.cursor()
cursor.execute(
    "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
    " WHERE rolname = current_user"
)
print(*cursor.fetchone())
cursor.execute(
    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user"
)
print("tables owned by others:", cursor.fetchone()[0])
for statement in ("COPY (SELECT 1) TO PROGRAM 'true'", "CREATE ROLE intruder"):
    try:
        cursor.execute(statement)
        print("allowed:", statement)
    except psycopg2.Error as error:
        print(error.pgcode, statement)
"""
    result = stack.run_in("web", "python", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "textclf False False False",
        "tables owned by others: 0",
        "42501 COPY (SELECT 1) TO PROGRAM 'true'",
        "42501 CREATE ROLE intruder",
    ]


def test_the_algorithm_service_refuses_calls_without_the_service_token(stack):
    # From inside the network, where only the token stands between a caller and training.
    script = """
import grpc, requests

channel = grpc.insecure_channel("algorithm:50051")
try:
    channel.unary_unary("/algorithm.v1.ModelService/ListModels")(b"", timeout=5)
except grpc.RpcError as error:
    print(error.code().name)
print(requests.post("http://algorithm:5000/train", timeout=5).status_code)
"""
    result = stack.run_in("web", "python", "-c", script)
    assert result.stdout.split() == ["UNAUTHENTICATED", "401"], result
