"""The rendered workloads run what compose runs, from the pinned image, as hardened as compose
runs it, each pod holding only its own secrets and writing its own logs."""

import urllib.parse

import pytest

from common import credentials
from tests.kubernetes.manifests import (
    APP,
    COMPOSE,
    COMPOSE_SERVICE,
    RENDERED,
    config,
    containers,
    objects,
    workloads,
)


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
def test_each_pod_writes_its_logs_to_a_folder_no_other_pod_mounts(rendering):
    # As compose's per-container log volumes: no pod can put a link at another's log file.
    for name in APP:
        pod = workloads(rendering)[name]["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in containers(workloads(rendering)[name]):
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/logs"]
            assert set(volumes[mount["name"]]) == {"name", "emptyDir"}, (name, mount)
    assert config(rendering)["LOG_DIR"] == "/logs"
