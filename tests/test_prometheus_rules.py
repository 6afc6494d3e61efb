"""The committed Prometheus configuration and alerting rules: valid, and every alert held to
its intended behaviour by a unit test of its own (deploy/prometheus/rules_test.yml)."""

import subprocess

import yaml

from tests.support import REPO_ROOT

FOLDER = REPO_ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["promtool", *args], cwd=FOLDER, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_configuration_and_the_rules_are_valid():
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "rules.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_unit_tests():
    result = promtool("test", "rules", "rules_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((FOLDER / "rules.yml").read_text())
    tests = yaml.safe_load((FOLDER / "rules_test.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }

    assert tested == alerts
