"""How a cluster routes to the rendered pods, probes them and scrapes their metrics."""

import django.urls
import pytest

from common import settings as common_settings
from tests.kubernetes.manifests import METRICS_PORT, RENDERED, config, objects, workloads


@pytest.mark.parametrize("rendering", RENDERED)
def test_web_reaches_every_algorithm_pod_through_a_headless_service(rendering):
    service = objects(rendering, "Service")["algorithm"]
    assert service["spec"]["clusterIP"] == "None"
    assert config(rendering)["ALGORITHM_GRPC_TARGET"] == "dns:///algorithm:50051"
    assert {port["port"] for port in service["spec"]["ports"]} == {
        common_settings.ALGORITHM_GRPC_PORT,
        common_settings.ALGORITHM_HTTP_PORT,
    }


@pytest.mark.parametrize("rendering", RENDERED)
def test_algorithm_is_ready_on_its_overall_grpc_health_not_on_prediction(rendering):
    (container,) = workloads(rendering)["algorithm"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["grpc"] == {"port": 50051, "service": ""}
    assert container["livenessProbe"] == container["livenessProbe"] | {
        "tcpSocket": {"port": "grpc"}
    }


@pytest.mark.parametrize("rendering", RENDERED)
def test_web_probes_its_readiness_and_liveness_views_separately(rendering):
    (container,) = workloads(rendering)["web"]["spec"]["template"]["spec"]["containers"]
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (ready["path"], live["path"]) == ("/api/health/", "/api/health/live/")
    assert django.urls.resolve(ready["path"]).url_name == "health"
    assert django.urls.resolve(live["path"]).url_name == "liveness"
    # Django answers only the hosts it allows; the probes name one.
    host = {"name": "Host", "value": "localhost"}
    assert host in ready["httpHeaders"] and host in live["httpHeaders"]
    assert "localhost" in config(rendering)["DJANGO_ALLOWED_HOSTS"].split(",")


@pytest.mark.parametrize("rendering", RENDERED)
def test_each_service_exposes_its_metrics_port(rendering):
    for name, port in METRICS_PORT.items():
        (container,) = workloads(rendering)[name]["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": port} in container["ports"], name


@pytest.mark.parametrize("rendering", RENDERED)
def test_web_counts_the_ingress_controller_as_its_one_trusted_proxy(rendering):
    (ingress,) = objects(rendering, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert {path["backend"]["service"]["name"] for path in rule["http"]["paths"]} == {"web"}
    assert config(rendering)["WEB_TRUSTED_PROXY_COUNT"] == "1"
