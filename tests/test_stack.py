"""The real stack: Debian's Prometheus and Alertmanager, the exporter, the simulator.

Prometheus scrapes two exporters, one on the built-in demo (six minutes in, for the
dashboard) and one on a scenario in which a table has failed. The demo's exporter is
scraped as job "dts-exporter", the name the shipped rules expect (the Helm chart's
default), beside a target on a port nothing listens on, so that DtsExporterDown fires and
DtsExporterAbsent must not. Prometheus loads the shipped rules, copied with every `for:`
shortened, and sends alerts to Alertmanager, which delivers them to a webhook receiver run
by this test.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml

from tests.conftest import DEMO_ENV, ROOT, load_fixture
from tests.dashboard import load_dashboard, panel_queries
from tests.procs import Process, free_port

# Runs Prometheus, Alertmanager, the simulator and exporters as processes.
pytestmark = pytest.mark.slow

RULES = ROOT / "alerts" / "dts-exporter.rules.yaml"
SCRAPE_SECONDS = 2
EXPORTER_JOB = "dts-exporter"  # the scrape job the shipped rules select
# `for:` in the stack: 4 s, except where the start of the stack needs longer. Prometheus may
# evaluate rules a few seconds before its first scrape (absent() is true until then), and
# a job's first checkpoint sample has no change to show until the next one.
STACK_FOR = {"DtsExporterAbsent": "30s", "DtsJobCheckpointStalled": "20s"}
SHORT_FOR = "4s"

# The demo's jobs (dts_exporter/simulator/data/job_health.yaml) and, per job alert and
# severity, those it fires for; it must stay silent for the other demo jobs. orders is
# healthy (its delay waves below 150 s); billing retries against destDB and expires in 3
# days; catalog's full verification found 3 differing rows; analytics is paused, its
# checkpoint frozen and its delay above 300 s and growing.
ORDERS, BILLING, CATALOG, ANALYTICS = (
    "dtsi01orders8x2k",
    "dtsi02billing5m7q",
    "dtsi03catalog3p9w",
    "dtsi04analytics6r1t",
)
DEMO_JOBS = (ORDERS, BILLING, CATALOG, ANALYTICS)
JOB_ALERTS: dict[tuple[str, str], set[str]] = {
    ("DtsJobFailed", "critical"): set(),
    ("DtsJobNotRunning", "warning"): {BILLING, ANALYTICS},
    ("DtsJobDelayHigh", "warning"): {ANALYTICS},
    ("DtsJobCheckpointStalled", "warning"): {ANALYTICS},
    ("DtsJobRetrying", "warning"): {BILLING},
    ("DtsDataVerificationDifferences", "warning"): {CATALOG},
    ("DtsJobExpiringSoon", "warning"): {BILLING},
    ("DtsJobExpiringSoon", "critical"): set(),
}
RATE_INTERVAL = (
    "20s"  # what Grafana's $__rate_interval is for 2 s scrapes: 4 x scrape, >= 2 samples
)
T = TypeVar("T")


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    message = f"{names[0]} is not installed: the test command installs Debian's packages"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def eventually(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result is not None:
                return result
        except (requests.RequestException, AssertionError, KeyError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last})")


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Stack:
    prometheus: str
    alertmanager: str
    webhook: list[dict[str, Any]]
    logs: list[Process]
    demo_instance: str  # job "dts-exporter", up
    dead_instance: str  # job "dts-exporter", nothing listens: up 0

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10
        )
        payload = response.json()
        assert payload["status"] == "success", f"{expr}: {payload}"
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result


def shortened_rules(tmp: Path) -> Path:
    """A copy of the shipped rules with every `for:` cut (STACK_FOR, else 4 s); the shipped
    file is untouched."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = STACK_FOR.get(rule["alert"], SHORT_FOR)
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def rule_count() -> int:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return sum(len(group["rules"]) for group in groups)


def webhook_alerts(stack: Stack, status: str = "firing") -> list[dict[str, Any]]:
    """Every alert delivered to the webhook so far with that status."""
    return [
        alert
        for notification in list(stack.webhook)
        for alert in notification["alerts"]
        if alert["status"] == status
    ]


def fired_in_prometheus(stack: Stack, selector: str) -> list[dict[str, str]]:
    """Labels of every alert that was firing at any time in the run (ALERTS series)."""
    result = stack.query(f'max_over_time(ALERTS{{alertstate="firing", {selector}}}[1h])')
    return [r["metric"] for r in result]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_bin = binary("prometheus")
    alertmanager_bin = binary("prometheus-alertmanager", "alertmanager")
    tmp = tmp_path_factory.mktemp("stack")
    processes: list[Process] = []
    received: list[dict[str, Any]] = []
    webhook_cls = type("Webhook", (_Webhook,), {"received": received})
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), webhook_cls)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    try:
        # the demo, six minutes in: failures, migrations, a walking modify task
        demo_port, dead_port = free_port(), free_port()
        demo = Process(
            ["demo", "--listen-address", f"127.0.0.1:{demo_port}", "--demo-offset", "360"],
            tmp / "demo.log",
        )
        processes.append(demo)

        # a scenario in which one table failed
        failing = load_fixture("describe_initialization_status.json")
        failing["DataInitializationDetails"].append(
            {
                "SourceOwnerDBName": "shop",
                "DestinationOwnerDBName": "shop",
                "TableName": "orders",
                "Status": "Failed",
                "TotalRowNum": "5000",
                "FinishRowNum": "1200",
                "UsedTime": "30.0",
                "ErrorMessage": "DTS-1020042 Execute sql error sql: Table 'orders' already exists",
            }
        )
        # and a modify task the service always throttles: the flow control learns a rate
        scenario = {
            "jobs": {"dtsfailing01": failing},
            "tasks": {"taskthrottled1": {"Status": "Migrating"}},
            "faults": {"taskthrottled1": [{"kind": "throttling"}]},
        }
        (tmp / "scenario.yaml").write_text(yaml.safe_dump(scenario))
        sim_port, fault_port = free_port(), free_port()
        sim = Process(
            [
                "simulate",
                "--listen-address",
                f"127.0.0.1:{sim_port}",
                "--scenario",
                str(tmp / "scenario.yaml"),
            ],
            tmp / "simulator.log",
        )
        processes.append(sim)
        sim.wait_http(f"http://127.0.0.1:{sim_port}/_simulator/requests")
        config = {
            "region": "cn-hangzhou",
            "endpoint": f"http://127.0.0.1:{sim_port}",
            "jobs": [{"id": "dtsfailing01", "name": "shop", "modify_tasks": ["taskthrottled1"]}],
        }
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        exporter = Process(
            [
                "serve",
                "--config",
                str(tmp / "config.yaml"),
                "--listen-address",
                f"127.0.0.1:{fault_port}",
            ],
            tmp / "exporter.log",
            env=DEMO_ENV,
        )
        processes.append(exporter)

        am_port = free_port()
        (tmp / "alertmanager.yml").write_text(
            yaml.safe_dump(
                {
                    "route": {
                        "receiver": "test",
                        "group_by": ["alertname", "job_id"],
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "test",
                            "webhook_configs": [
                                {"url": f"http://127.0.0.1:{webhook.server_address[1]}/hook"}
                            ],
                        }
                    ],
                }
            )
        )
        alertmanager = Process(
            [
                "--config.file",
                str(tmp / "alertmanager.yml"),
                "--storage.path",
                str(tmp / "am-data"),
                "--web.listen-address",
                f"127.0.0.1:{am_port}",
                "--cluster.listen-address",
                "",
            ],
            tmp / "alertmanager.log",
            executable=alertmanager_bin,
        )
        processes.append(alertmanager)

        prom_port = free_port()
        scrape = {"scrape_interval": f"{SCRAPE_SECONDS}s", "scrape_timeout": f"{SCRAPE_SECONDS}s"}
        (tmp / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {**scrape, "evaluation_interval": "1s"},
                    "rule_files": [str(shortened_rules(tmp))],
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": EXPORTER_JOB,
                            "static_configs": [
                                {
                                    "targets": [
                                        f"127.0.0.1:{demo_port}",
                                        f"127.0.0.1:{dead_port}",
                                    ]
                                }
                            ],
                        },
                        {
                            "job_name": "dts-fault",
                            "static_configs": [{"targets": [f"127.0.0.1:{fault_port}"]}],
                        },
                    ],
                }
            )
        )
        prometheus = Process(
            [
                "--config.file",
                str(tmp / "prometheus.yml"),
                "--storage.tsdb.path",
                str(tmp / "prom-data"),
                "--web.listen-address",
                f"127.0.0.1:{prom_port}",
            ],
            tmp / "prometheus.log",
            executable=prometheus_bin,
        )
        processes.append(prometheus)
        for process, url in [
            (demo, f"http://127.0.0.1:{demo_port}/healthz"),
            (exporter, f"http://127.0.0.1:{fault_port}/healthz"),
            (alertmanager, f"http://127.0.0.1:{am_port}/-/ready"),
            (prometheus, f"http://127.0.0.1:{prom_port}/-/ready"),
        ]:
            process.wait_http(url, timeout=60)
        yield Stack(
            prometheus=f"http://127.0.0.1:{prom_port}",
            alertmanager=f"http://127.0.0.1:{am_port}",
            webhook=received,
            logs=processes,
            demo_instance=f"127.0.0.1:{demo_port}",
            dead_instance=f"127.0.0.1:{dead_port}",
        )
    finally:
        for process in reversed(processes):
            process.stop()
        webhook.shutdown()


def test_targets_are_up(stack: Stack) -> None:
    def scraped() -> dict[str, str] | None:
        result = {r["metric"]["instance"]: r["value"][1] for r in stack.query("up")}
        return result if len(result) == 3 else None

    up = eventually(scraped, 60, "all three targets scraped")
    assert up.pop(stack.dead_instance) == "0"
    assert set(up.values()) == {"1"}, "both exporters are up"


def test_rules_load_and_evaluate_without_errors(stack: Stack) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = requests.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"][
            "groups"
        ]
        rules = [rule for group in groups for rule in group["rules"]]
        if len(rules) != rule_count() or any(r["lastEvaluation"].startswith("0001") for r in rules):
            return None
        return rules

    rules = eventually(evaluated, 60, "every rule to be evaluated")
    errors = {r["name"]: r["lastError"] for r in rules if r["health"] != "ok" or r.get("lastError")}
    assert errors == {}


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    queries = panel_queries(
        load_dashboard(),
        {
            "job": ".*",
            "instance": ".*",
            "job_id": ".*",
            "__rate_interval": RATE_INTERVAL,
            "__interval": f"{SCRAPE_SECONDS}s",
            "__range": "5m",
        },
    )
    assert len(queries) >= 15

    def all_have_data() -> dict[str, int] | None:
        counts = {f"{title}: {expr}": len(stack.query(expr)) for title, expr in queries}
        return counts if all(counts.values()) else None

    try:
        eventually(all_have_data, 90, "every dashboard query to return data")
    except AssertionError:
        empty = [
            key for key, n in ((f"{t}: {e}", len(stack.query(e))) for t, e in queries) if not n
        ]
        raise AssertionError(f"dashboard queries without data: {empty}") from None


def test_failed_table_alert_reaches_alertmanager_and_the_webhook(stack: Stack) -> None:
    def delivered() -> dict[str, Any] | None:
        for notification in stack.webhook:
            alert: dict[str, Any]
            for alert in notification["alerts"]:
                labels = alert["labels"]
                if (
                    labels.get("alertname") == "DtsTableDataInitializationFailed"
                    and labels.get("job_id") == "dtsfailing01"
                ):
                    return alert
        return None

    alert = eventually(delivered, 90, "DtsTableDataInitializationFailed at the webhook")
    assert alert["status"] == "firing"
    assert alert["labels"]["table"] == "orders" and alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["runbook_url"].endswith("#dtstabledatainitializationfailed")
    assert "shop.orders" in alert["annotations"]["description"]
    # the healthy table of the same job raises nothing
    assert not any(
        a["labels"].get("table") == "customer"
        and a["labels"].get("alertname") == "DtsTableDataInitializationFailed"
        for n in stack.webhook
        for a in n["alerts"]
    )
    active = requests.get(f"{stack.alertmanager}/api/v2/alerts", timeout=10).json()
    assert any(a["labels"]["alertname"] == "DtsTableDataInitializationFailed" for a in active)


def test_exporter_down_fires_for_a_dead_target_and_absent_stays_silent(stack: Stack) -> None:
    def delivered() -> dict[str, Any] | None:
        for alert in webhook_alerts(stack):
            labels = alert["labels"]
            if labels["alertname"] == "DtsExporterDown":
                return alert
        return None

    alert = eventually(delivered, 60, "DtsExporterDown at the webhook")
    assert alert["labels"]["instance"] == stack.dead_instance
    assert alert["labels"]["job"] == EXPORTER_JOB
    assert alert["labels"]["severity"] == "critical"
    assert stack.dead_instance in alert["annotations"]["description"]
    assert alert["annotations"]["runbook_url"].endswith("#dtsexporterdown")
    # The exporter that answers is not down, and its job is not absent: not now, not ever.
    assert stack.query(f'absent(up{{job="{EXPORTER_JOB}"}})') == []
    down = fired_in_prometheus(stack, 'alertname="DtsExporterDown"')
    assert {labels["instance"] for labels in down} == {stack.dead_instance}
    assert fired_in_prometheus(stack, 'alertname="DtsExporterAbsent"') == []
    assert not [
        a
        for a in webhook_alerts(stack)
        if a["labels"]["alertname"] == "DtsExporterAbsent"
        or (
            a["labels"]["alertname"] == "DtsExporterDown"
            and a["labels"]["instance"] != stack.dead_instance
        )
    ]


def _demo_job_alerts(alerts: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    """(alertname, severity, job_id) of the job alerts among `alerts` for the demo's jobs."""
    return {
        (labels["alertname"], labels["severity"], labels["job_id"])
        for labels in alerts
        if labels.get("job") == EXPORTER_JOB
        and labels.get("job_id") in DEMO_JOBS
        and (labels["alertname"], labels.get("severity", "")) in JOB_ALERTS
    }


EXPECTED_JOB_ALERTS = {
    (name, severity, job_id) for (name, severity), ids in JOB_ALERTS.items() for job_id in ids
}


def test_job_alerts_fire_for_the_demos_bad_jobs(stack: Stack) -> None:
    def delivered() -> dict[tuple[str, str, str], dict[str, Any]] | None:
        found = {
            (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["job_id"]): a
            for a in webhook_alerts(stack)
            if a["labels"].get("job") == EXPORTER_JOB and "job_id" in a["labels"]
        }
        return found if set(found) >= EXPECTED_JOB_ALERTS else None

    found = eventually(delivered, 120, f"{sorted(EXPECTED_JOB_ALERTS)} at the webhook")
    for key in sorted(EXPECTED_JOB_ALERTS):
        name, _, job_id = key
        alert = found[key]
        assert alert["annotations"]["runbook_url"].endswith("#" + name.lower())
        assert job_id in alert["annotations"]["description"]
        assert alert["labels"]["name"], f"{name} {job_id}: no name from dts_job_info"
    retrying = found[("DtsJobRetrying", "warning", BILLING)]["annotations"]["description"]
    assert "against destDB (module 03)" in retrying
    verification = found[("DtsDataVerificationDifferences", "warning", CATALOG)]
    assert verification["labels"]["check_type"] == "full"
    assert " found 3 row(s) " in verification["annotations"]["description"]
    not_running = found[("DtsJobNotRunning", "warning", ANALYTICS)]
    assert not_running["labels"]["status"] == "Suspending"
    assert found[("DtsJobNotRunning", "warning", BILLING)]["labels"]["status"] == "Retrying"
    expiring = found[("DtsJobExpiringSoon", "warning", BILLING)]["annotations"]["description"]
    assert "expires in 2d " in expiring


def test_job_alerts_stay_silent_for_the_healthy_jobs(stack: Stack) -> None:
    """Runs after the alerts above have fired: over the whole run, Prometheus fired each
    job alert for exactly the demo jobs it should, and the webhook saw no other."""
    fired = _demo_job_alerts(fired_in_prometheus(stack, f'job="{EXPORTER_JOB}"'))
    assert fired == EXPECTED_JOB_ALERTS
    delivered = _demo_job_alerts([a["labels"] for a in webhook_alerts(stack)])
    assert delivered == EXPECTED_JOB_ALERTS
    # what a healthy job looks like in the series behind those alerts
    assert stack.query(f'dts_job_status{{job_id="{ORDERS}", status="Synchronizing"}} == 1')
    assert stack.query(f'dts_job_delay_seconds{{job_id="{ORDERS}"}} < 300')
