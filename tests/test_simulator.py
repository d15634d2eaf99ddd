"""The DTS endpoint simulator, exercised over HTTP with requests signed by hand."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import ConfigError
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    FAULT_KINDS,
    HOSTILE_FAULT_KINDS,
    Fault,
    Scenario,
    SimulatorServer,
    load_scenario,
    start_simulator,
)
from dts_exporter.wire import signing
from tests.conftest import FIXTURES
from tests.simulator_signer import utc

AK = "LTAI5tSimulatorTest"
SECRET = "simulator-test-secret"
JOB = "dtsi05paging7k3m"
JOB_NO_SYNC = "dtsi06nosync2q8w"
TASK = "k71r16fj13gq"
LISTS = (
    "StructureInitializationDetails",
    "DataInitializationDetails",
    "DataSynchronizationDetails",
)


@dataclass
class Api:
    """Signs and sends requests the way an SDK would, with knobs to break them."""

    server: SimulatorServer
    access_key_id: str = AK
    secret: str = SECRET
    now: Callable[[], float] = time.time

    def v1(
        self,
        action: str,
        extra: Mapping[str, str] | None = None,
        *,
        fmt: str | None = "JSON",
        nonce: str | None = None,
        timestamp: str | None = None,
        secret: str | None = None,
        drop: str | None = None,
        method: str = "POST",
        form: bool = False,
    ) -> requests.Response:
        params = {
            "Action": action,
            "Version": "2020-01-01",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": timestamp or utc(self.now()),
        }
        if fmt is not None:
            params["Format"] = fmt
        params.update(extra or {})
        params["Signature"] = signing.sign_v1(method, params, secret or self.secret)
        if drop:
            del params[drop]
        if form:
            return requests.post(self.server.url + "/", data=params, timeout=10)
        return requests.request(method, self.server.url + "/", params=params, timeout=10)

    def v3(
        self,
        action: str,
        query: Mapping[str, str] | None = None,
        *,
        nonce: str | None = None,
        date: str | None = None,
        secret: str | None = None,
        signed: Mapping[str, str] | None = None,
        unsigned: Mapping[str, str] | None = None,
        body: bytes = b"",
        claimed_sha256: str | None = None,
    ) -> requests.Response:
        query = dict(query or {})
        headers = {
            "host": urlsplit(self.server.url).netloc,
            "x-acs-action": action,
            "x-acs-version": "2020-01-01",
            "x-acs-date": date or utc(self.now()),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": claimed_sha256 or hashlib.sha256(body).hexdigest(),
        }
        headers.update(signed or {})
        names = list(headers)
        canonical = signing.v3_canonical_request(
            "POST", "/", query, headers, names, headers["x-acs-content-sha256"]
        )
        signature = signing.sign_v3(canonical, secret or self.secret)
        headers["Authorization"] = signing.v3_authorization(self.access_key_id, names, signature)
        headers.update(unsigned or {})
        return requests.post(
            self.server.url + "/", params=query, headers=headers, data=body, timeout=10
        )


def error_of(response: requests.Response, product: str = "Dts") -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert response.headers["x-acs-request-id"] == body["RequestId"]
    suffix = f"q={body['Code']}&product={product}&requestId={body['RequestId']}"
    assert body["Recommend"].endswith(suffix)
    return body


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(str(FIXTURES / "simulator_scenario.yaml"))


@pytest.fixture
def server(scenario: Scenario) -> Iterator[SimulatorServer]:
    simulator = start_simulator(
        "127.0.0.1", 0, access_key_id=AK, access_key_secret=SECRET, scenario=scenario
    )
    yield simulator
    simulator.close()


@pytest.fixture
def api(server: SimulatorServer) -> Api:
    return Api(server)


# --- success answers ----------------------------------------------------------------------


def test_v1_json_success_replays_scenario_body(api: Api, scenario: Scenario) -> None:
    response = api.v1(INIT, {"SynchronizationJobId": JOB})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = response.json()
    stored = scenario.jobs[JOB]
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert body["RequestId"] != stored["RequestId"]
    assert body["RequestId"] == body["RequestId"].upper() and len(body["RequestId"]) == 36
    assert body["Success"] == "true"  # replayed as recorded, a string here
    for name in LISTS:
        assert body[name] == stored[name]
    assert body["DataInitializationDetails"][2]["TotalRowNum"] == 250000
    assert body["DataInitializationDetails"][3]["FinishRowNum"] is None


def test_success_defaults_to_true_and_absent_lists_stay_absent(api: Api) -> None:
    body = api.v1(INIT, {"SynchronizationJobId": JOB_NO_SYNC}).json()
    assert body["Success"] is True
    assert "StructureInitializationDetails" not in body
    assert "DataSynchronizationDetails" not in body
    assert len(body["DataInitializationDetails"]) == 1


def test_v3_json_success(api: Api, scenario: Scenario) -> None:
    response = api.v3(MODIFY, {"TaskId": TASK, "RegionId": "cn-hangzhou"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["PrecheckStatus"] == scenario.tasks[TASK]["PrecheckStatus"]
    assert body["Success"] is True
    assert body["ErrorMessage"] is None


@pytest.mark.parametrize("fmt", ["XML", "xml", None])
def test_v1_answers_xml_when_asked_or_by_default(
    api: Api, scenario: Scenario, fmt: str | None
) -> None:
    response = api.v1(INIT, {"SynchronizationJobId": JOB}, fmt=fmt)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ET.fromstring(response.content)
    assert root.tag == "DescribeInitializationStatusResponse"
    assert root.findtext("RequestId") == response.headers["x-acs-request-id"]
    assert root.findtext("Success") == "true"
    structure = root.findall("StructureInitializationDetails")
    assert [item.findtext("ObjectName") for item in structure] == [
        item["ObjectName"] for item in scenario.jobs[JOB]["StructureInitializationDetails"]
    ]
    assert len(structure[0].findall("Constraints")) == 2
    assert structure[1].findtext("ObjectDefinition") == (
        "CREATE TABLE `shop`.`orders` (`id` int NOT NULL, `note` varchar(10) DEFAULT '<a&b>') ;"
    )
    data = root.findall("DataInitializationDetails")
    assert data[2].findtext("TotalRowNum") == "250000"
    assert data[3].find("FinishRowNum") is None  # null values produce no element


def test_xml_booleans_and_nested_objects(api: Api) -> None:
    root = ET.fromstring(api.v1(MODIFY, {"TaskId": TASK}, fmt="XML").content)
    assert root.tag == "DescribeSynchronizationObjectModifyStatusResponse"
    assert root.findtext("Success") == "true"
    details = root.findall("PrecheckStatus/Detail")
    assert [item.findtext("ItemName") for item in details] == ["CHECK_CONN_SRC", "CHECK_CONN_DEST"]
    assert details[0].findtext("RepairMethod") == "CHECK_ERROR_DEST_CONN_REPAIR2"


def test_v3_honours_explicit_xml_format(api: Api) -> None:
    response = api.v3(MODIFY, {"TaskId": TASK, "Format": "XML"})
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert ET.fromstring(response.content).findtext("Status") == "PrecheckFailed"


def test_v1_get_and_form_body_are_accepted(api: Api) -> None:
    assert api.v1(MODIFY, {"TaskId": TASK}, method="GET").status_code == 200
    response = api.v1(MODIFY, {"TaskId": TASK}, form=True)
    assert response.status_code == 200, response.text
    assert response.json()["Status"] == "PrecheckFailed"


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_unknown_access_key(server: SimulatorServer, style: str) -> None:
    api = Api(server, access_key_id="LTAI5tSomebodyElse")
    response = (
        api.v1(MODIFY, {"TaskId": TASK}) if style == "v1" else api.v3(MODIFY, {"TaskId": TASK})
    )
    assert response.status_code == 404
    body = error_of(response)
    assert body["Code"] == "InvalidAccessKeyId.NotFound"
    assert body["Message"] == "Specified access key is not found."
    assert body["HostId"] == urlsplit(server.url).netloc


def test_wrong_secret_v1_quotes_string_to_sign(api: Api) -> None:
    response = api.v1(MODIFY, {"TaskId": TASK}, secret="not-the-secret")
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "SignatureDoesNotMatch"
    prefix = "Specified signature is not matched with our calculation. server string to sign is:"
    assert body["Message"].startswith(prefix + "POST&%2F&AccessKeyId%3D" + AK)
    assert SECRET not in body["Message"]


def test_wrong_secret_v3_quotes_string_to_sign(api: Api) -> None:
    body = error_of(api.v3(MODIFY, {"TaskId": TASK}, secret="not-the-secret"))
    assert body["Code"] == "SignatureDoesNotMatch"
    assert "server string to sign is:ACS3-HMAC-SHA256\n" in body["Message"]


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_replayed_nonce_is_refused(api: Api, style: str) -> None:
    nonce = uuid.uuid4().hex

    def send() -> requests.Response:
        if style == "v1":
            return api.v1(MODIFY, {"TaskId": TASK}, nonce=nonce)
        return api.v3(MODIFY, {"TaskId": TASK}, nonce=nonce)

    assert send().status_code == 200
    replay = send()
    assert replay.status_code == 400
    assert error_of(replay)["Code"] == "SignatureNonceUsed"
    assert error_of(replay)["Message"] == "Specified signature nonce was used already."


def test_bad_signature_does_not_burn_the_nonce(api: Api) -> None:
    nonce = uuid.uuid4().hex
    assert error_of(api.v1(MODIFY, {"TaskId": TASK}, nonce=nonce, secret="x"))["Code"] == (
        "SignatureDoesNotMatch"
    )
    assert api.v1(MODIFY, {"TaskId": TASK}, nonce=nonce).status_code == 200


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_timestamp_twenty_minutes_old_is_expired(api: Api, style: str) -> None:
    old = utc(time.time() - 20 * 60)
    if style == "v1":
        response = api.v1(MODIFY, {"TaskId": TASK}, timestamp=old)
    else:
        response = api.v3(MODIFY, {"TaskId": TASK}, date=old)
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "InvalidTimeStamp.Expired"
    assert body["Message"] == "Specified time stamp or date value is expired."


def test_timestamp_in_another_format_is_refused(api: Api) -> None:
    response = api.v1(MODIFY, {"TaskId": TASK}, timestamp="2024-01-01 00:00:00")
    assert response.status_code == 400
    assert error_of(response)["Code"] == "InvalidTimeStamp.Format"


def test_v3_unsigned_acs_header_is_incomplete(api: Api) -> None:
    response = api.v3(MODIFY, {"TaskId": TASK}, unsigned={"x-acs-foo": "bar"})
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "IncompleteSignature"
    assert "x-acs-foo is not signed" in body["Message"]


def test_v3_extra_signed_headers_are_verified(api: Api) -> None:
    response = api.v3(MODIFY, {"TaskId": TASK}, signed={"x-acs-foo": "bar", "accept": "*/*"})
    assert response.status_code == 200, response.text


def test_v3_malformed_authorization_is_incomplete(server: SimulatorServer) -> None:
    response = requests.post(
        server.url + "/", headers={"Authorization": "ACS3-HMAC-SHA256 nonsense"}, timeout=10
    )
    assert response.status_code == 400
    assert error_of(response)["Code"] == "IncompleteSignature"


def test_v3_body_hash_must_match(api: Api) -> None:
    response = api.v3(
        MODIFY, {"TaskId": TASK}, body=b"TaskId=x", claimed_sha256=signing.EMPTY_SHA256
    )
    assert response.status_code == 400
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("missing", ["SignatureNonce", "Timestamp", "AccessKeyId", "Signature"])
def test_v1_missing_signing_parameter_is_incomplete(api: Api, missing: str) -> None:
    response = api.v1(MODIFY, {"TaskId": TASK}, drop=missing)
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "IncompleteSignature"
    assert f"Parameter {missing} is missing." in body["Message"]


def test_wrong_version_and_unknown_action(api: Api) -> None:
    response = api.v1(MODIFY, {"TaskId": TASK, "Version": "2016-08-01"})
    assert (response.status_code, error_of(response)["Code"]) == (400, "InvalidVersion")
    response = api.v1("DescribeMigrationJobs", {"RegionId": "cn-hangzhou"})
    assert (response.status_code, error_of(response)["Code"]) == (404, "InvalidAction.NotFound")
    # Both known versions, each with the other API's action.
    response = api.v1("AssumeRole", {"RoleArn": "acs:ram::1:role/x"})
    assert (response.status_code, error_of(response)["Code"]) == (404, "InvalidAction.NotFound")
    response = api.v1(MODIFY, {"TaskId": TASK, "Version": "2015-04-01"})
    assert (response.status_code, error_of(response, "Sts")["Code"]) == (
        404,
        "InvalidAction.NotFound",
    )


def test_security_token_is_required_when_configured(scenario: Scenario) -> None:
    server = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        security_token="sts-token-1",
        scenario=scenario,
    )
    try:
        api = Api(server)
        missing = api.v1(MODIFY, {"TaskId": TASK})
        assert error_of(missing)["Code"] == "InvalidSecurityToken.MalFormed"
        wrong = api.v1(MODIFY, {"TaskId": TASK, "SecurityToken": "sts-token-2"})
        assert error_of(wrong)["Code"] == "InvalidSecurityToken.Mismatch"
        assert api.v1(MODIFY, {"TaskId": TASK, "SecurityToken": "sts-token-1"}).status_code == 200
        signed = {"x-acs-security-token": "sts-token-1", "x-acs-accesskey-id": AK}
        assert api.v3(MODIFY, {"TaskId": TASK}, signed=signed).status_code == 200
        assert error_of(api.v3(MODIFY, {"TaskId": TASK}))["Code"].startswith(
            "InvalidSecurityToken."
        )
    finally:
        server.close()


def test_errors_render_as_xml_when_xml_was_asked(api: Api) -> None:
    response = api.v1(MODIFY, {"TaskId": TASK}, fmt=None, secret="wrong")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert root.findtext("Code") == "SignatureDoesNotMatch"
    assert root.findtext("RequestId") == response.headers["x-acs-request-id"]


def test_request_counts_only_authenticated_requests(api: Api, server: SimulatorServer) -> None:
    api.v1(INIT, {"SynchronizationJobId": JOB})
    api.v3(MODIFY, {"TaskId": TASK})
    api.v3(MODIFY, {"TaskId": TASK})
    api.v1(INIT, {"SynchronizationJobId": JOB}, secret="wrong")
    expected = {INIT: 1, MODIFY: 2}
    assert server.request_counts() == expected
    assert requests.get(server.url + "/_simulator/requests", timeout=10).json() == expected


# --- parameters and paging ----------------------------------------------------------------


def test_paging_slices_each_list_independently(api: Api, scenario: Scenario) -> None:
    stored = scenario.jobs[JOB]
    for page, size in ((1, 2), (2, 2), (3, 1), (4, 0)):
        body = api.v1(
            INIT, {"SynchronizationJobId": JOB, "PageSize": "2", "PageNum": str(page)}
        ).json()
        for name in LISTS:
            assert len(body[name]) == size, (page, name)
            assert body[name] == stored[name][(page - 1) * 2 : page * 2]


def test_default_page_size_is_thirty(server: SimulatorServer, api: Api) -> None:
    big = [{"TableName": f"t{i}", "Status": "Finished"} for i in range(70)]
    server.scenario = Scenario(jobs={"dtsibig": {"DataInitializationDetails": big}})
    first = api.v1(INIT, {"SynchronizationJobId": "dtsibig"}).json()
    third = api.v1(INIT, {"SynchronizationJobId": "dtsibig", "PageNum": "3"}).json()
    assert [len(first["DataInitializationDetails"]), len(third["DataInitializationDetails"])] == [
        30,
        10,
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [("PageSize", "0"), ("PageSize", "101"), ("PageSize", "ten"), ("PageNum", "0")],
)
def test_out_of_range_paging_is_invalid_parameter(api: Api, name: str, value: str) -> None:
    response = api.v1(INIT, {"SynchronizationJobId": JOB, name: value})
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "InvalidParameter"
    assert name in body["Message"]


def test_missing_ids(api: Api) -> None:
    response = api.v1(INIT)
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "MissingSynchronizationJobId"
    assert body["Message"] == "SynchronizationJobId is mandatory for this action."
    assert error_of(api.v3(MODIFY))["Code"] == "MissingTaskId"


def test_unknown_ids_are_business_errors(api: Api) -> None:
    response = api.v1(INIT, {"SynchronizationJobId": "dtsinothere"})
    assert response.status_code == 200
    body = response.json()
    assert body["Success"] is False
    assert body["ErrCode"] == "InvalidJobId"
    assert body["ErrMessage"].startswith("The specified")
    body = api.v3(MODIFY, {"TaskId": "nothere"}).json()
    assert (body["Success"], body["ErrCode"]) == (False, "InvalidTaskId")


def test_other_paths_are_not_found(server: SimulatorServer) -> None:
    response = requests.get(server.url + "/v1/jobs", timeout=10)
    assert response.status_code == 404
    assert error_of(response)["Code"] == "InvalidAction.NotFound"


def test_keep_alive_and_close(server: SimulatorServer, api: Api) -> None:
    with requests.Session() as session:
        params = {"SynchronizationJobId": JOB}
        for _ in range(3):
            response = session.post(server.url + "/", params=api_params(api, INIT, params))
            assert response.status_code == 200
            assert response.raw.version == 11
            assert response.headers.get("Connection", "").lower() != "close"
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 3
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/_simulator/requests", timeout=2)


def api_params(api: Api, action: str, extra: Mapping[str, str]) -> dict[str, str]:
    params = {
        "Action": action,
        "Version": "2020-01-01",
        "Format": "JSON",
        "AccessKeyId": api.access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": utc(time.time()),
        **extra,
    }
    params["Signature"] = signing.sign_v1("POST", params, api.secret)
    return params


# --- faults -------------------------------------------------------------------------------


def init_job(api: Api, page: int = 1) -> requests.Response:
    return api.v1(INIT, {"SynchronizationJobId": JOB, "PageSize": "2", "PageNum": str(page)})


def test_throttling_fault(server: SimulatorServer, api: Api) -> None:
    server.set_faults({JOB: [Fault("throttling", retry_after_ms=1500)]})
    response = init_job(api)
    assert response.status_code == 400
    body = error_of(response)
    assert body["Code"] == "Throttling.User"
    assert body["Message"] == "Request was denied due to user flow control."
    assert response.headers["x-acs-retry-after"] == "1500"
    server.set_faults({JOB: [Fault("throttling")]})
    assert "x-acs-retry-after" not in init_job(api).headers


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("internal_error", 500, "InternalError"), ("service_unavailable", 503, "ServiceUnavailable")],
)
def test_server_error_faults(
    server: SimulatorServer, api: Api, kind: str, status: int, code: str
) -> None:
    server.set_faults({JOB: [Fault(kind)]})
    response = init_job(api)
    assert response.status_code == status
    assert error_of(response)["Code"] == code


def test_latency_fault_delays_a_normal_answer(server: SimulatorServer, api: Api) -> None:
    server.set_faults({JOB: [Fault("latency", seconds=0.15), Fault("latency", seconds=0.15)]})
    started = time.monotonic()
    response = init_job(api)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert len(response.json()["DataInitializationDetails"]) == 2


def test_latency_then_first_other_fault(server: SimulatorServer, api: Api) -> None:
    faults = [Fault("latency", seconds=0.2), Fault("html"), Fault("internal_error")]
    server.set_faults({JOB: faults})
    started = time.monotonic()
    response = init_job(api)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_malformed_and_truncated_faults(server: SimulatorServer, api: Api) -> None:
    complete = init_job(api).content
    server.set_faults({JOB: [Fault("malformed")]})
    response = init_job(api)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    with pytest.raises(ValueError):
        json.loads(response.content)
    server.set_faults({JOB: [Fault("truncated")]})
    response = init_job(api)
    assert response.status_code == 200
    assert response.content.startswith(b'{"StructureInitializationDetails":[')
    assert abs(len(response.content) - len(complete) // 2) <= 1
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_success_false_fault(server: SimulatorServer, api: Api) -> None:
    server.set_faults({TASK: [Fault("success_false")]})
    body = api.v3(MODIFY, {"TaskId": TASK}).json()
    assert body["Success"] is False
    assert body["ErrCode"] == "InternalError"
    assert body["ErrMessage"]


def test_reset_fault_closes_without_answer(server: SimulatorServer, api: Api) -> None:
    server.set_faults({JOB: [Fault("reset")]})
    with pytest.raises(requests.ConnectionError):
        init_job(api)
    server.set_faults({})
    assert init_job(api).status_code == 200


def test_fault_pages_restriction(server: SimulatorServer, api: Api) -> None:
    server.set_faults({JOB: [Fault("throttling", pages=frozenset({2}))]})
    assert init_job(api, 1).status_code == 200
    assert error_of(init_job(api, 2))["Code"] == "Throttling.User"
    assert init_job(api, 3).status_code == 200
    server.set_faults({"*": [Fault("internal_error", pages=frozenset({1}))]})
    assert api.v1(MODIFY, {"TaskId": TASK}).status_code == 200  # tasks have no page


def test_fault_targets_ids_and_wildcard(server: SimulatorServer, api: Api) -> None:
    server.set_faults({JOB_NO_SYNC: [Fault("internal_error")]})
    assert init_job(api).status_code == 200
    server.set_faults({"*": [Fault("service_unavailable")]})
    assert init_job(api).status_code == 503
    assert api.v1(MODIFY, {"TaskId": "unknown-task"}).status_code == 503


def test_faults_apply_only_to_authenticated_requests(server: SimulatorServer, api: Api) -> None:
    server.set_faults({"*": [Fault("reset")]})
    response = api.v1(INIT, {"SynchronizationJobId": JOB}, secret="wrong")
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


def test_scenario_faults_apply_from_start(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("tasks: {t1: {Status: Finished}}\nfaults:\n  t1: {kind: internal_error}\n")
    server = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        scenario=load_scenario(str(path)),
    )
    try:
        assert Api(server).v1(MODIFY, {"TaskId": "t1"}).status_code == 500
    finally:
        server.close()


def test_faults_admin_endpoint(server: SimulatorServer, api: Api) -> None:
    faults = {
        JOB: [{"kind": "throttling", "pages": [1]}],
        "*": {"kind": "latency", "seconds": 0.01},
    }
    response = requests.put(server.url + "/_simulator/faults", json=faults, timeout=10)
    assert response.status_code == 204
    assert error_of(init_job(api))["Code"] == "Throttling.User"
    bad = requests.put(
        server.url + "/_simulator/faults", json={JOB: {"kind": "explode"}}, timeout=10
    )
    assert bad.status_code == 400
    assert "faults.dtsi05paging7k3m.kind: unknown fault kind 'explode'" in bad.json()["Message"]
    assert error_of(init_job(api))["Code"] == "Throttling.User"  # unchanged after a bad PUT
    assert requests.put(server.url + "/_simulator/faults", json={}, timeout=10).status_code == 204
    assert init_job(api).status_code == 200


def test_every_fault_kind_is_covered() -> None:
    covered = {"throttling", "internal_error", "service_unavailable", "latency", "malformed"}
    covered |= {"truncated", "html", "success_false", "reset"}
    assert set(FAULT_KINDS) == covered


# --- the built-in demo --------------------------------------------------------------------


class Demo:
    """A demo simulator on a clock the test moves; `api` signs with that same clock."""

    def __init__(self) -> None:
        self.base = time.time()
        self.offset = 0.0
        self.server = start_simulator("127.0.0.1", 0, clock=self.clock)

    def clock(self) -> float:
        return self.base + self.offset

    def api(self, *, follow_clock: bool = True) -> Api:
        return Api(
            self.server,
            access_key_id=DEMO_ACCESS_KEY_ID,
            secret=DEMO_ACCESS_KEY_SECRET,
            now=self.clock if follow_clock else time.time,
        )


@pytest.fixture
def demo() -> Iterator[Demo]:
    simulation = Demo()
    yield simulation
    simulation.server.close()


def all_rows(api: Api, job_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = api.v1(
            INIT, {"SynchronizationJobId": job_id, "PageSize": "10", "PageNum": str(page)}
        ).json()
        assert body["Success"] is True
        rows += body["DataInitializationDetails"]
        if len(body["DataInitializationDetails"]) < 10:
            return rows
        page += 1


def test_demo_jobs_shape() -> None:
    assert 3 <= len(DEMO_JOBS) <= 4
    assert 3 <= sum(len(job.task_ids) for job in DEMO_JOBS) <= 4
    assert all(job.job_id.startswith("dtsi") for job in DEMO_JOBS)


def test_demo_evolves_with_the_clock(demo: Demo) -> None:
    api = demo.api()
    walking = DEMO_JOBS[0].task_ids[0]
    before = {job.job_id: all_rows(api, job.job_id) for job in DEMO_JOBS}
    assert api.v1(MODIFY, {"TaskId": walking}).json()["Status"] == "Prechecking"
    demo.offset = 600
    after = {job.job_id: all_rows(api, job.job_id) for job in DEMO_JOBS}
    for job in DEMO_JOBS:
        assert 8 <= len(after[job.job_id]) <= 40
        assert all(row["Status"] == "NotStarted" for row in before[job.job_id])
        grown = sum(int(row["FinishRowNum"]) for row in after[job.job_id])
        assert grown > sum(int(row["FinishRowNum"]) for row in before[job.job_id])
    task = api.v1(MODIFY, {"TaskId": walking}).json()
    assert task["Status"] == "Finished"
    assert task["DataInitializationStatus"]["Percent"] == "100"
    statuses = {row["Status"] for rows in after.values() for row in rows}
    assert {"Migrating", "Finished", "Failed"} <= statuses


def test_demo_tasks_cover_every_story(demo: Demo) -> None:
    api = demo.api()
    demo.offset = 3 * 3600
    bodies = [api.v3(MODIFY, {"TaskId": job.task_ids[0]}).json() for job in DEMO_JOBS]
    assert [body["Status"] for body in bodies] == [
        "Finished",
        "PrecheckFailed",
        "Failed",
        "Migrating",
    ]
    failed_check = bodies[1]["PrecheckStatus"]["Detail"][0]
    assert failed_check["CheckStatus"] == "Failed"
    assert failed_check["ItemName"] == "CHECK_CONN_SRC"
    assert failed_check["RepairMethod"]
    delays = set()
    for minute in range(0, 120, 7):
        demo.offset = 3 * 3600 + minute * 60
        delay = api.v3(MODIFY, {"TaskId": DEMO_JOBS[3].task_ids[0]}).json()
        delays.add(int(delay["DataSynchronizationStatus"]["Delay"]))
    assert len(delays) > 5 and all(0 <= delay <= 120 for delay in delays)


def test_demo_long_job_keeps_migrating_for_two_hours(demo: Demo) -> None:
    demo.offset = 2 * 3600
    assert any(row["Status"] == "Migrating" for row in all_rows(demo.api(), DEMO_JOBS[-1].job_id))


def test_demo_short_job_is_done_within_five_minutes(demo: Demo) -> None:
    demo.offset = 5 * 60
    rows = all_rows(demo.api(), DEMO_JOBS[1].job_id)
    assert {row["Status"] for row in rows} <= {"Finished", "Failed"}
    finished = [row for row in rows if row["Status"] == "Finished"]
    gaps = {int(row["FinishRowNum"]) - int(row["TotalRowNum"]) for row in finished}
    assert any(gap > 0 for gap in gaps) and any(gap < 0 for gap in gaps) and 0 in gaps
    failed = [row for row in rows if row["Status"] == "Failed"]
    assert [row["ErrorMessage"] for row in failed] == [
        'java.lang.NumberFormatException: For input string: ""'
    ]


def test_demo_answers_xml_and_pages_like_a_scenario(demo: Demo) -> None:
    response = demo.api().v1(
        INIT, {"SynchronizationJobId": DEMO_JOBS[0].job_id, "PageSize": "5"}, fmt="XML"
    )
    root = ET.fromstring(response.content)
    assert len(root.findall("DataInitializationDetails")) == 5
    assert len(root.findall("StructureInitializationDetails")) == 5


def test_clock_drives_the_timestamp_window(demo: Demo) -> None:
    demo.offset = 20 * 60
    response = demo.api(follow_clock=False).v1(MODIFY, {"TaskId": DEMO_JOBS[0].task_ids[0]})
    assert error_of(response)["Code"] == "InvalidTimeStamp.Expired"


# --- scenario validation ------------------------------------------------------------------

KINDS = ", ".join(FAULT_KINDS + HOSTILE_FAULT_KINDS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "jobs: {}\nextra: 1\n",
            "extra: unknown key (expected one of: jobs, tasks, dts_jobs, dts_job_details, "
            "check_jobs, faults, flow_control)",
        ),
        (
            "- 1\n",
            "expected a mapping with keys jobs, tasks, dts_jobs, dts_job_details, check_jobs, "
            "faults, flow_control, got list",
        ),
        ("jobs: [1]\n", "jobs: expected a mapping of id to body, got list"),
        ("tasks: {t1: 3}\n", "tasks.t1: expected a mapping, got int"),
        (
            "jobs: {j1: {DataInitializationDetails: {a: 1}}}\n",
            "jobs.j1.DataInitializationDetails: expected a list, got mapping",
        ),
        (
            "jobs: {j1: {StructureInitializationDetails: [{Constraints: x}]}}\n",
            "jobs.j1.StructureInitializationDetails[0].Constraints: expected a list, got string",
        ),
        (
            "tasks: {t1: {PrecheckStatus: {Detail: x}}}\n",
            "tasks.t1.PrecheckStatus.Detail: expected a list, got string",
        ),
        (
            "faults: {dtsA: [{kind: foo}]}\n",
            f"faults.dtsA[0].kind: unknown fault kind 'foo' (expected one of: {KINDS})",
        ),
        (
            "faults: {dtsA: {kind: latency}}\n",
            "faults.dtsA.seconds: missing (required for latency)",
        ),
        (
            "faults: {dtsA: {kind: latency, seconds: -1}}\n",
            "faults.dtsA.seconds: expected a number > 0, got -1",
        ),
        (
            "faults: {dtsA: {kind: throttling, pages: [0]}}\n",
            "faults.dtsA.pages: page numbers are integers >= 1, got 0",
        ),
        (
            "faults: {dtsA: {kind: throttling, pages: 2}}\n",
            "faults.dtsA.pages: expected a non-empty list of page numbers, got 2",
        ),
        (
            "faults: {'*': {kind: html, when: now}}\n",
            "faults.*.when: unknown key (expected one of: kind, pages, retry_after_ms, seconds)",
        ),
        (
            "tasks: {t1: {Status: 2024-01-01}}\n",
            "tasks.t1.Status: unsupported value of type date (quote it to keep it as a string)",
        ),
    ],
)
def test_scenario_validation_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert str(caught.value) == f"{path}: {message}"
    assert "\n" not in str(caught.value)


def test_unreadable_and_unparseable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read scenario file: No such"):
        load_scenario(str(missing))
    broken = tmp_path / "broken.yaml"
    broken.write_text("jobs: {a: [1, 2}\n")
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(broken))
    assert str(caught.value).startswith(f"{broken}: invalid YAML at line 1")
    assert "\n" not in str(caught.value)


def test_json_scenario_with_tabs_loads(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text('{\n\t"tasks": {"t1": {"Status": "Finished", "Success": true}}\n}\n')
    scenario = load_scenario(str(path))
    assert scenario.tasks["t1"] == {"Status": "Finished", "Success": True}
    assert scenario.jobs == {} and scenario.faults == {} and scenario.dts_jobs == {}


def test_fault_specs_parse_into_faults(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "faults:\n"
        "  dtsA:\n"
        "    - {kind: throttling, pages: [2, 3], retry_after_ms: 500}\n"
        "    - {kind: latency, seconds: 0.2}\n"
        "  '*': {kind: reset}\n"
    )
    faults = load_scenario(str(path)).faults
    assert faults["dtsA"] == (
        Fault("throttling", pages=frozenset({2, 3}), retry_after_ms=500),
        Fault("latency", seconds=0.2),
    )
    assert faults["*"] == (Fault("reset"),)
