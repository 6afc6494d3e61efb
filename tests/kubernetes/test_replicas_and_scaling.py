"""The overlays' replicas, databases and model volume, and how a cluster would scale them:
autoscalers, disruption budgets and the optional KEDA component."""

import pytest

from tests import support
from tests.kubernetes.manifests import APP, RENDERED, config, containers, objects, workloads


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
