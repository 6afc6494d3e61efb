"""docker-compose.yml runs what `make run` runs, with the volumes, health checks and ports
the deployment needs. (No Docker engine runs here: `make lint` validates the file itself.)"""

import re

import pytest
import yaml

from common import credentials
from tests import support

COMPOSE = yaml.safe_load((support.REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "algorithm", "algorithm_celery", "scheduler")
PROCFILE = dict(
    line.split(":", 1) for line in (support.REPO_ROOT / "Procfile").read_text().splitlines()
)


# Started only by `docker compose --profile monitoring up`.
OPTIONAL = {"prometheus"}


def test_the_services_of_the_contract_are_all_there():
    assert set(SERVICES) == {
        "secrets",
        "db",
        "redis",
        "migrate",
        "retrain-stale",
        *APP_SERVICES,
        *OPTIONAL,
    }
    assert {name for name, service in SERVICES.items() if "profiles" in service} == OPTIONAL


def test_the_monitoring_profile_scrapes_with_the_committed_configuration():
    prometheus = SERVICES["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    scrape = yaml.safe_load((support.REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        config["names"][0]: config["port"]
        for job in scrape["scrape_configs"]
        for config in job["dns_sd_configs"]
    }
    assert targets == {"web": 9511, "algorithm": 9512, "algorithm_celery": 9513, "scheduler": 9514}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_runs_processes_that_make_run_runs(name):
    command = SERVICES[name]["command"]
    assert command[:2] == ["honcho", "start"]
    assert command[2:], f"{name} names no process"
    assert set(command[2:]) <= set(PROCFILE), f"{name} runs something make run does not"


def test_compose_runs_every_process_that_make_run_runs():
    started = {process for name in APP_SERVICES for process in SERVICES[name]["command"][2:]}
    assert started == set(PROCFILE)


def test_migrations_run_once_with_the_same_release_step_as_make_run():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["python", "-m", "web.manage", "release"]
    # web's secrets: the release step runs web's settings.
    assert migrate["volumes"] == ["secrets_web:/secrets:ro"]
    assert migrate["restart"] == "no"
    # The image's check is web's: a one-shot step that has exited would read as unhealthy.
    assert migrate["healthcheck"] == {"disable": True}
    makefile = (support.REPO_ROOT / "Makefile").read_text()
    assert "\t@$(PY) -m common.credentials\n\t@$(PY) -m web.manage release\n" in makefile
    for name in ("web", "algorithm", "algorithm_celery"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}


def test_a_stale_active_model_is_retrained_before_algorithm_starts():
    step = SERVICES["retrain-stale"]
    assert step["command"] == ["python", "-m", "algorithm.tools.ops", "retrain-stale"]
    assert "models:/models" in step["volumes"]
    assert (step["restart"], step["healthcheck"]) == ("no", {"disable": True})
    assert step["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert SERVICES["algorithm"]["depends_on"]["retrain-stale"] == {
        "condition": "service_completed_successfully"
    }
    makefile = (support.REPO_ROOT / "Makefile").read_text()
    assert (
        "\t@$(PY) -m web.manage release\n\t@$(PY) -m algorithm.tools.ops retrain-stale\n"
        in makefile
    )


def test_the_model_volume_is_shared_by_algorithm_and_the_worker():
    # Both write it: the worker publishes versions, algorithm activates and deletes them.
    assert "models:/models" in SERVICES["algorithm"]["volumes"]
    assert "models:/models" in SERVICES["algorithm_celery"]["volumes"]
    for name in APP_SERVICES:
        assert SERVICES[name]["environment"]["MODEL_DIR"] == "/models"
    assert "models" in COMPOSE["volumes"]


def log_volumes(name: str) -> dict[str, str]:
    """The log volumes a service mounts: volume -> "rw" or "ro"."""
    mounts = {}
    for volume in SERVICES[name].get("volumes", []):
        source, target, *options = volume.split(":")
        if target.startswith("/logs"):
            mounts[source] = options[0] if options else "rw"
    return mounts


def test_each_app_service_writes_its_logs_to_a_volume_of_its_own():
    # One shared writable volume would let a process of any container put a link at another
    # container's log, which that container would then write through (docs/security.md).
    writers = {}
    for name in [*SERVICES]:
        for volume, mode in log_volumes(name).items():
            if mode == "rw":
                writers.setdefault(volume, []).append(name)
    assert writers == {f"logs_{name}": [name] for name in ("web", "algorithm", "scheduler")} | {
        "logs_worker": ["algorithm_celery"]
    }
    for name in APP_SERVICES:
        assert f"{next(iter(log_volumes(name)))}:/logs" in SERVICES[name]["volumes"]
        assert SERVICES[name]["environment"]["LOG_DIR"] == "/logs"
    assert not {"logs"} & set(COMPOSE["volumes"])


def test_web_reads_the_other_containers_logs_read_only_in_folders_under_its_own():
    # GET /api/log/ reads LOG_DIR and the folders directly under it (web/api/log_tail.py).
    assert log_volumes("web") == {
        "logs_web": "rw",
        "logs_algorithm": "ro",
        "logs_worker": "ro",
        "logs_scheduler": "ro",
    }
    for volume in ("logs_algorithm", "logs_worker", "logs_scheduler"):
        folder = volume.removeprefix("logs_")
        assert f"{volume}:/logs/{folder}:ro" in SERVICES["web"]["volumes"]


def test_database_and_redis_keep_their_data_on_named_volumes():
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]
    assert "redisdata:/data" in SERVICES["redis"]["volumes"]
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--maxmemory") + 1] == "${REDIS_MAXMEMORY:-256mb}"
    assert {"pgdata", "redisdata"} <= set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", ["db", "redis", *APP_SERVICES])
def test_every_long_running_service_has_a_health_check(name):
    check = SERVICES[name]["healthcheck"]["test"]
    assert check[0] in ("CMD", "CMD-SHELL")
    if name in APP_SERVICES:
        # The checks are project modules: they must exist and be runnable.
        assert check[1:3] == ["python", "-m"]
        module = check[3].replace(".", "/") + ".py"
        assert (support.REPO_ROOT / module).is_file()


def test_the_algorithm_check_covers_grpc_health_and_the_flask_shim():
    source = (support.REPO_ROOT / "algorithm" / "serving" / "healthcheck.py").read_text()
    assert "health_pb2_grpc.HealthStub" in source and "/health" in source


def test_only_web_publishes_a_port_and_prometheus_when_asked_for():
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {
        "web": ["${WEB_BIND_ADDRESS:-127.0.0.1}:${WEB_PORT:-8000}:8000"],
        "prometheus": ["${PROMETHEUS_BIND_ADDRESS:-127.0.0.1}:${PROMETHEUS_PORT:-9090}:9090"],
    }
    assert re.search(
        r"^\s*bind = .*WEB_PORT", (support.REPO_ROOT / "web/gunicorn.conf.py").read_text(), re.M
    )


def test_dependencies_wait_for_health():
    assert SERVICES["web"]["depends_on"]["algorithm"] == {"condition": "service_healthy"}
    for name in ("algorithm", "algorithm_celery", "scheduler"):
        assert SERVICES[name]["depends_on"]["redis"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_restart_policies_and_no_secret_in_the_environment(name):
    service = SERVICES[name]
    assert service["restart"] == "unless-stopped"
    assert not set(service["environment"]) & {*credentials.NAMES, *credentials.SERVER_NAMES}
    assert service["environment"]["SECRETS_DIR"] == "/secrets"


def test_no_secret_has_a_default_only_the_secrets_step_reads_them_from_the_environment():
    environment = SERVICES["secrets"]["environment"]
    for key in (*credentials.NAMES, *credentials.ROTATION_NAMES, *credentials.SERVER_NAMES):
        # Empty unless given: the first start generates it into the secrets volume.
        assert environment[key] == f"${{{key}:-}}", key
    text = (support.REPO_ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(PASSWORD|KEY|TOKEN)[A-Z_]*:-[^}]", text)
    assert "secrets:/secrets" in SERVICES["secrets"]["volumes"]


# What each container holds in /secrets: only what it uses (docs/security.md).
SECRETS_OF = {
    "web": {
        "API_TOKEN",
        "DJANGO_SECRET_KEY",
        "ALGORITHM_SERVICE_TOKEN",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
    },
    "migrate": {
        "API_TOKEN",
        "DJANGO_SECRET_KEY",
        "ALGORITHM_SERVICE_TOKEN",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
    },
    "algorithm": {
        "MODEL_SIGNING_KEY",
        "MODEL_SIGNING_KEY_PREVIOUS",
        "ALGORITHM_SERVICE_TOKEN",
        "ALGORITHM_SERVICE_TOKEN_PREVIOUS",
        "PREDICTION_LOG_KEY",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
    },
    "algorithm_celery": {
        "MODEL_SIGNING_KEY",
        "MODEL_SIGNING_KEY_PREVIOUS",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
    },
    # The worker's: it trains as the worker does.
    "retrain-stale": {
        "MODEL_SIGNING_KEY",
        "MODEL_SIGNING_KEY_PREVIOUS",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
    },
    "scheduler": {"REDIS_PASSWORD"},
    "db": {"POSTGRES_PASSWORD", "DATABASE_PASSWORD"},
    "redis": {"REDIS_PASSWORD", "redis-users.acl"},
}


def test_each_container_mounts_only_the_folder_of_its_own_secrets():
    shared = {}
    step = SERVICES["secrets"]
    mounts = dict(reversed(volume.split(":")[:2]) for volume in step["volumes"])
    for argument in step["command"][4:]:
        folder, _, names = argument.partition(":")
        shared[mounts[folder]] = set(names.split(","))
    for name, expected in SECRETS_OF.items():
        (volume,) = [v.split(":")[0] for v in SERVICES[name]["volumes"] if ":/secrets:" in v]
        assert shared[volume] == expected, name
        assert f"{volume}:/secrets:ro" in SERVICES[name]["volumes"]
    assert set(SERVICES) - set(SECRETS_OF) == {"secrets", *OPTIONAL}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_container_is_locked_down(name):
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "cap_add" not in service
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert service["mem_limit"] and service["pids_limit"]
    assert service.get("user", "10001") != "0"
    # Web the only one on the network that publishes its port; Prometheus on its own.
    expected = {"web": ["public", "internal"], "prometheus": ["monitoring", "internal"]}
    assert service["networks"] == expected.get(name, ["internal"])
    assert COMPOSE["networks"]["internal"] == {"internal": True}


def test_prometheus_shares_no_network_with_web_but_internal_and_reports_its_readiness():
    members = {
        network: {name for name, s in SERVICES.items() if network in s["networks"]}
        for network in COMPOSE["networks"]
    }
    assert members["monitoring"] == {"prometheus"}
    assert members["public"] == {"web"}
    # What it scrapes (every app service) is on `internal`.
    assert set(APP_SERVICES) <= members["internal"]
    assert SERVICES["prometheus"]["image"] == "${PROMETHEUS_IMAGE:-prom/prometheus:v2.53.5}"
    check = SERVICES["prometheus"]["healthcheck"]
    # /-/ready, with the promtool of the pinned image.
    assert check["test"] == ["CMD", "promtool", "check", "ready", "--url=http://127.0.0.1:9090"]
    assert check["timeout"] and check["retries"]


def test_the_app_role_is_made_by_the_database_init_script_without_superuser_rights():
    assert "./deploy/db:/docker-entrypoint-initdb.d:ro" in SERVICES["db"]["volumes"]
    assert SERVICES["db"]["environment"]["POSTGRES_USER"] == "postgres"
    assert SERVICES["web"]["environment"]["DATABASE_URL"] == "postgres://textclf@db:5432/textclf"
    script = (support.REPO_ROOT / "deploy/db/10-app-role.sh").read_text()
    assert "CREATE ROLE textclf LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" in script


def test_env_example_names_only_variables_compose_reads():
    compose_text = (support.REPO_ROOT / "docker-compose.yml").read_text()
    example = (support.REPO_ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z_]+)=", example, re.M)
    assert names
    for name in names:
        assert f"${{{name}" in compose_text, f".env.example sets {name}, which compose ignores"


def test_base_images_are_named_by_variables_that_default_to_the_official_ones():
    # So a host without a registry runs on the images deploy/images/ builds, and no one else
    # changes anything.
    assert SERVICES["db"]["image"] == "${POSTGRES_IMAGE:-postgres:15.19-bookworm}"
    assert SERVICES["redis"]["image"] == "${REDIS_IMAGE:-redis:7.2.11-bookworm}"
    for name in ("secrets", "migrate", *APP_SERVICES):
        args = SERVICES[name]["build"]["args"]
        assert args["PYTHON_IMAGE"] == "${PYTHON_IMAGE:-python:3.11.14-slim-bookworm}"
    dockerfile = (support.REPO_ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm" in dockerfile
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["${PYTHON_IMAGE}"] * 2


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    dockerfile = (support.REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M)
    # The code belongs to root: the runtime user can read it, not change it.
    assert re.search(r"^COPY \. \.$", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.M)
    assert "uv sync --locked --no-dev" in dockerfile
    ignored = (support.REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git", "**/__pycache__", "tests", "bench"} <= set(ignored)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_debug_is_off_and_allowed_hosts_are_named_hosts_only(name):
    environment = SERVICES[name]["environment"]
    assert environment["DJANGO_DEBUG"] == "${DJANGO_DEBUG:-0}"
    default_hosts = re.fullmatch(
        r"\$\{DJANGO_ALLOWED_HOSTS:-(.+)\}", environment["DJANGO_ALLOWED_HOSTS"]
    )
    assert default_hosts, environment["DJANGO_ALLOWED_HOSTS"]
    # The web container's own health check calls it as 127.0.0.1.
    assert default_hosts[1].split(",") == ["localhost", "127.0.0.1"]


def test_no_service_shares_the_hosts_network():
    # On the host's network a service is reachable from the host with no port published.
    assert {name: s["network_mode"] for name, s in SERVICES.items() if "network_mode" in s} == {}
