"""The deploy/ files are checked, not trusted: parsed, run through real validators, and matched
against the metrics contract. Validators come from deploy/tools/install-validators.sh; a missing
validator fails the test (never skips), because an unchecked manifest is what this file prevents.

`referenced_metric_names()` is importable for the live-scrape check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from streams.worker.metrics import FAUST_PREFIX, METRIC_NAMES
from streams.worker.web import LIVENESS_PATH, READINESS_PATH
from tests.support.prometheus import scaled_duration, scaled_rules

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
TOOLS_BIN = ROOT / ".cache" / "tools" / "bin"
INSTALL = "deploy/tools/install-validators.sh"

# Series Prometheus makes itself for every target; never on a worker's /metrics.
PROMETHEUS_SERIES = frozenset({"up"})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan"}
)


def tool(name: str) -> str:
    """A validator's path, or a failed test that says how to install it."""
    found = shutil.which(name, path=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail(f"{name} is not installed: run `bash {INSTALL}` (make test does)")
    return found


def run(*command: str, cwd: Path = ROOT) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"


def yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def deploy_files(*suffixes: str) -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in suffixes and p.is_file())


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml_documents(PROMETHEUS / "alerts.yml")[0]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def promql_exprs() -> Iterator[str]:
    yield from (rule["expr"] for rule in alert_rules())
    yield from dashboard_exprs()


def metric_names_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers that are not functions, keywords,
    label names (in `{...}` or `by (...)`), range durations or string contents."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", text)
    return {name for name in names if name.lower() not in _PROMQL_WORDS}


def referenced_metric_names() -> set[str]:
    """Every series the alert rules and the dashboard read, as a worker's /metrics names it
    (Prometheus's own `up` left out)."""
    return set().union(*map(metric_names_in, promql_exprs())) - PROMETHEUS_SERIES


def faust_series_names() -> set[str]:
    """What Faust's Prometheus sensor exposes, derived from its own metric definitions."""
    registry = CollectorRegistry()
    FaustMetrics.create(registry, FAUST_PREFIX)
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        else:
            names.add(family.name)
    return names


def is_domain_series(name: str) -> bool:
    base = next((name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)), name)
    return name in METRIC_NAMES or base in METRIC_NAMES


# --- every file parses -------------------------------------------------------------------------


@pytest.mark.parametrize("path", deploy_files(".yml", ".yaml"), ids=lambda p: p.name)
def test_yaml_parses(path: Path) -> None:
    assert yaml_documents(path), f"{path} holds no YAML document"


@pytest.mark.parametrize("path", deploy_files(".json"), ids=lambda p: p.name)
def test_json_parses(path: Path) -> None:
    json.loads(path.read_text(encoding="utf-8"))


# --- Prometheus --------------------------------------------------------------------------------


def test_promtool_check_rules() -> None:
    run(tool("promtool"), "check", "rules", "deploy/prometheus/alerts.yml")


def test_alert_rules_fire_as_intended() -> None:
    run(tool("promtool"), "test", "rules", "alerts_test.yml", cwd=PROMETHEUS)


def test_rules_shortened_for_the_live_prometheus_test_are_valid(tmp_path: Path) -> None:
    """tests/integration/test_prometheus.py runs the shipped rules with a minute made 0.5 s."""
    rules = scaled_rules()
    by_name = {r["alert"]: r for group in rules["groups"] for r in group["rules"]}
    shipped = {rule["alert"]: rule for rule in alert_rules()}
    assert by_name.keys() == shipped.keys()
    assert by_name["ReachwatchNoInput"]["expr"].rstrip().endswith("> 15")
    assert "[8s:1s]" in by_name["ReachwatchConsumerLagGrowing"]["expr"]
    assert "[180s]" in by_name["ReachwatchAlertRateSpike"]["expr"]
    for name, rule in by_name.items():
        assert rule["for"] == scaled_duration(shipped[name]["for"])
        assert re.sub(r"\[[^\]]*\]|\d+", "", rule["expr"]) == re.sub(
            r"\[[^\]]*\]|\d+", "", shipped[name]["expr"]
        ), f"{name}: only durations may differ"
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(rules))
    run(tool("promtool"), "check", "rules", str(path))


def test_promtool_check_config() -> None:
    run(tool("promtool"), "check", "config", "deploy/prometheus/prometheus.yml")


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool has no query checker, so the dashboard's queries go through it as rules."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, expr in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(tool("promtool"), "check", "rules", str(path))


def test_alerts_cover_the_issue() -> None:
    assert {rule["alert"] for rule in alert_rules()} >= {
        "ReachwatchWorkerDown",
        "ReachwatchConsumerLagGrowing",
        "ReachwatchDeadLettersRising",
        "ReachwatchNoInput",
        "ReachwatchAlertRateSpike",
    }
    assert all(rule["labels"]["severity"] in {"warning", "critical"} for rule in alert_rules())


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (topic) (rate(reachwatch_events_consumed_total{topic=~"a.b"}[5m])) '
        "- on (instance, topic) faust_topic_partition_end_offset > bool 3 and up == 0"
    )
    assert metric_names_in(expr) == {
        "reachwatch_events_consumed_total",
        "faust_topic_partition_end_offset",
        "up",
    }


def test_referenced_metrics_are_in_the_contract() -> None:
    faust = faust_series_names()
    assert "faust_topic_partition_offset_commited" in faust
    assert "faust_messages_received_total" in faust
    unknown = {n for n in referenced_metric_names() if not (is_domain_series(n) or n in faust)}
    assert not unknown, (
        f"alerts.yml / dashboard.json read series no worker exposes: {sorted(unknown)}; "
        "see streams.worker.metrics.METRIC_NAMES and Faust's prometheus sensor"
    )


def test_dashboard_covers_the_issue() -> None:
    referenced = referenced_metric_names()
    assert {
        "reachwatch_events_consumed_total",
        "faust_topic_partition_end_offset",
        "faust_topic_partition_offset_commited",
        "reachwatch_alerts_total",
        "reachwatch_events_invalid_total",
        "reachwatch_engine_processing_seconds_bucket",
        "reachwatch_event_to_alert_delay_seconds_bucket",
        "reachwatch_borrowers_tracked",
    } <= set().union(*map(metric_names_in, dashboard_exprs()))
    assert referenced


# --- Kubernetes --------------------------------------------------------------------------------


def k8s_manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path in k8s_manifests()
        for doc in yaml_documents(path)
    }


def test_k8s_manifests_validate_against_the_schemas() -> None:
    run(tool("kubernetes-validate"), "--strict", *map(str, k8s_manifests()))


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml_documents(K8S / "kustomization.yaml")[0]
    assert sorted(kustomization["resources"]) == sorted(p.name for p in k8s_manifests())


def test_configmap_carries_the_shipped_rules() -> None:
    rules = DEPLOY / "rules.toml"
    if not rules.exists():
        pytest.skip("deploy/rules.toml is not written yet")
    embedded = k8s_resources()[("ConfigMap", "reachwatch-rules")]["data"]["rules.toml"]
    assert embedded == rules.read_text(encoding="utf-8"), (
        "deploy/k8s/configmap.yaml is stale: run python deploy/tools/sync_k8s_rules.py"
    )
    tomllib.loads(embedded)


def test_statefulset_runs_safely() -> None:
    resources = k8s_resources()
    spec = resources[("StatefulSet", "reachwatch")]["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["serviceName"] == "reachwatch"
    assert resources[("Service", "reachwatch")]["spec"]["clusterIP"] == "None"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/var/lib/reachwatch"
    # the rules ConfigMap as a directory: a subPath mount would never see an edit (hot reload)
    assert "subPath" not in mounts["rules"]
    assert container["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "web"}
    assert container["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "web"}
    assert container["startupProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "web"}
    env = {e["name"]: e for e in container["env"]}
    assert env["REACHWATCH_CONFIG"]["value"] == f"{mounts['rules']['mountPath']}/rules.toml"
    secret = env["REACHWATCH_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] == "reachwatch-kafka"
    (config_from,) = container["envFrom"]
    kafka_env = resources[("ConfigMap", config_from["configMapRef"]["name"])]["data"]
    assert kafka_env["REACHWATCH_KAFKA__STORE"] == "rocksdb://"
    assert not any("PASSWORD" in key for key in kafka_env)
    selector = resources[("PodDisruptionBudget", "reachwatch")]["spec"]["selector"]
    assert selector["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_network_policy_admits_only_prometheus_and_reaches_only_kafka_and_dns() -> None:
    resources = k8s_resources()
    policy = resources[("NetworkPolicy", "reachwatch")]["spec"]
    pod_labels = resources[("StatefulSet", "reachwatch")]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    (ingress,) = policy["ingress"]
    (source,) = ingress["from"]
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    assert ingress["ports"] == [{"protocol": "TCP", "port": "web"}]
    kafka_rule, dns_rule = policy["egress"]
    broker = resources[("ConfigMap", "reachwatch-kafka")]["data"]["REACHWATCH_KAFKA__BROKER"]
    host, port = broker.removeprefix("kafka://").rsplit(":", 1)
    (kafka_peer,) = kafka_rule["to"]
    assert kafka_peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": host.split(".")[1]
    }
    assert kafka_rule["ports"] == [{"protocol": "TCP", "port": int(port)}]
    assert {p["port"] for p in dns_rule["ports"]} == {53}


# --- container and compose ---------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_non_root_and_healthchecked() -> None:
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    assert kinds.count("FROM") == 2
    users = [args for kind, args in instructions if kind == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [args for kind, args in instructions if kind == "HEALTHCHECK"]
    assert "urllib.request" in healthcheck
    assert "REACHWATCH_WEB__PORT" in healthcheck
    assert f"'{LIVENESS_PATH}'" in healthcheck
    assert ("ENTRYPOINT", '["reachwatch"]') in instructions
    assert ("CMD", '["worker"]') in instructions
    assert ("VOLUME", '["/var/lib/reachwatch"]') in instructions


def test_dockerfile_copies_only_files_the_context_has() -> None:
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    for kind, args in dockerfile_instructions():
        if kind != "COPY" or args.startswith("--from"):
            continue
        *sources, _ = args.split()
        for source in sources:
            assert source in allowed, f"COPY {source} is excluded by .dockerignore"
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


def compose() -> dict[str, Any]:
    return yaml_documents(DEPLOY / "docker-compose.yml")[0]


def test_compose_stack_is_wired() -> None:
    services = compose()["services"]
    pom = (ROOT / "streams" / "local_kafka" / "pom.xml").read_text(encoding="utf-8")
    (kafka_version,) = re.findall(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["topics"]["command"] == ["topics", "create"]
    workers = [services[name] for name in ("worker-1", "worker-2")]
    assert {w["image"] for w in workers} == {services["topics"]["image"]}
    assert all(w["environment"]["REACHWATCH_KAFKA__STORE"] == "rocksdb://" for w in workers)
    # A failed batch exits the worker on purpose; the restart re-reads it (at least once).
    assert all(w["restart"] == "unless-stopped" for w in workers)
    assert all(
        w["depends_on"]["topics"]["condition"] == "service_completed_successfully" for w in workers
    )
    for worker in workers:
        assert f"{READINESS_PATH}'" in " ".join(worker["healthcheck"]["test"])
    data_volumes = [w["volumes"][0].split(":") for w in workers]
    assert len({volume for volume, _ in data_volumes}) == 2
    assert {path for _, path in data_volumes} == {"/var/lib/reachwatch"}
    assert {volume for volume, _ in data_volumes} <= set(compose()["volumes"])
    build = workers[0]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_compose_publishes_on_loopback_only() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_grafana_asks_for_a_login() -> None:
    environment = compose()["services"]["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert not any("ANONYMOUS_ORG_ROLE" in key for key in environment)


def test_compose_workers_run_confined() -> None:
    services = compose()["services"]
    for name in ("topics", "worker-1", "worker-2"):
        service = services[name]
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
        assert "user" not in service  # the image's non-root user
        assert set(service["deploy"]["resources"]["limits"]) == {"cpus", "memory"}


def test_compose_mounts_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_both_workers() -> None:
    config = yaml_documents(PROMETHEUS / "prometheus.yml")[0]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "reachwatch"
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {"worker-1:6066", "worker-2:6066"}
    assert targets <= {f"{n}:6066" for n in compose()["services"]}


def test_grafana_dashboard_uses_the_provisioned_datasource() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    (datasource,) = yaml_documents(provisioning)[0]["datasources"]
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    assert {panel["datasource"]["uid"] for panel in panels} == {datasource["uid"]}
