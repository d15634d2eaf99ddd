"""The Helm chart (helm/dts-exporter): lint, render, Kubernetes 1.30 schemas, the values
schema, the monitoring objects against their sources, and a real run of the exporter with
exactly the rendered Deployment's args, env and ConfigMap, against the simulator.

Helm itself comes from helm-python-sdk (Helm v4 as a library, no binary, no cluster).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import requests
import yaml

from dts_exporter import __version__
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.config import parse_config
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    start_simulator,
)
from tests.conftest import ROOT, Scrape
from tests.procs import Process, free_port
from tests.schemas import NEWLINE, config_cases

# Helm (as a library), Kubernetes schemas, subprocesses and an exporter process.
pytestmark = pytest.mark.slow

CHART = ROOT / "helm" / "dts-exporter"
VALUES_FILE = CHART / "values.yaml"
VARIANTS = {p.name.removesuffix("-values.yaml"): p for p in sorted((CHART / "ci").glob("*.yaml"))}
RELEASE, NAMESPACE = "dts", "monitoring"
FULLNAME = "dts-dts-exporter"
KUBE_VERSION = "1.30.0"
CONFIG_PATH = "/etc/dts-exporter/config.yaml"
# Sources outside the chart -> their copies under helm/dts-exporter/files (helm/sync-files.sh).
COPIES = {
    ROOT / "alerts" / "dts-exporter.rules.yaml": CHART / "files" / "dts-exporter.rules.yaml",
    ROOT / "dashboards" / "dts-exporter.json": CHART / "files" / "dts-exporter.json",
}
# The config keys every exporter version with this chart accepts (README, "Configuration").
STATIC_CONFIG_KEYS = {
    "region",
    "endpoint",
    "timeout_seconds",
    "scrape_timeout_seconds",
    "concurrency",
    "log_level",
    "jobs",
}
SECURITY_FIELDS = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY_FIELDS = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "fsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RRSA_VALUES = {
    "enabled": True,
    "roleName": "dts-exporter",
    "roleArn": "acs:ram::1234567890123456:role/dts-exporter",
    "oidcProviderArn": "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c01",
}

Manifest = dict[str, Any]


class Rendered:
    """One `helm template`: the objects of every manifest, the NOTES text apart."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.notes = ""
        self.objects: list[Manifest] = []
        for path, text in sorted(files.items()):
            if path.endswith("NOTES.txt"):
                self.notes = text
                continue
            self.objects.extend(doc for doc in yaml.safe_load_all(text) if doc)

    def kinds(self) -> list[str]:
        return sorted(obj["kind"] for obj in self.objects)

    def all(self, kind: str) -> list[Manifest]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    def container(self) -> Manifest:
        containers = self.one("Deployment")["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        container: Manifest = containers[0]
        return container

    def pod_spec(self) -> Manifest:
        spec: Manifest = self.one("Deployment")["spec"]["template"]["spec"]
        return spec


def variant_values(name: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(VARIANTS[name].read_text(encoding="utf-8")) or {}
    return values


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


# No image is published for the chart to default to: every install names one.
IMAGE_REPOSITORY = "registry.example.com/team/dts-exporter"


def with_image(values: dict[str, Any] | None) -> dict[str, Any]:
    """`values` plus the one value the chart requires, `image.repository`, unless given."""
    values = dict(values or {})
    values["image"] = {"repository": IMAGE_REPOSITORY, **values.get("image", {})}
    return values


def render(
    chart: helm.Chart, values: dict[str, Any] | None = None, *, image: bool = True
) -> Rendered:
    """`helm template`; with `image`, `image.repository` is set unless `values` sets it."""
    given = with_image(values) if image else values
    return Rendered(chart.render(given, name=RELEASE, namespace=NAMESPACE, is_install=True))


@pytest.fixture(scope="module")
def rendered(chart: helm.Chart) -> dict[str, Rendered]:
    """The defaults plus `image.repository` (key "defaults") and every ci variant, rendered
    once."""
    out = {"defaults": render(chart)}
    out.update({name: render(chart, variant_values(name)) for name in VARIANTS})
    return out


ALL_RENDERS = ["defaults", *VARIANTS]
BASE_KINDS = ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]
EXPECTED_KINDS = {
    "defaults": BASE_KINDS,
    "default": BASE_KINDS,
    "access-key-secret": BASE_KINDS,
    "create-secret": sorted([*BASE_KINDS, "Secret", "NetworkPolicy"]),
    "rrsa": BASE_KINDS,
    "monitoring": sorted([*BASE_KINDS, "ConfigMap", "PrometheusRule", "ServiceMonitor"]),
    "hardened-extras": sorted([*BASE_KINDS, "NetworkPolicy", "PodDisruptionBudget"]),
    "sharding": sorted(["ConfigMap", "StatefulSet", "Pod", "Service", "ServiceAccount"]),
}


def test_every_variant_worth_testing_is_there() -> None:
    assert set(VARIANTS) == set(EXPECTED_KINDS) - {"defaults"}


def test_chart_metadata_follows_the_package() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "dts-exporter"
    assert meta["version"] == "0.1.0"
    assert meta["appVersion"] == __version__
    assert meta["kubeVersion"] == ">=1.25.0-0"
    assert meta["home"] and meta["sources"] and meta["maintainers"] and meta["keywords"]


@pytest.mark.parametrize("variant", ALL_RENDERS)
def test_lint_strict_is_clean(variant: str) -> None:
    values = None if variant == "defaults" else variant_values(variant)
    report = helm.lint(CHART, values, strict=True, kube_version="v1.30.0", namespace=NAMESPACE)
    assert report["total_charts_linted"] == 1
    assert report["messages"] == []
    assert report["errors"] == []


@pytest.mark.parametrize("variant", ALL_RENDERS)
def test_renders_the_expected_objects(rendered: dict[str, Rendered], variant: str) -> None:
    assert rendered[variant].kinds() == EXPECTED_KINDS[variant]


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# The Prometheus Operator's Duration type.
_DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_RELABEL_KEYS = {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement"}
_RELABEL_ACTIONS = {
    "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep",
    "lowercase", "uppercase", "keepequal", "dropequal",
}  # fmt: skip


def _check_metadata(obj: Manifest) -> None:
    meta = obj["metadata"]
    assert len(meta["name"]) <= 253 and _DNS_SUBDOMAIN.match(meta["name"]), meta["name"]
    assert meta["namespace"]
    for key, value in meta.get("labels", {}).items():
        prefix, _, name = key.rpartition("/")
        assert len(name) <= 63 and _LABEL_NAME.match(name), key
        assert not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)), key
        assert isinstance(value, str) and len(value) <= 63 and _LABEL_VALUE.match(value), value
    for key, value in meta.get("annotations", {}).items():
        assert isinstance(key, str) and isinstance(value, str), (key, value)


def _check_relabelings(relabelings: Any) -> None:
    assert isinstance(relabelings, list)
    for item in relabelings:
        assert set(item) <= _RELABEL_KEYS | {"action"}, item
        assert item.get("action", "replace").lower() in _RELABEL_ACTIONS


def _check_service_monitor(obj: Manifest) -> None:
    assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
    spec = obj["spec"]
    assert set(spec) <= {"jobLabel", "namespaceSelector", "selector", "endpoints"}
    assert all(isinstance(v, str) for v in spec["selector"]["matchLabels"].values())
    assert set(spec["namespaceSelector"]) <= {"any", "matchNames"}
    assert spec["endpoints"]
    for endpoint in spec["endpoints"]:
        keys = {"port", "path", "scheme", "interval", "scrapeTimeout"}
        assert set(endpoint) <= keys | {"relabelings", "metricRelabelings"}
        assert isinstance(endpoint["port"], str)
        assert endpoint["scheme"] in ("http", "https")
        assert _DURATION.match(endpoint["interval"]) and _DURATION.match(endpoint["scrapeTimeout"])
        _check_relabelings(endpoint.get("relabelings", []))
        _check_relabelings(endpoint.get("metricRelabelings", []))


def _check_prometheus_rule(obj: Manifest) -> None:
    assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(obj["spec"]) == {"groups"}
    names = [group["name"] for group in obj["spec"]["groups"]]
    assert len(names) == len(set(names)) and all(names)
    for group in obj["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit", "query_offset"}
        assert group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS
            assert ("record" in rule) != ("alert" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert _DURATION.match(rule.get("for", "0"))
            for key in ("labels", "annotations"):
                assert all(isinstance(v, str) for v in rule.get(key, {}).values())


@pytest.mark.parametrize("variant", ALL_RENDERS)
def test_objects_are_valid_kubernetes_1_30(rendered: dict[str, Rendered], variant: str) -> None:
    for obj in rendered[variant].objects:
        _check_metadata(obj)
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            # CRDs: kubernetes-validate has no schema for them; check their structure here.
            {"ServiceMonitor": _check_service_monitor, "PrometheusRule": _check_prometheus_rule}[
                obj["kind"]
            ](obj)
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"replicaCount": "two"}, r"/replicaCount.*want integer"),
    ({"replicaCount": 1.5}, r"/replicaCount"),
    ({"bogus": True}, r"additional properties 'bogus' not allowed"),
    ({"image": {"pullPolicy": "Sometimes"}}, r"/image/pullPolicy.*one of"),
    ({"service": {"port": "http"}}, r"/service/port"),
    ({"serviceMonitor": {"interval": "one minute"}}, r"/serviceMonitor/interval"),
    ({"credentials": {"rrsa": {"enabled": "yes"}}}, r"/credentials/rrsa/enabled"),
    ({"config": {"jobs": "dtsi01"}}, r"/config/jobs"),
    ({"podDisruptionBudget": {"minAvailable": "half"}}, r"/podDisruptionBudget/minAvailable"),
    # config: the config file's own schema, embedded
    (
        {"config": {"jobs": [{"id": "dtsx", "modify_task": ["k1"]}]}},
        r"/config/jobs/0.*additional properties 'modify_task' not allowed",
    ),
    ({"config": {"concurency": 8}}, r"/config.*additional properties 'concurency' not allowed"),
    ({"config": {"concurrency": 0}}, r"/config/concurrency.*minimum"),
    ({"config": {"timeout_seconds": "10"}}, r"/config/timeout_seconds.*got string"),
    ({"config": {"log_level": "verbose"}}, r"/config/log_level.*one of"),
    ({"config": {"region": "Hangzhou"}}, r"/config/region.*does not match pattern"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_the_schema_rejects_bad_values(
    chart: helm.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.validate_schema(chart.merge_values(values))
    with pytest.raises(helm.HelmValuesError, match=message):
        render(chart, values)


TWO_MODES: list[dict[str, Any]] = [
    {"existingSecret": "creds", "accessKeyId": "LTAI", "accessKeySecret": "s"},
    {"existingSecret": "creds", "rrsa": RRSA_VALUES},
    {"accessKeyId": "LTAI", "accessKeySecret": "s", "rrsa": RRSA_VALUES},
]


@pytest.mark.parametrize(
    "credentials", TWO_MODES, ids=["secret+create", "secret+rrsa", "create+rrsa"]
)
def test_two_credential_modes_fail_clearly(chart: helm.Chart, credentials: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmRenderError, match="exactly one credential mode may be set, got 2"):
        render(chart, {"credentials": credentials})


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        (
            {"accessKeyId": "LTAI"},
            "set both credentials.accessKeyId and credentials.accessKeySecret",
        ),
        ({"rrsa": {**RRSA_VALUES, "roleName": ""}}, "credentials.rrsa.roleName is required"),
        ({"rrsa": {**RRSA_VALUES, "roleArn": ""}}, "roleArn and credentials.rrsa.oidcProviderArn"),
    ],
)
def test_incomplete_credentials_fail_clearly(
    chart: helm.Chart, credentials: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(chart, {"credentials": credentials})


def test_without_credentials_it_renders_and_notes_say_so(rendered: dict[str, Rendered]) -> None:
    names = [e["name"] for e in rendered["defaults"].container().get("env", [])]
    assert not [n for n in names if n.startswith("ALIBABA_CLOUD_")]
    assert "WARNING: no credentials configured" in rendered["defaults"].notes
    assert "ECS instance RAM role" in rendered["defaults"].notes
    assert "no credentials" not in rendered["create-secret"].notes


def test_the_service_monitor_selects_the_service_port(rendered: dict[str, Rendered]) -> None:
    r = rendered["monitoring"]
    monitor, service = r.one("ServiceMonitor"), r.one("Service")
    values = variant_values("monitoring")["serviceMonitor"]
    assert monitor["metadata"]["namespace"] == values["namespace"]
    assert monitor["metadata"]["labels"]["release"] == values["labels"]["release"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    # ...and nothing else: the Service's own selector labels, not every label.
    assert selector == service["spec"]["selector"]
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert endpoint["port"] == "http" and port["port"] == 9881
    container_ports = {p["name"]: p["containerPort"] for p in r.container()["ports"]}
    assert container_ports[port["targetPort"]] == 9881
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "30s")
    assert endpoint["relabelings"] == values["relabelings"]
    assert endpoint["metricRelabelings"] == values["metricRelabelings"]
    # The pods the Service selects are the Deployment's.
    pod_labels = r.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_prometheus_rule_carries_exactly_the_rules_file(rendered: dict[str, Rendered]) -> None:
    rule = rendered["monitoring"].one("PrometheusRule")
    source = yaml.safe_load((ROOT / "alerts" / "dts-exporter.rules.yaml").read_text("utf-8"))
    assert rule["spec"]["groups"] == source["groups"]
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Prometheus templates reach Prometheus untouched, not evaluated by Helm.
    descriptions = [
        r["annotations"]["description"]
        for group in rule["spec"]["groups"]
        for r in group["rules"]
        if "alert" in r
    ]
    assert descriptions and all("{{" in d for d in descriptions)


def test_the_dashboard_configmap_carries_exactly_the_dashboard(
    rendered: dict[str, Rendered],
) -> None:
    r = rendered["monitoring"]
    (dashboard,) = [c for c in r.all("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    source = (ROOT / "dashboards" / "dts-exporter.json").read_text(encoding="utf-8")
    assert list(dashboard["data"]) == ["dts-exporter.json"]
    assert json.loads(dashboard["data"]["dts-exporter.json"]) == json.loads(source)
    assert dashboard["data"]["dts-exporter.json"] == source
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "DTS"}
    assert dashboard["metadata"]["namespace"] == "grafana"


def test_chart_copies_equal_their_sources() -> None:
    for source, copy in COPIES.items():
        assert copy.read_bytes() == source.read_bytes(), f"run helm/sync-files.sh ({copy.name})"
    check = subprocess.run(
        ["bash", str(ROOT / "helm" / "sync-files.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def _env(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


def test_rrsa(rendered: dict[str, Rendered]) -> None:
    r = rendered["rrsa"]
    rrsa = variant_values("rrsa")["credentials"]["rrsa"]
    account = r.one("ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "pod-identity.alibabacloud.com/role-name": rrsa["roleName"],
        "example.com/owner": "data-platform",
    }
    pod = r.one("Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["pod-identity.alibabacloud.com/injection"] == "on"
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    env = _env(r.container())
    token_dir = "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens"
    assert {name: e.get("value") for name, e in env.items()} == {
        "ALIBABA_CLOUD_ROLE_ARN": rrsa["roleArn"],
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": rrsa["oidcProviderArn"],
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": f"{token_dir}/token",
    }
    (mount,) = [m for m in r.container()["volumeMounts"] if m["mountPath"] == token_dir]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"] == {
        "path": "token",
        "audience": "sts.aliyuncs.com",
        "expirationSeconds": 3600,
    }
    assert "RRSA: the pod assumes the RAM role dts-exporter" in r.notes


def test_rrsa_left_to_the_webhook(chart: helm.Chart) -> None:
    rrsa = {"enabled": True, "roleName": "dts-exporter", "explicitConfig": False}
    r = render(chart, {"credentials": {"rrsa": rrsa}})
    annotations = r.one("ServiceAccount")["metadata"]["annotations"]
    assert annotations == {"pod-identity.alibabacloud.com/role-name": "dts-exporter"}
    pod = r.one("Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["pod-identity.alibabacloud.com/injection"] == "on"
    assert "env" not in r.container()
    assert {v["name"] for v in pod["spec"]["volumes"]} == {"config", "tmp"}


def test_existing_secret_with_own_key_names(rendered: dict[str, Rendered]) -> None:
    r = rendered["access-key-secret"]
    assert not r.all("Secret")
    refs = {name: e["valueFrom"]["secretKeyRef"] for name, e in _env(r.container()).items()}
    assert refs == {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": {"name": "dts-exporter-credentials", "key": "id"},
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": {"name": "dts-exporter-credentials", "key": "secret"},
        "ALIBABA_CLOUD_SECURITY_TOKEN": {
            "name": "dts-exporter-credentials",
            "key": "token",
            "optional": True,
        },
    }


def test_created_secret_and_its_checksum(chart: helm.Chart, rendered: dict[str, Rendered]) -> None:
    r = rendered["create-secret"]
    secret = r.one("Secret", FULLNAME)
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "accessKeyId": DEMO_ACCESS_KEY_ID,
        "accessKeySecret": DEMO_ACCESS_KEY_SECRET,
    }
    annotations = r.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    rotated = variant_values("create-secret")
    rotated["credentials"]["accessKeySecret"] = "rotated"
    rotated_annotations = render(chart, rotated).one("Deployment")["spec"]["template"]["metadata"]
    assert rotated_annotations["annotations"]["checksum/secret"] != annotations["checksum/secret"]
    assert rotated_annotations["annotations"]["checksum/config"] == annotations["checksum/config"]


def test_defaults_are_hardened(rendered: dict[str, Rendered]) -> None:
    r = rendered["defaults"]
    pod = r.pod_spec()
    for key, value in POD_SECURITY_FIELDS.items():
        assert pod["securityContext"][key] == value, key
    container = r.container()
    for key, value in SECURITY_FIELDS.items():
        assert container["securityContext"][key] == value, key
    assert pod["automountServiceAccountToken"] is False
    assert r.one("ServiceAccount")["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/dts-exporter"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert volumes[mounts["/etc/dts-exporter"]["name"]]["configMap"]["name"] == FULLNAME
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["image"] == f"{IMAGE_REPOSITORY}:{__version__}"
    assert container["args"] == ["serve", "--config", CONFIG_PATH, "--listen-address", ":9881"]
    # The helm test pod runs hardened too, and is not selected by the Service.
    hook = r.one("Pod")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert hook["spec"]["securityContext"] == pod["securityContext"]
    assert hook["spec"]["containers"][0]["securityContext"] == container["securityContext"]
    selector = r.one("Service")["spec"]["selector"]
    assert not selector.items() <= hook["metadata"]["labels"].items()


def test_default_config_and_its_checksum(chart: helm.Chart, rendered: dict[str, Rendered]) -> None:
    r = rendered["defaults"]
    text = r.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
    # Only the required region has a default; job discovery is off unless turned on.
    assert yaml.safe_load(text) == {"region": "cn-hangzhou"}
    checksum = r.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert checksum == hashlib.sha256(text.encode()).hexdigest()
    changed = render(chart, {"config": {"log_level": "debug"}})
    changed_text = changed.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
    assert yaml.safe_load(changed_text)["log_level"] == "debug"
    annotations = changed.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] == hashlib.sha256(changed_text.encode()).hexdigest()
    assert annotations["checksum/config"] != checksum


def test_the_config_is_rendered_as_given(chart: helm.Chart) -> None:
    """Nothing is merged into the user's config that changes what is monitored: no
    discovery unless asked for."""
    for config in (
        {"region": "cn-shanghai", "jobs": [{"id": "dtsx"}]},
        {"region": "cn-shanghai", "discovery": {"enabled": True, "regions": ["cn-beijing"]}},
    ):
        text = render(chart, {"config": config}).one("ConfigMap", FULLNAME)["data"]["config.yaml"]
        assert yaml.safe_load(text) == config
    # A null section (written for charts that merged a discovery block in) is the
    # exporter's "left out"; with no jobs either, NOTES says there is nothing to export.
    r = render(chart, {"config": {"region": "cn-shanghai", "discovery": None}})
    assert yaml.safe_load(r.one("ConfigMap", FULLNAME)["data"]["config.yaml"]) == {
        "region": "cn-shanghai",
        "discovery": None,
    }
    assert "there is nothing to export" in r.notes
    assert "nothing to export" not in render(chart, {"config": config}).notes


def test_the_image_repository_is_required(chart: helm.Chart) -> None:
    message = (
        "image.repository is required: build the image from this repository's Dockerfile "
        "and push it to your registry"
    )
    for values in (None, {"image": {"repository": ""}}):
        with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
            render(chart, values, image=False)
    for name in VARIANTS:
        assert variant_values(name)["image"]["repository"], name
    r = render(chart, {"image": {"registry": "registry.example.com", "repository": "team/x"}})
    assert r.container()["image"] == f"registry.example.com/team/x:{__version__}"


def test_helm_lint_refuses_a_typo_in_the_config() -> None:
    values = with_image(
        {"config": {"region": "cn-hangzhou", "jobs": [{"id": "a", "modify_task": []}]}}
    )
    report = helm.lint(CHART, values, strict=True, kube_version="v1.30.0", namespace=NAMESPACE)
    assert report["errors"], report
    assert all("/config/jobs/0" in e and "'modify_task' not allowed" in e for e in report["errors"])


def test_helm_validates_the_config_as_the_jsonschema_package_does(chart: helm.Chart) -> None:
    """Every case of tests/schemas.py through Helm's own validator (Go, patterns in RE2)
    and through `jsonschema`, on the config Helm hands the templates: they agree, but for
    a patterned value ending in a newline, which Python's `$` lets through and RE2 not."""
    assert chart.schema is not None
    validator = jsonschema.Draft7Validator(chart.schema)
    disagree = []
    for case in config_cases():
        values = with_image({"config": case.config})
        try:
            chart.validate_schema(values)  # merged over the defaults, as an install does
            helm_ok = True
        except helm.HelmValuesError:
            helm_ok = False
        python_ok = validator.is_valid(chart.merge_values(values))
        expected = (False, True) if case.expected == NEWLINE else (python_ok, python_ok)
        if (helm_ok, python_ok) != expected:
            disagree.append(f"{case.label}: helm {helm_ok}, jsonschema {python_ok}")
    assert disagree == []


def test_the_chart_readme_names_every_variant() -> None:
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing the chart", 1)[1].split("\n## ", 1)[0]
    assert [name for name in VARIANTS if f"`{name}`" not in section] == []


def test_hardened_extras_reach_the_pod(rendered: dict[str, Rendered]) -> None:
    r = rendered["hardened-extras"]
    values = variant_values("hardened-extras")
    deployment = r.one("Deployment")
    pod, container = r.pod_spec(), r.container()
    assert deployment["spec"]["replicas"] == 2
    pod_keys = ["nodeSelector", "tolerations", "affinity", "topologySpreadConstraints"]
    for key in [*pod_keys, "priorityClassName", "imagePullSecrets"]:
        assert pod[key] == values[key], key
    assert container["image"] == "registry.example.com/mirror/dts-exporter:0.1.0"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == values["resources"]
    env = _env(container)
    for item in values["extraEnv"]:
        assert env[item["name"]] == item
    assert container["envFrom"] == values["extraEnvFrom"]
    meta = deployment["spec"]["template"]["metadata"]
    assert meta["labels"]["cost-center"] == "dts" and meta["labels"]["team"] == "data-platform"
    assert meta["annotations"]["example.com/scrape-owner"] == "data-platform"
    assert "checksum/config" in meta["annotations"]
    for obj in r.objects:
        if obj["kind"] != "Pod":
            assert obj["metadata"]["labels"]["team"] == "data-platform", obj["kind"]
    pdb = r.one("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == r.one("Service")["spec"]["selector"]
    policy = r.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == r.one("Service")["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["from"] == values["networkPolicy"]["ingress"]["from"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    dns, https, extra = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and "to" not in dns
    assert https == {
        "ports": [{"port": 443, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "100.100.0.0/16"}}],
    }
    assert extra == values["networkPolicy"]["egress"]["extraRules"][0]


def test_unrestricted_egress_and_max_unavailable(chart: helm.Chart) -> None:
    r = render(
        chart,
        {
            "networkPolicy": {"enabled": True, "egress": {"enabled": False}},
            "podDisruptionBudget": {"enabled": True},
        },
    )
    policy = r.one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"] and "egress" not in policy
    assert r.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def _resolve_env(container: Manifest, r: Rendered) -> dict[str, str]:
    """The container's env as the kubelet would build it from the rendered objects."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        secret = r.one("Secret", ref["name"])
        if "stringData" in secret and ref["key"] in secret["stringData"]:
            env[item["name"]] = secret["stringData"][ref["key"]]
        elif ref["key"] in secret.get("data", {}):
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        else:
            assert ref.get("optional"), f"{ref} is not in the rendered Secret"
    return env


@pytest.mark.parametrize("variant", ["default", "create-secret"])
def test_static_job_variants_are_accepted_by_the_exporter(
    rendered: dict[str, Rendered], variant: str
) -> None:
    text = rendered[variant].one("ConfigMap", FULLNAME)["data"]["config.yaml"]
    config = yaml.safe_load(text)
    assert set(config) <= STATIC_CONFIG_KEYS
    parsed = parse_config(config, source="config.yaml")
    assert [job.id for job in parsed.jobs] == [job["id"] for job in config["jobs"]]


def test_the_chart_runs_the_exporter(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    """The create-secret variant's Deployment, Secret and ConfigMap, run for real."""
    r = rendered["create-secret"]
    container = r.container()
    pod = r.pod_spec()
    # The config file the args name is the ConfigMap's config.yaml, through the volume.
    args = list(container["args"])
    config_index = args.index("--config") + 1
    listen_index = args.index("--listen-address") + 1
    assert args[config_index] == CONFIG_PATH and args[listen_index] == ":9881"
    (mount,) = [m for m in container["volumeMounts"] if CONFIG_PATH.startswith(m["mountPath"])]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = r.one("ConfigMap", volume["configMap"]["name"])
    config = yaml.safe_load(configmap["data"][Path(CONFIG_PATH).name])
    env = _resolve_env(container, r)
    assert env == {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_ACCESS_KEY_SECRET,
    }
    assert {job["id"] for job in config["jobs"]} == {job.job_id for job in DEMO_JOBS}
    assert set(config) <= STATIC_CONFIG_KEYS

    simulator = start_simulator("127.0.0.1", 0)
    try:
        config["endpoint"] = simulator.url
        config_file = tmp_path / "config.yaml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        args[config_index] = str(config_file)
        args[listen_index] = f"127.0.0.1:{port}"
        exporter = Process(args, tmp_path / "exporter.log", env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            probes = [container["livenessProbe"], container["readinessProbe"]]
            exporter.wait_http(f"{base}{probes[0]['httpGet']['path']}")
            for probe in probes:
                assert probe["httpGet"]["port"] == "http"
                answer = requests.get(f"{base}{probe['httpGet']['path']}", timeout=5)
                assert (answer.status_code, answer.text) == (200, "ok\n")
            response = requests.get(f"{base}/metrics", timeout=30)
            assert response.status_code == 200, exporter.output()
            scrape = Scrape.from_text(response.text)
            for job in DEMO_JOBS:
                up = scrape.get("dts_up", action=INIT, job_id=job.job_id, task_id="")
                assert up == 1, (job.job_id, exporter.output())
                for task_id in job.task_ids:
                    up = scrape.get("dts_up", action=MODIFY, job_id=job.job_id, task_id=task_id)
                    assert up == 1, (task_id, exporter.output())
            # The `helm test` pod's own check, pointed at this exporter.
            hook = r.one("Pod")["spec"]["containers"][0]
            assert hook["command"][:2] == ["python", "-c"]
            hook_url = {e["name"]: e["value"] for e in hook["env"]}["DTS_EXPORTER_URL"]
            service = r.one("Service")
            service_port = service["spec"]["ports"][0]["port"]
            service_name = service["metadata"]["name"]
            assert hook_url == f"http://{service_name}.{NAMESPACE}.svc:{service_port}/metrics"
            check = subprocess.run(
                [sys.executable, "-c", hook["command"][2]],
                env={**os.environ, "DTS_EXPORTER_URL": f"{base}/metrics"},
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
            assert check.returncode == 0, check.stderr
            assert "HTTP 200" in check.stdout
        finally:
            assert exporter.stop() == 0, exporter.output()
    finally:
        simulator.close()


def test_the_image_matches_the_chart(rendered: dict[str, Rendered]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.split(None, 1) for line in dockerfile.splitlines() if line and line[0].isupper()
    ]
    final = {key: value for key, value in instructions if key != "FROM"}
    froms = [value for key, value in instructions if key == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS builder")
    assert json.loads(final["ENTRYPOINT"]) == ["dts-exporter"]
    assert json.loads(final["CMD"]) == ["serve", "--config", CONFIG_PATH]
    container, pod = rendered["defaults"].container(), rendered["defaults"].pod_spec()
    user, group = final["USER"].split(":")
    assert (int(user), int(group)) == (
        pod["securityContext"]["runAsUser"],
        pod["securityContext"]["runAsGroup"],
    )
    assert int(final["EXPOSE"]) == container["ports"][0]["containerPort"]
    assert "COPY --from=builder /opt/venv /opt/venv" in dockerfile
    assert "PYTHON_IMAGE=python:3.12-slim" in dockerfile
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "bench", "tests"} <= ignored
    # What the builder COPYs must not be ignored.
    assert not {"pyproject.toml", "README.md", "dts_exporter"} & ignored


# --- values.yaml documentation (helm-docs style) and the README's values table -----------


def documented_values() -> list[tuple[str, str, str, str]]:
    """(key path, type, default text, description) for every key with a `# --` comment.

    As helm-docs reads them: `# -- (type) text`, continued by the `#` lines after it;
    `# @default -- text` replaces the default shown; type and default are "" when not given.
    """
    entries: list[tuple[str, str, str, str]] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] | None = None
    default = ""
    for line in VALUES_FILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment, default = [stripped.removeprefix("# --").strip()], ""
        elif stripped.startswith("# @default --"):
            default = stripped.removeprefix("# @default --").strip()
        elif stripped.startswith("#"):
            if comment is not None:
                comment.append(stripped.removeprefix("#").strip())
        elif not stripped:
            comment = None
        elif match := re.match(r"^( *)([A-Za-z0-9_.-]+):", line):
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            if comment is not None:
                text = " ".join(comment)
                kind = ""
                if typed := re.match(r"^\(([^)]+)\)\s*(.*)$", text):
                    kind, text = typed.group(1), typed.group(2)
                entries.append((".".join(key for _, key in stack), kind, default, text))
            comment = None
    return entries


def _lookup(values: Any, path: str) -> Any:
    for key in path.split("."):
        values = values[key]
    return values


def _type_name(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}
    return names[type(value)]


def values_table() -> list[str]:
    values = yaml.safe_load(VALUES_FILE.read_text(encoding="utf-8"))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, kind, default, text in documented_values():
        value = _lookup(values, path)
        shown = default or f"`{json.dumps(value, separators=(',', ':'))}`"
        rows.append(f"| `{path}` | {kind or _type_name(value)} | {shown} | {text} |")
    return rows


def _leaf_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, f"{path}.")
        else:
            yield path


def test_every_value_is_documented() -> None:
    documented = {path for path, *_ in documented_values()}
    values = yaml.safe_load(VALUES_FILE.read_text(encoding="utf-8"))
    for leaf in _leaf_paths(values):
        parts = leaf.split(".")
        prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
        assert prefixes & documented, f"{leaf} has no '# --' comment"
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert set(values) <= set(schema["properties"])


def test_readme_values_table_matches_values_yaml() -> None:
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- values:start -->", 1)[1].split("<!-- values:end -->", 1)[0]
    assert [line for line in block.splitlines() if line.startswith("|")] == values_table()


def test_test_extra_installs_the_helm_tools() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    test_extra = pyproject.split("test = [", 1)[1].split("]", 1)[0]
    assert '"helm-python-sdk' in test_extra and '"kubernetes-validate' in test_extra


def test_sharding_runs_a_statefulset_whose_ordinal_is_the_shard(
    rendered: dict[str, Rendered],
) -> None:
    statefulset = rendered["sharding"].one("StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == FULLNAME
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-4:] == ["--shard-index", "hostname", "--shard-count", "3"]
    assert "--shard-index" not in rendered["default"].container()["args"]


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_each_statefulset_pod_takes_its_ordinal_as_shard(
    ordinal: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dts_exporter.cli.exporter import _shard  # noqa: PLC0415 - the CLI's own parsing

    monkeypatch.setenv("HOSTNAME", f"{FULLNAME}-{ordinal}")
    assert _shard("hostname", 3) == (ordinal, 3)


def test_a_web_config_can_be_mounted_and_passed(rendered: dict[str, Rendered]) -> None:
    r = rendered["hardened-extras"]
    assert r.container()["args"][-1] == "--web.config.file=/etc/dts-exporter-web/web.yml"
    mounts = {m["name"]: m for m in r.container()["volumeMounts"]}
    assert mounts["web-config"]["mountPath"] == "/etc/dts-exporter-web"
    volumes = {v["name"]: v for v in r.pod_spec()["volumes"]}
    assert volumes["web-config"]["secret"]["secretName"] == "dts-exporter-web-config"
    assert "web-config" not in {v["name"] for v in rendered["default"].pod_spec()["volumes"]}
