"""The fault matrix: every way the DTS API (or the way to it) can fail, for both actions,
through real processes. One simulator serves every case; faults are switched at run time
through `PUT /_simulator/faults`, one job and one modify task per fault kind, so each case
also proves that every other id stays intact. For each case: `/metrics` answers 200 within
the announced scrape timeout, the affected ids read `dts_up 0` with the right code
counted, every other id reads `dts_up 1` with its data, the next scrape after the fault is
cleared recovers, and the exporter process never dies.

Cases that cannot be confined to one id (connection refused, an unresolvable endpoint,
credentials expiring) run their own exporter beside the shared one.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import DtsApiError
from dts_exporter.wire import transport
from tests.conftest import DEMO_ENV, Scrape, load_fixture, make_tables
from tests.procs import Process, free_port

pytestmark = pytest.mark.slow  # starts the simulator and exporters as processes

ROLE = "acs:ram::1111111111111111:role/dts-reader"
PROVIDER = "acs:ram::1111111111111111:oidc-provider/ack-rrsa-c0ffee"
LIFETIME = 6.0  # seconds: the simulator's temporary credentials
SCRAPE_TIMEOUT = 5.0  # what each scrape announces as Prometheus's scrape timeout
TABLES = 5  # one page
PAGED_TABLES = 230  # three pages of 100, for the page-2 case
HUGE_TABLES = 20_000
HUGE_SCRAPE_TIMEOUT = 30.0  # 200 pages of 100 tables, one after the other

# Fault case -> (the fault, the code both actions must report). The page-2 case applies to
# the job only: modify-status calls are not paged.
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "throttling": ({"kind": "throttling", "retry_after_ms": 50}, "Throttling.User"),
    "internal": ({"kind": "internal_error"}, "InternalError"),
    "unavailable": ({"kind": "service_unavailable"}, "ServiceUnavailable"),
    "slow": ({"kind": "latency", "seconds": 3}, "Timeout"),
    "reset": ({"kind": "reset"}, "ConnectionError"),
    "malformed": ({"kind": "malformed"}, "InvalidResponse"),
    "truncated": ({"kind": "truncated"}, "InvalidResponse"),
    "html": ({"kind": "html"}, "HTTP502"),
    "successfalse": ({"kind": "success_false"}, "InternalError"),
    "page2": ({"kind": "throttling", "pages": [2]}, "Throttling.User"),
}

# Every field of both answers holds a value of the wrong type (within what a scenario can
# hold: the lists are lists of objects and the stages are objects, as the simulator insists).
WRONG_JOB: dict[str, Any] = {
    "DataInitializationDetails": [
        {
            "SourceOwnerDBName": ["shop"],
            "DestinationOwnerDBName": {"name": "shop"},
            "TableName": [1, 2],
            "Status": {"Status": "Finished"},
            "TotalRowNum": {"rows": 5},
            "FinishRowNum": ["3"],
            "UsedTime": True,
            "ErrorMessage": {"message": "DTS-1020042"},
        },
        {
            "SourceOwnerDBName": True,
            "DestinationOwnerDBName": [],
            "TableName": {},
            "Status": 7,
            "TotalRowNum": "abc",
            "FinishRowNum": "NaN",
            "UsedTime": "1e999",
            "ErrorMessage": [None],
        },
    ],
    "StructureInitializationDetails": [
        {
            "SourceOwnerDBName": {},
            "DestinationOwnerDBName": [None],
            "ObjectName": ["orders"],
            "ObjectType": {"type": "Table"},
            "Status": ["Failed"],
            "ErrorMessage": {"e": 1},
            "Constraints": [{"ObjectName": {}, "ObjectType": [], "Status": {}, "ErrorMessage": []}],
        }
    ],
    "DataSynchronizationDetails": [
        {
            "SourceOwnerDBName": [],
            "DestinationOwnerDBName": {},
            "TableName": False,
            "Status": [[]],
            "ErrorMessage": {"x": [1]},
        }
    ],
}
WRONG_TASK: dict[str, Any] = {
    "Status": ["Migrating"],
    "ErrorMessage": {"message": "java.lang.NullPointerException"},
    "PrecheckStatus": {
        "Status": {"s": 1},
        "Percent": ["100"],
        "Detail": [
            {
                "ItemName": ["CHECK_CONN_SRC"],
                "CheckStatus": {"ok": True},
                "ErrorMessage": [1],
                "RepairMethod": {"how": "?"},
            }
        ],
    },
    "StructureInitializationStatus": {"Status": [], "Percent": {}, "Progress": [3]},
    "DataInitializationStatus": {"Status": True, "Percent": "forty", "Progress": {"rows": 1}},
    "DataSynchronizationStatus": {"Status": 3.5, "Percent": [None], "Delay": {"seconds": 4}},
}


def tables(case: str) -> int:
    return PAGED_TABLES if case == "page2" else TABLES


JOB_DATA = ("dts_data_", "dts_structure_")


def job_of(case: str) -> str:
    return f"dtsfm{case}"


def task_of(case: str) -> str:
    return f"taskfm{case}"


@dataclass
class Exporter:
    url: str
    process: Process
    config: dict[str, Any] = field(default_factory=dict)
    last: Scrape | None = None

    def scrape(self, scrape_timeout: float = SCRAPE_TIMEOUT) -> tuple[Scrape, str]:
        """One scrape as Prometheus does it: 200 within the announced timeout."""
        started = time.monotonic()
        response = requests.get(
            f"{self.url}/metrics",
            headers={"X-Prometheus-Scrape-Timeout-Seconds": str(scrape_timeout)},
            timeout=scrape_timeout + 1,
        )
        took = time.monotonic() - started
        assert response.status_code == 200, response.text[:500]
        assert took < scrape_timeout, f"scrape took {took:.2f}s"
        assert self.process.proc.poll() is None, self.process.output()
        self.last = Scrape.from_text(response.text)
        return self.last, response.text


@dataclass
class Stack:
    sim_url: str
    tmp: Path
    token: Path
    main: Exporter
    start: Any  # (config, env) -> Exporter

    def faults(self, faults: dict[str, Any]) -> None:
        response = requests.put(f"{self.sim_url}/_simulator/faults", json=faults, timeout=5)
        assert response.status_code == 204, response.text


def _start_exporter(tmp: Path, name: str, config: dict[str, Any], env: dict[str, str]) -> Exporter:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    process = Process(
        ["serve", "--config", str(path), "--listen-address", f"127.0.0.1:{port}"],
        tmp / f"{name}.log",
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/healthz")
    return Exporter(url, process, config)


def _config(endpoint: str, jobs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "region": "cn-hangzhou",
        "endpoint": endpoint,
        "timeout_seconds": 1,
        "scrape_timeout_seconds": 4,
        "max_retries": 1,
        "max_requests_per_second": 0,
        # Finished jobs are otherwise reused for 10 minutes: every scrape must call.
        "settled_refresh_seconds": 0,
        "jobs": jobs,
        **extra,
    }


MAIN_JOBS: list[dict[str, Any]] = [
    {"id": "dtsgood", "name": "orders", "modify_tasks": ["taskgood"]},
    {"id": "dtswrong", "modify_tasks": ["taskwrong"]},
    *({"id": job_of(case), "modify_tasks": [task_of(case)]} for case in CASES),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("faultmatrix")
    token = tmp / "rrsa-token"
    token.write_text("oidc-token-1\n")
    jobs: dict[str, Any] = {
        "dtsgood": load_fixture("describe_initialization_status.json"),
        "dtswrong": WRONG_JOB,
        "dtshuge": {"DataInitializationDetails": make_tables(HUGE_TABLES, status="Finished")},
    }
    tasks: dict[str, Any] = {
        "taskgood": load_fixture("describe_modify_status.json"),
        "taskwrong": WRONG_TASK,
    }
    for case in CASES:
        jobs[job_of(case)] = {"DataInitializationDetails": make_tables(tables(case))}
        tasks[task_of(case)] = load_fixture("describe_modify_status.json")
    scenario = tmp / "scenario.json"  # JSON: 20,000 tables load in a blink, YAML takes 20 s
    scenario.write_text(json.dumps({"jobs": jobs, "tasks": tasks}), encoding="utf-8")
    port = free_port()
    sim = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--scenario",
            str(scenario),
            "--role-arn",
            ROLE,
            "--oidc-provider-arn",
            PROVIDER,
            "--oidc-token-file",
            str(token),
            "--sts-duration-seconds",
            str(LIFETIME),
        ],
        tmp / "simulator.log",
    )
    sim_url = f"http://127.0.0.1:{port}"
    sim.wait_http(f"{sim_url}/_simulator/requests", timeout=60)
    started: list[Exporter] = []

    def start(name: str, config: dict[str, Any], env: dict[str, str]) -> Exporter:
        exporter = _start_exporter(tmp, name, config, env)
        started.append(exporter)
        return exporter

    main = start("main", _config(sim_url, MAIN_JOBS), DEMO_ENV)
    yield Stack(sim_url, tmp, token, main, start)
    for exporter in started:
        assert exporter.process.proc.poll() is None, exporter.process.output()
        assert exporter.process.stop() == 0, exporter.process.output()
    sim.stop()


# -- what every case checks -----------------------------------------------------------------


def _table_count(data: Scrape, job_id: str) -> float:
    return sum(
        data.get("dts_data_initialization_tables", job_id=job_id, status=status) or 0.0
        for status in ("NotStarted", "Migrating", "Failed", "Finished")
    )


def _task_intact(data: Scrape, job_id: str, task_id: str) -> bool:
    return (
        data.get("dts_up", action=MODIFY, job_id=job_id, task_id=task_id) == 1
        and data.get("dts_modify_task_status", job_id=job_id, task_id=task_id, status="Migrating")
        == 1
        and data.get(
            "dts_modify_precheck_items", job_id=job_id, task_id=task_id, check_status="Success"
        )
        is not None
    )


def assert_intact(data: Scrape, *, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every id of the main exporter except those in `skip` is up, with its data."""
    for job in MAIN_JOBS:
        job_id = job["id"]
        if job_id not in skip:
            assert data.get("dts_up", action=INIT, job_id=job_id, task_id="") == 1, job_id
            if job_id == "dtsgood":
                assert _table_count(data, job_id) == 1
                assert (
                    data.get(
                        "dts_structure_initialization_constraints", job_id=job_id, status="Finished"
                    )
                    is not None
                )
            elif job_id.startswith("dtsfm"):
                assert _table_count(data, job_id) == tables(job_id[5:]), job_id
        for task_id in job["modify_tasks"]:
            if task_id not in skip and task_id != "taskwrong":
                assert _task_intact(data, job_id, task_id), task_id


def _requests(data: Scrape, action: str, code: str) -> float:
    return data.get("dts_exporter_api_requests_total", action=action, code=code) or 0.0


def _series_of(text: str, job_id: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if not line.startswith("#") and f'job_id="{job_id}"' in line
    ]


def _failure_logged(exporter: Exporter, action: str, job_id: str, task_id: str, code: str) -> bool:
    pattern = re.compile(
        rf'msg="DTS call failed" action={action} job_id={job_id} task_id={task_id} '
        rf"code={re.escape(code)} "
    )
    return any(pattern.search(line) for line in exporter.process.output().splitlines())


# -- the matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_fault(stack: Stack, case: str) -> None:
    fault, code = CASES[case]
    job_id, task_id = job_of(case), task_of(case)
    paged = "pages" in fault
    before = stack.main.last or stack.main.scrape()[0]
    assert_intact(before)

    stack.faults({job_id: [fault], task_id: [fault]})
    data, text = stack.main.scrape()
    # The job: down, its code counted and logged, none of its (partial) data exported.
    assert data.get("dts_up", action=INIT, job_id=job_id, task_id="") == 0
    assert _requests(data, INIT, code) > _requests(before, INIT, code)
    assert _failure_logged(stack.main, INIT, job_id, "", code)
    assert [line for line in _series_of(text, job_id) if line.startswith(JOB_DATA)] == []
    # The task: down with the same code, except for a page-2 fault, which a task never has.
    if paged:
        assert _task_intact(data, job_id, task_id)
    else:
        assert data.get("dts_up", action=MODIFY, job_id=job_id, task_id=task_id) == 0
        assert _requests(data, MODIFY, code) > _requests(before, MODIFY, code)
        assert _failure_logged(stack.main, MODIFY, job_id, task_id, code)
        assert not any(
            line.startswith("dts_modify_") and f'task_id="{task_id}"' in line
            for line in text.splitlines()
        )
    # Everyone else: intact.
    assert_intact(data, skip={job_id, task_id})

    stack.faults({})
    after, _ = stack.main.scrape()
    assert_intact(after)


def test_page_two_of_three_fails_after_page_one_succeeded(stack: Stack) -> None:
    """Pages 1 and 3 answer; page 2 does not: the job exports nothing of pages 1 and 3."""
    job_id = job_of("page2")
    counts = requests.get(f"{stack.sim_url}/_simulator/requests", timeout=5).json()
    stack.faults({job_id: [{"kind": "internal_error", "pages": [2]}]})
    data, text = stack.main.scrape()
    after = requests.get(f"{stack.sim_url}/_simulator/requests", timeout=5).json()
    assert after[INIT] > counts[INIT]
    assert data.get("dts_up", action=INIT, job_id=job_id, task_id="") == 0
    assert data.get("dts_data_initialization_tables", job_id=job_id, status="Migrating") is None
    assert not any(line.startswith("dts_data_") for line in _series_of(text, job_id))
    stack.faults({})
    data, _ = stack.main.scrape()
    assert _table_count(data, job_id) == PAGED_TABLES


def test_wrong_types_in_every_field(stack: Stack) -> None:
    """Unusable values are skipped and counted, never exported as invented numbers; the
    usable rest is exported and the ids stay up (a list that is not a list would instead
    be InvalidResponse: see test_fuzz)."""
    data, text = stack.main.scrape()
    assert data.get("dts_up", action=INIT, job_id="dtswrong", task_id="") == 1
    assert data.get("dts_up", action=MODIFY, job_id="dtswrong", task_id="taskwrong") == 1
    for action in (INIT, MODIFY):
        problems = data.get("dts_exporter_response_problems_total", action=action)
        assert problems is not None and problems >= 10, action
    series = _series_of(text, "dtswrong")
    for prefix in (
        "dts_data_initialization_expected_rows",
        "dts_data_initialization_synced_rows",
        "dts_data_initialization_row_gap",
        "dts_data_initialization_duration_seconds",
        "dts_modify_stage_progress_ratio",
        "dts_modify_data_synchronization_delay_seconds",
        "dts_modify_structure_initialization_tables",
        "dts_modify_data_initialization_rows",
    ):
        assert not any(line.startswith(prefix) for line in series), prefix
    assert not any(line.endswith(("NaN", " Inf", " +Inf", " -Inf")) for line in series)
    # Two table entries whose names are unusable collapse into one (db "", table ""),
    # counted as status Unknown / Other rather than dropped silently.
    assert _table_count(data, "dtswrong") == 0
    assert (
        data.get("dts_data_initialization_tables", job_id="dtswrong", status="Unknown") or 0
    ) + (data.get("dts_data_initialization_tables", job_id="dtswrong", status="Other") or 0) >= 1
    assert_intact(data)


def test_huge_job_is_paged_and_parsed(stack: Stack) -> None:
    big = stack.start(
        "huge",
        _config(
            stack.sim_url,
            [{"id": "dtshuge"}, {"id": "dtsgood", "modify_tasks": ["taskgood"]}],
            timeout_seconds=5,
            scrape_timeout_seconds=HUGE_SCRAPE_TIMEOUT - 1,
        ),
        DEMO_ENV,
    )
    data, text = big.scrape(HUGE_SCRAPE_TIMEOUT)
    assert data.get("dts_up", action=INIT, job_id="dtshuge", task_id="") == 1
    assert (
        data.get("dts_data_initialization_tables", job_id="dtshuge", status="Finished")
        == HUGE_TABLES
    )
    assert (
        data.get(
            "dts_data_initialization_row_gap",
            job_id="dtshuge",
            source_db="shop",
            dest_db="shop",
            table=f"t{HUGE_TABLES - 1:05d}",
        )
        == 500
    )
    assert (
        sum(
            1
            for line in text.splitlines()
            if line.startswith("dts_data_initialization_synced_rows{")
            and 'job_id="dtshuge"' in line
        )
        == HUGE_TABLES
    )
    assert _requests(data, INIT, "Success") >= HUGE_TABLES // 100 + 1
    assert data.get("dts_up", action=MODIFY, job_id="dtsgood", task_id="taskgood") == 1
    # (A failing page of a paged job is test_page_two_of_three_fails_after_page_one_succeeded:
    # at 200 sequential pages, one scrape of this job costs ~10 s on a 2-core machine.)


def test_connection_refused_then_the_service_comes_back(stack: Stack) -> None:
    port = free_port()  # nothing listens there (yet)
    jobs = [{"id": "dtsgood", "modify_tasks": ["taskgood"]}]
    refused = stack.start("refused", _config(f"http://127.0.0.1:{port}", jobs), DEMO_ENV)
    data, _ = refused.scrape()
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 0
    assert data.get("dts_up", action=MODIFY, job_id="dtsgood", task_id="taskgood") == 0
    assert _requests(data, INIT, "ConnectionError") >= 1
    assert _requests(data, MODIFY, "ConnectionError") >= 1
    assert _failure_logged(refused, INIT, "dtsgood", "", "ConnectionError")
    assert "Connection refused" in refused.process.output()
    # Meanwhile the shared exporter is untouched.
    assert_intact(stack.main.scrape()[0])
    # The service starts listening: the next scrape recovers.
    revived = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--scenario",
            str(stack.tmp / "scenario.json"),
        ],
        stack.tmp / "revived.log",
    )
    try:
        revived.wait_http(f"http://127.0.0.1:{port}/_simulator/requests", timeout=60)
        data, _ = refused.scrape()
        assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1
        assert _task_intact(data, "dtsgood", "taskgood")
    finally:
        revived.stop()


def test_unresolvable_endpoint(stack: Stack) -> None:
    # `.invalid` is reserved (RFC 2606): resolvers answer NXDOMAIN without asking anyone.
    jobs = [{"id": "dtsgood", "modify_tasks": ["taskgood"]}]
    lost = stack.start("unresolvable", _config("http://nonexistent.invalid:1", jobs), DEMO_ENV)
    for _ in range(2):  # and again: nothing sticks, nothing dies
        data, _ = lost.scrape()
        assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 0
        assert data.get("dts_up", action=MODIFY, job_id="dtsgood", task_id="taskgood") == 0
        assert _requests(data, INIT, "ConnectionError") >= 1
        assert _requests(data, MODIFY, "ConnectionError") >= 1
    assert "NameResolutionError" in lost.process.output() or "gaierror" in lost.process.output()


def test_credentials_expire_mid_run(stack: Stack) -> None:
    """RRSA: temporary credentials live 6 s; the token file becomes unreadable, so the
    refresh fails and, once the credentials expire, every id reads dts_up 0 with the
    refresh counted by its code; a readable token again recovers on the next scrape."""
    env = {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(stack.token),
    }
    jobs: list[dict[str, Any]] = [
        {"id": "dtsgood", "modify_tasks": ["taskgood"]},
        {"id": job_of("internal")},
    ]
    rrsa = stack.start("rrsa", _config(stack.sim_url, jobs, sts_endpoint=stack.sim_url), env)
    fetched = time.monotonic()
    data, _ = rrsa.scrape()
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1
    assert _task_intact(data, "dtsgood", "taskgood")
    ok = data.get("dts_exporter_credential_refreshes_total", provider="rrsa_oidc", code="Success")
    assert ok is not None and ok >= 1

    # The token file becomes unreadable (a directory where the file was: even root cannot
    # read it as a file).
    stack.token.unlink()
    stack.token.mkdir()
    try:
        time.sleep(max(0.0, fetched + LIFETIME + 1.0 - time.monotonic()))
        data, _ = rrsa.scrape()
        assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 0
        assert data.get("dts_up", action=INIT, job_id=job_of("internal"), task_id="") == 0
        assert data.get("dts_up", action=MODIFY, job_id="dtsgood", task_id="taskgood") == 0
        failed = data.get(
            "dts_exporter_credential_refreshes_total",
            provider="rrsa_oidc",
            code="CredentialsUnavailable",
        )
        assert failed is not None and failed >= 1
        # The shared exporter (static keys) does not care.
        assert_intact(stack.main.scrape()[0])
    finally:
        stack.token.rmdir()
        stack.token.write_text("oidc-token-2\n")
    data, _ = rrsa.scrape()
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1
    assert _task_intact(data, "dtsgood", "taskgood")
    assert "oidc-token-" not in rrsa.process.output()


def test_every_exporter_survived(stack: Stack) -> None:
    data, _ = stack.main.scrape()
    assert_intact(data)
    assert stack.main.process.proc.poll() is None
    assert "Traceback" not in stack.main.process.output()


# -- a body that stalls or drips (transport-level, in-process) -------------------------------


@contextlib.contextmanager
def _stalling_server(pieces: int, piece: bytes, pause: float) -> Iterator[str]:
    """An HTTP server that announces `pieces * len(piece)` bytes and sends them one piece
    every `pause` seconds (and then, if `pieces` is short of it, nothing more)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                length = 2 * pieces * len(piece)  # promise twice what is sent
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {length}\r\n\r\n".encode()
                )
                for _ in range(pieces):
                    if stop.wait(pause):
                        return
                    with contextlib.suppress(OSError):
                        conn.sendall(piece)
                stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_body_that_stops_arriving_is_a_timeout_not_a_connection_error() -> None:
    # requests raises ConnectionError(ReadTimeoutError) when the body stalls: still a timeout.
    with _stalling_server(1, b"{" * 100, 0.0) as url:
        started = time.monotonic()
        with pytest.raises(DtsApiError) as caught:
            transport.send(transport.new_session(4), "GET", url, timeout=0.5, action=INIT)
    assert caught.value.code == "Timeout"
    assert time.monotonic() - started < 3


def test_a_body_that_drips_is_cut_off_at_the_timeout() -> None:
    # Each piece arrives well within the socket timeout, but the whole would take 6 s.
    with _stalling_server(60, b" " * 65536, 0.1) as url:
        started = time.monotonic()
        with pytest.raises(DtsApiError) as caught:
            transport.send(transport.new_session(4), "GET", url, timeout=0.5, action=INIT)
    assert caught.value.code == "Timeout"
    assert time.monotonic() - started < 2.5
