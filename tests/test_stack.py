"""The real stack: Debian's Prometheus and Alertmanager, the exporter, the simulator.

Prometheus scrapes two exporters, one on the built-in demo (six minutes in, for the
dashboard) and one on a scenario in which a table has failed. It loads the shipped rules,
copied with every `for:` shortened, and sends alerts to Alertmanager, which delivers them
to a webhook receiver run by this test.
"""

from __future__ import annotations

import json
import os
import re
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

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10
        )
        payload = response.json()
        assert payload["status"] == "success", f"{expr}: {payload}"
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result


def shortened_rules(tmp: Path) -> Path:
    """A copy of the shipped rules with every `for:` cut to 4 s; the shipped file is untouched."""
    text = re.sub(r"(\n\s+for: )\S+", r"\g<1>4s", RULES.read_text(encoding="utf-8"))
    path = tmp / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


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
        demo_port = free_port()
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
        (tmp / "scenario.yaml").write_text(yaml.safe_dump({"jobs": {"dtsfailing01": failing}}))
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
            "jobs": [{"id": "dtsfailing01", "name": "shop"}],
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
                            "job_name": "dts-demo",
                            "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}],
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
        )
    finally:
        for process in reversed(processes):
            process.stop()
        webhook.shutdown()


def test_targets_are_up(stack: Stack) -> None:
    def both_up() -> list[dict[str, Any]] | None:
        result = stack.query("up")
        return result if len(result) == 2 and all(r["value"][1] == "1" for r in result) else None

    eventually(both_up, 60, "both exporter targets up")


def test_rules_load_and_evaluate_without_errors(stack: Stack) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = requests.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"][
            "groups"
        ]
        rules = [rule for group in groups for rule in group["rules"]]
        if len(rules) != 14 or any(r["lastEvaluation"].startswith("0001") for r in rules):
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
