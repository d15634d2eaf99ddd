"""The API client: error mapping, paging, signing, against the simulator where it matters."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dts_exporter.actions import initialization, modify_status
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.base.errors import DtsApiError
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    SimulatorServer,
    start_simulator,
)
from dts_exporter.simulator.scenario import Fault
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.transport import bounded_code, decode_response
from tests.conftest import make_tables, start_scenario

ACTION = DESCRIBE_INITIALIZATION_STATUS


def _error(status: int, content: bytes) -> DtsApiError:
    with pytest.raises(DtsApiError) as info:
        decode_response(ACTION, status, content)
    return info.value


def test_service_error_body_gives_its_code() -> None:
    err = _error(400, b'{"RequestId": "R1", "Code": "Throttling.User", "Message": "flow control"}')
    assert (err.code, err.message, err.http_status, err.request_id) == (
        "Throttling.User",
        "flow control",
        400,
        "R1",
    )


def test_http_error_without_body_gives_http_code() -> None:
    assert _error(502, b"<html>Bad Gateway</html>").code == "HTTP502"


@pytest.mark.parametrize("content", [b"{not json", b'{"a": 1', b"[1, 2]", b"", b"\xff\xfe"])
def test_malformed_bodies_are_invalid_response(content: bytes) -> None:
    assert _error(200, content).code == "InvalidResponse"


@pytest.mark.parametrize("success", [False, "false", "False"])
def test_success_false_gives_err_code(success: object) -> None:
    body = b'{"Success": %s, "ErrCode": "InternalError", "ErrMessage": "boom"}' % (
        b"false" if success is False else b'"' + str(success).encode() + b'"'
    )
    err = _error(200, body)
    assert (err.code, err.message) == ("InternalError", "boom")


@pytest.mark.parametrize("success", [True, "true", "TRUE"])
def test_success_true_in_any_form(success: object) -> None:
    literal = b"true" if success is True else b'"' + str(success).encode() + b'"'
    assert decode_response(ACTION, 200, b'{"Success": %s, "X": 1}' % literal)["X"] == 1


def test_unbounded_codes_are_not_passed_through() -> None:
    assert bounded_code("Throttling.User") == "Throttling.User"
    assert bounded_code("drop table; --") == "UnknownError"
    assert bounded_code(None) == "UnknownError"
    assert bounded_code("x" * 200) == "UnknownError"


# -- against the simulator -----------------------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    scenario = {
        "jobs": {
            "dtsbig": {"DataInitializationDetails": make_tables(250)},
            "dtspage2": {"DataInitializationDetails": make_tables(250)},
            "dtsslow": {"DataInitializationDetails": make_tables(1)},
        },
        "tasks": {"task1": {"Status": "Migrating"}},
        "faults": {
            "dtspage2": [{"kind": "throttling", "pages": [2]}],
            "dtsslow": [{"kind": "latency", "seconds": 2}],
        },
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def client_for(url: str, secret: str = DEMO_ACCESS_KEY_SECRET, **kwargs: Any) -> DtsClient:
    observed: list[tuple[str, str, float]] = []
    client = DtsClient(
        endpoint=url,
        region="cn-hangzhou",
        credentials=StaticProvider(Credentials(DEMO_ACCESS_KEY_ID, secret)),
        timeout_seconds=kwargs.pop("timeout_seconds", 5.0),
        pool_size=4,
        observer=lambda a, c, s: observed.append((a, c, s)),
        **kwargs,
    )
    client.observed = observed  # type: ignore[attr-defined]
    return client


def test_paging_merges_all_pages(sim: SimulatorServer) -> None:
    client = client_for(sim.url)
    body = initialization.request(client, "dtsbig")
    names = [t["TableName"] for t in body["DataInitializationDetails"]]
    assert names == [f"t{i:05d}" for i in range(250)]
    assert body["PageCount"] == 3
    assert [code for _, code, _ in client.observed] == ["Success"] * 3  # type: ignore[attr-defined]


@pytest.mark.slow  # a second of retry backoff
def test_a_failing_page_fails_the_whole_job(sim: SimulatorServer) -> None:
    with pytest.raises(DtsApiError) as info:
        initialization.request(client_for(sim.url), "dtspage2")
    assert info.value.code == "Throttling.User"


def test_modify_status(sim: SimulatorServer) -> None:
    assert modify_status.request(client_for(sim.url), "task1")["Status"] == "Migrating"


def test_unknown_id_is_a_business_error(sim: SimulatorServer) -> None:
    with pytest.raises(DtsApiError) as info:
        initialization.request(client_for(sim.url), "dtsnope")
    assert info.value.code == "InvalidJobId"


def test_wrong_secret_is_refused_and_never_echoed(sim: SimulatorServer) -> None:
    with pytest.raises(DtsApiError) as info:
        modify_status.request(client_for(sim.url, secret="not-the-secret"), "task1")
    assert info.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(info.value)
    assert "not-the-secret" not in repr(info.value)


@pytest.mark.slow  # timeouts, retried with backoff
def test_timeout_has_its_own_code(sim: SimulatorServer) -> None:
    client = client_for(sim.url, timeout_seconds=0.3)
    with pytest.raises(DtsApiError) as info:
        initialization.request(client, "dtsslow")
    assert info.value.code == "Timeout"
    assert client.observed[-1][1] == "Timeout"  # type: ignore[attr-defined]


def test_deadline_caps_the_call(sim: SimulatorServer) -> None:
    client = client_for(sim.url, timeout_seconds=10)
    started = time.monotonic()
    with pytest.raises(DtsApiError) as info:
        initialization.request(client, "dtsslow", deadline=started + 0.3)
    assert info.value.code == "Timeout"
    assert time.monotonic() - started < 1.5


@pytest.mark.slow  # a second of retry backoff
def test_connection_refused_has_its_own_code() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DtsApiError) as info:
        modify_status.request(client_for(f"http://127.0.0.1:{port}"), "task1")
    assert info.value.code == "ConnectionError"
    assert "Signature" not in info.value.message


def test_security_token_is_sent() -> None:
    server = start_simulator("127.0.0.1", 0, security_token="sts-token-value")
    try:
        task = next(job.task_ids[0] for job in DEMO_JOBS if job.task_ids)
        with_token = DtsClient(
            endpoint=server.url,
            region="cn-hangzhou",
            credentials=StaticProvider(
                Credentials(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, "sts-token-value")
            ),
            timeout_seconds=5,
            pool_size=4,
        )
        assert modify_status.request(with_token, task)["Success"] in (True, "true")
        with pytest.raises(DtsApiError) as info:
            modify_status.request(client_for(server.url), task)
        assert info.value.code.startswith("InvalidSecurityToken")
    finally:
        server.close()


def test_every_attempt_gets_a_fresh_nonce(sim: SimulatorServer) -> None:
    client = client_for(sim.url)
    for _ in range(5):  # a reused nonce would be refused with SignatureNonceUsed
        modify_status.request(client, "task1")


def test_demo_offset_starts_the_built_in_demo_later() -> None:
    task = DEMO_JOBS[0].task_ids[0]  # walks Prechecking -> Migrating -> Finished in 10 minutes
    statuses = []
    for offset in (0.0, 360.0, 900.0):
        server = start_simulator("127.0.0.1", 0, demo_offset=offset)
        try:
            statuses.append(modify_status.request(client_for(server.url), task)["Status"])
        finally:
            server.close()
    assert statuses == ["Prechecking", "Migrating", "Finished"]


def test_throttling_is_retried_honouring_retry_after(sim: SimulatorServer) -> None:
    sim.set_faults({"dtsbig": [Fault(kind="throttling", retry_after_ms=1500)]})
    waits: list[float] = []
    retried: list[tuple[str, str]] = []
    client = client_for(
        sim.url, sleep=waits.append, retry_observer=lambda a, c: retried.append((a, c))
    )
    with pytest.raises(DtsApiError) as info:
        initialization.request(client, "dtsbig")
    assert info.value.code == "Throttling.User"
    attempts = [code for _, code, _ in client.observed]  # type: ignore[attr-defined]
    assert attempts == ["Throttling.User"] * 4  # max_retries 3
    assert len(waits) == 3 and all(w >= 1.5 for w in waits)
    assert retried == [(DESCRIBE_INITIALIZATION_STATUS, "Throttling.User")] * 3


def test_a_retry_succeeds_once_the_fault_clears(sim: SimulatorServer) -> None:
    sim.set_faults({"task1": [Fault(kind="service_unavailable")]})
    client = client_for(sim.url, sleep=lambda _: sim.set_faults({}))
    assert modify_status.request(client, "task1")["Status"] == "Migrating"
    attempts = [code for _, code, _ in client.observed]  # type: ignore[attr-defined]
    assert attempts == ["ServiceUnavailable", "Success"]


def test_authentication_errors_are_never_retried(sim: SimulatorServer) -> None:
    waits: list[float] = []
    client = client_for(sim.url, secret="wrong", sleep=waits.append)
    with pytest.raises(DtsApiError):
        modify_status.request(client, "task1")
    assert [code for _, code, _ in client.observed] == ["SignatureDoesNotMatch"]  # type: ignore[attr-defined]
    assert waits == []


def test_retries_never_pass_the_deadline(sim: SimulatorServer) -> None:
    sim.set_faults({"task1": [Fault(kind="throttling", retry_after_ms=5000)]})
    waits: list[float] = []
    client = client_for(sim.url, sleep=waits.append)
    with pytest.raises(DtsApiError) as info:
        modify_status.request(client, "task1", deadline=time.monotonic() + 2.0)
    assert info.value.code == "Throttling.User"
    assert waits == []  # the 5 s the service asked for would pass the deadline
    assert len(client.observed) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_both_signature_versions_carry_an_sts_token(version: str) -> None:
    server = start_simulator("127.0.0.1", 0, security_token="sts-token-value")
    try:
        task = next(job.task_ids[0] for job in DEMO_JOBS if job.task_ids)
        client = DtsClient(
            endpoint=server.url,
            region="cn-hangzhou",
            credentials=StaticProvider(
                Credentials(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, "sts-token-value")
            ),
            timeout_seconds=5,
            pool_size=4,
            signature_version="v1" if version == "v1" else "v3",
        )
        assert modify_status.request(client, task)["Success"] in (True, "true")
    finally:
        server.close()


def test_each_region_has_its_endpoint() -> None:
    client = DtsClient(
        region="cn-hangzhou",
        credentials=StaticProvider(Credentials("a", "b")),
        timeout_seconds=1,
        pool_size=4,
    )
    assert client.endpoint_for("cn-hangzhou") == "https://dts.aliyuncs.com"
    assert client.endpoint_for("ap-northeast-1") == "https://dts.ap-northeast-1.aliyuncs.com"
    assert client.endpoint_for("cn-guangzhou") == "https://dts.cn-guangzhou.aliyuncs.com"


def test_code_success_without_a_success_field_is_success() -> None:
    body = decode_response("EcsRamRole", 200, b'{"Code": "Success", "AccessKeyId": "STS.x"}')
    assert body["AccessKeyId"] == "STS.x"
    assert _error(200, b'{"Code": "Forbidden", "Message": "no"}').code == "Forbidden"
