"""The Kubernetes manifests, as `kubectl kustomize` renders the overlays (no cluster): they run
what compose runs, as hardened as compose runs it, and a cluster would route, probe and scale
them as docs/kubernetes.md says. (`make lint` validates their schemas.)"""

import ipaddress
import urllib.parse

import django.urls
import pytest
import yaml

from common import credentials
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


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) picks these labels."""
    matched = all(
        labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()
    )
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        matched = matched and labels.get(expression["key"]) in expression["values"]
    return matched


def allowed_ingress(rendering: str, component: str) -> set[tuple[str, int]]:
    """(who, port) pairs the NetworkPolicies let reach this component's pods: who is a
    component's name or `namespace:NAME`."""
    labels = {"app.kubernetes.io/component": component}
    allowed = set()
    for policy in objects(rendering, "NetworkPolicy").values():
        if not selects(policy["spec"]["podSelector"], labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    who = (
                        "namespace:"
                        + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    )
                    allowed |= {(who, port["port"]) for port in rule["ports"]}
                else:
                    for other in (*APP, "postgres", "redis"):
                        other_labels = {"app.kubernetes.io/component": other}
                        if selects(peer["podSelector"], other_labels):
                            allowed |= {(other, port["port"]) for port in rule["ports"]}
    return allowed


@pytest.mark.parametrize("rendering", RENDERED)
def test_every_container_runs_unprivileged_on_a_read_only_root(rendering):
    for name, workload in workloads(rendering).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, (name, container["name"])
            assert security["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert security["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert security["capabilities"] == {"drop": ["ALL"]}, (name, container["name"])
            assert set(container["resources"]) == {"requests", "limits"}, (name, container)


@pytest.mark.parametrize("rendering", RENDERED)
def test_the_app_runs_the_processes_compose_runs_from_the_pinned_image(rendering):
    for name in APP:
        (container,) = workloads(rendering)[name]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == COMPOSE[COMPOSE_SERVICE[name]]["command"]
        assert container["image"] == "textclf:0.1.0"
        assert container["imagePullPolicy"] == "IfNotPresent"
    # The release step (compose's `migrate`) runs before the new version of web serves.
    web = workloads(rendering)["web"]["spec"]["template"]["spec"]
    assert [step["command"] for step in web["initContainers"]] == [COMPOSE["migrate"]["command"]]


@pytest.mark.parametrize("rendering", RENDERED)
def test_each_pod_holds_only_the_secrets_compose_gives_its_container(rendering):
    shares = {
        pathname.removeprefix("/secrets-for/"): set(names.split(","))
        for pathname, names in (
            argument.split(":") for argument in COMPOSE["secrets"]["command"][4:]
        )
    }
    for name, workload in workloads(rendering).items():
        (volume,) = [
            v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"
        ]
        sources = volume["projected"]["sources"] if "projected" in volume else [volume]
        keys = {item["key"] for source in sources for item in source["secret"]["items"]}
        names = {
            source["secret"].get("name", source["secret"].get("secretName")) for source in sources
        }
        assert names == {"textclf"}, name
        # The folder of secrets compose mounts at /secrets in the same service's container.
        (share,) = [
            volume.split(":")[0].removeprefix("secrets_")
            for volume in COMPOSE[COMPOSE_SERVICE[name]]["volumes"]
            if volume.endswith(":/secrets:ro")
        ]
        # Redis's ACL file is made in the pod from REDIS_PASSWORD.
        assert keys == shares[share] - {"redis-users.acl"}, name


@pytest.mark.parametrize("rendering", RENDERED)
def test_no_secret_value_is_in_the_manifests(rendering):
    secret_names = {*credentials.NAMES, *credentials.SERVER_NAMES}
    assert objects(rendering, "Secret") == {}
    assert secret_names.isdisjoint(config(rendering))
    for workload in workloads(rendering).values():
        for container in containers(workload):
            literal = {
                variable["name"] for variable in container.get("env", []) if "value" in variable
            }
            assert secret_names.isdisjoint(literal), container["name"]
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert urllib.parse.urlsplit(config(rendering).get(name, "")).password is None


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
def test_network_policies_let_each_part_be_reached_only_by_its_callers(rendering):
    assert any(
        policy["spec"]["podSelector"] == {}
        and policy["spec"]["policyTypes"] == ["Ingress"]
        and "ingress" not in policy["spec"]
        for policy in objects(rendering, "NetworkPolicy").values()
    ), "no default deny"
    monitoring = {("namespace:monitoring", port) for port in METRICS_PORT.values()}
    assert allowed_ingress(rendering, "algorithm") == {("web", 50051), *monitoring}
    assert allowed_ingress(rendering, "web") == {("namespace:ingress-nginx", 8000), *monitoring}
    assert allowed_ingress(rendering, "worker") == monitoring
    assert allowed_ingress(rendering, "scheduler") == monitoring
    if rendering.startswith("dev"):
        assert allowed_ingress(rendering, "postgres") == {
            ("web", 5432),
            ("algorithm", 5432),
            ("worker", 5432),
        }
        keda = {("namespace:keda", 6379)} if rendering == "dev+keda" else set()
        assert allowed_ingress(rendering, "redis") == {(name, 6379) for name in APP} | keda


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


def test_prod_runs_several_replicas_against_external_postgres_and_redis():
    deployments = workloads("prod")
    assert set(deployments) == set(APP)
    assert {name: deployments[name]["spec"]["replicas"] for name in APP} == {
        "web": 3,
        "algorithm": 3,
        "worker": 2,
        # RedBeat's lock: one scheduler fires at a time.
        "scheduler": 1,
    }
    assert "DATABASE_URL" not in config("prod") and "REDIS_URL" not in config("prod")
    for name, workload in deployments.items():
        for container in containers(workload):
            assert {"secretRef": {"name": "textclf-external"}} in container["envFrom"], name
    hpas = objects("prod", "HorizontalPodAutoscaler")
    assert {name: hpa["spec"]["minReplicas"] for name, hpa in hpas.items()} == {
        "web": 3,
        "algorithm": 3,
    }


def test_dev_runs_one_of_each_with_its_own_postgres_and_redis():
    assert {name: item["spec"]["replicas"] for name, item in workloads("dev").items()} == {
        name: 1 for name in (*APP, "postgres", "redis")
    }
    assert config("dev")["DATABASE_URL"] == "postgres://textclf@postgres:5432/textclf"
    assert config("dev")["REDIS_URL"] == "redis://redis:6379/0"
    # The same role-creating script as compose's database.
    initdb = next(
        volume
        for volume in workloads("dev")["postgres"]["spec"]["template"]["spec"]["volumes"]
        if volume["name"] == "initdb"
    )
    (configmap,) = [
        item
        for name, item in objects("dev", "ConfigMap").items()
        if name == initdb["configMap"]["name"]
    ]
    script = support.REPO_ROOT / "deploy/db/10-app-role.sh"
    assert configmap["data"] == {"10-app-role.sh": script.read_text()}


@pytest.mark.parametrize("rendering", RENDERED)
def test_algorithm_and_workers_share_one_read_write_many_model_volume(rendering):
    (claim,) = objects(rendering, "PersistentVolumeClaim").values()
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    config_dir = config(rendering)["MODEL_DIR"]
    for name in ("algorithm", "worker"):
        pod = workloads(rendering)[name]["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        (container,) = pod["containers"]
        assert {"name": "models", "mountPath": config_dir} in container["volumeMounts"]


@pytest.mark.parametrize("rendering", RENDERED)
def test_web_and_algorithm_scale_on_cpu_and_keep_pods_through_disruptions(rendering):
    hpas = objects(rendering, "HorizontalPodAutoscaler")
    assert set(hpas) == {"web", "algorithm"}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]] == ["cpu"]
    budgets = objects(rendering, "PodDisruptionBudget")
    assert {name: budget["spec"]["maxUnavailable"] for name, budget in budgets.items()} == {
        "web": 1,
        "algorithm": 1,
        "worker": 1,
    }


def test_the_keda_component_scales_the_workers_on_their_queues():
    (scaled,) = objects("dev+keda", "ScaledObject").values()
    assert scaled["metadata"]["namespace"] == "textclf"
    assert scaled["spec"]["scaleTargetRef"] == {"name": "worker"}
    assert {trigger["metadata"]["listName"] for trigger in scaled["spec"]["triggers"]} == {
        "celery",
        "monitoring",
    }
    (authentication,) = objects("dev+keda", "TriggerAuthentication").values()
    assert authentication["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "textclf", "key": "REDIS_PASSWORD"}
    ]
    # Without the component, nothing of KEDA's: the worker count is the overlay's.
    assert objects("dev", "ScaledObject") == {} and objects("prod", "ScaledObject") == {}


METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")
DNS = {("kube-system/kube-dns", "UDP", 53), ("kube-system/kube-dns", "TCP", 53)}


def egress_policies(rendering: str, labels: dict) -> list[dict]:
    return [
        policy
        for policy in objects(rendering, "NetworkPolicy").values()
        if "Egress" in policy["spec"]["policyTypes"]
        and selects(policy["spec"]["podSelector"], labels)
    ]


def allowed_egress(rendering: str, component: str) -> set[tuple[str, str, int]]:
    """(to, protocol, port) the NetworkPolicies let this component's pods reach: `to` is a
    component, `namespace/k8s-app`, or a CIDR."""
    allowed = set()
    for policy in egress_policies(rendering, {"app.kubernetes.io/component": component}):
        for rule in policy["spec"].get("egress", []):
            # A rule with no `to` or no `ports` would let everything out.
            assert rule.get("to") and rule.get("ports"), (policy["metadata"]["name"], rule)
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    targets = [peer["ipBlock"]["cidr"]]
                elif "namespaceSelector" in peer:
                    namespace = peer["namespaceSelector"]["matchLabels"]
                    app = peer["podSelector"]["matchLabels"]["k8s-app"]
                    targets = [f"{namespace['kubernetes.io/metadata.name']}/{app}"]
                else:
                    targets = [
                        other
                        for other in (*APP, "postgres", "redis")
                        if selects(peer["podSelector"], {"app.kubernetes.io/component": other})
                    ]
                allowed |= {
                    (target, port.get("protocol", "TCP"), port["port"])
                    for target in targets
                    for port in rule["ports"]
                }
    return allowed


@pytest.mark.parametrize("rendering", RENDERED)
def test_every_pod_is_under_a_default_deny_egress_policy(rendering):
    deny = [
        policy
        for policy in objects(rendering, "NetworkPolicy").values()
        if policy["spec"]["podSelector"] == {}
        and policy["spec"]["policyTypes"] == ["Egress"]
        and "egress" not in policy["spec"]
    ]
    assert deny, "no default deny for egress"
    for name, workload in workloads(rendering).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert egress_policies(rendering, labels), name


@pytest.mark.parametrize("rendering", RENDERED)
def test_each_pod_reaches_only_dns_and_the_services_it_calls(rendering):
    tcp = {"postgres": 5432, "redis": 6379}
    if rendering == "prod":
        # The operator's addresses (placeholders until set: docs/kubernetes.md, "Egress").
        postgres, redis = {("192.0.2.10/32", "TCP", 5432)}, {("192.0.2.11/32", "TCP", 6379)}
    else:
        postgres, redis = ({(name, "TCP", port)} for name, port in tcp.items())
    algorithm = {("algorithm", "TCP", 50051)}
    assert allowed_egress(rendering, "web") == DNS | algorithm | postgres | redis
    assert allowed_egress(rendering, "algorithm") == DNS | postgres | redis
    assert allowed_egress(rendering, "worker") == DNS | postgres | redis
    assert allowed_egress(rendering, "scheduler") == DNS | redis
    if rendering != "prod":
        assert allowed_egress(rendering, "postgres") == set()
        assert allowed_egress(rendering, "redis") == set()


@pytest.mark.parametrize("rendering", RENDERED)
def test_no_pod_can_reach_the_cloud_metadata_address(rendering):
    for name, workload in workloads(rendering).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        # Selected by no egress policy, a pod reaches every address, this one too.
        assert egress_policies(rendering, labels), name
    for policy in objects(rendering, "NetworkPolicy").values():
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), policy["metadata"]["name"]
            for peer in rule["to"]:
                if "ipBlock" not in peer:
                    continue
                block = peer["ipBlock"]
                excepted = any(
                    METADATA_ADDRESS in ipaddress.ip_network(cidr)
                    for cidr in block.get("except", [])
                )
                reaches = METADATA_ADDRESS in ipaddress.ip_network(block["cidr"])
                assert not reaches or excepted, (policy["metadata"]["name"], block)


@pytest.mark.parametrize("rendering", RENDERED)
def test_each_pod_writes_its_logs_to_a_folder_no_other_pod_mounts(rendering):
    # As compose's per-container log volumes: no pod can put a link at another's log file.
    for name in APP:
        pod = workloads(rendering)[name]["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in containers(workloads(rendering)[name]):
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/logs"]
            assert set(volumes[mount["name"]]) == {"name", "emptyDir"}, (name, mount)
    assert config(rendering)["LOG_DIR"] == "/logs"
