"""The rendered NetworkPolicies: each part is reached only by its callers, and reaches only DNS
and the services it calls, never the cloud metadata address (docs/kubernetes.md, "Egress")."""

import ipaddress

import pytest

from tests.kubernetes.manifests import APP, METRICS_PORT, RENDERED, objects, workloads


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
