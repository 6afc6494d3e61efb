"""The Kubernetes manifests as `kubectl kustomize` renders the overlays (no cluster), rendered
once for every module of tests/kubernetes/, and what they read of them. Those modules check
that the manifests run what compose runs, as hardened as compose runs it, and that a cluster
would route, probe and scale them as docs/kubernetes.md says. (`make lint` validates their
schemas.)"""

import yaml

from common import settings as common_settings
from scripts import check_kubernetes
from tests import support

RENDERED = check_kubernetes.renderings()
COMPOSE = yaml.safe_load((support.REPO_ROOT / "docker-compose.yml").read_text())["services"]
# Deployment (or StatefulSet) -> the compose service that runs the same thing.
COMPOSE_SERVICE = {
    "web": "web",
    "algorithm": "algorithm",
    "worker": "algorithm_celery",
    "scheduler": "scheduler",
    "postgres": "db",
    "redis": "redis",
}
APP = ("web", "algorithm", "worker", "scheduler")
METRICS_PORT = {
    "web": common_settings.WEB_METRICS_PORT,
    "algorithm": common_settings.ALGORITHM_METRICS_PORT,
    "worker": common_settings.WORKER_METRICS_PORT,
    "scheduler": common_settings.SCHEDULER_METRICS_PORT,
}


def objects(rendering: str, kind: str) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in RENDERED[rendering] if item["kind"] == kind}


def workloads(rendering: str) -> dict[str, dict]:
    return {**objects(rendering, "Deployment"), **objects(rendering, "StatefulSet")}


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def config(rendering: str) -> dict[str, str]:
    (configmap,) = [
        item["data"]
        for name, item in objects(rendering, "ConfigMap").items()
        if name.startswith("textclf-config-")
    ]
    return configmap
