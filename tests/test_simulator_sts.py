"""The simulator's STS, ECS metadata and credentials-URI stand-ins, over HTTP.

Temporary credentials they issue must sign DTS calls with their SecurityToken, and stop
working once expired; every refusal has the error code the real services use.
"""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.simulator import Fault, Scenario, SimulatorServer, start_simulator
from tests.simulator_signer import STS_VERSION, Clock, Signer, utc

AK = "LTAI5tStsSimulatorTest"
SECRET = "sts-simulator-test-secret"
ACCOUNT = "1234567890123456"
ROLE = f"acs:ram::{ACCOUNT}:role/dts-exporter"
CROSS_ROLE = "acs:ram::6543210987654321:role/dts-readonly"
PROVIDER = f"acs:ram::{ACCOUNT}:oidc-provider/ack-rrsa-c4d8e2f61a9b74c03b5e8d1f2a6c9e7b0"
ECS_ROLE = "dts-exporter-ecs"
OIDC = "AssumeRoleWithOIDC"
ASSUME = "AssumeRole"
JOB = "dtsi09stsjob4k2m"
TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.first-token.signature-1"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.second-token.signature-2"
STS_KEY = re.compile(r"^STS\.[A-Za-z0-9]{28}$")
SCENARIO = Scenario(
    jobs={JOB: {"DataInitializationDetails": [{"TableName": "t1", "Status": "Finished"}]}}
)


def sts_error(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert response.headers["x-acs-request-id"] == body["RequestId"]
    assert body["Recommend"].endswith(f"q={body['Code']}&product=Sts&requestId={body['RequestId']}")
    return body


def dts_error(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert "product=Dts&" in body["Recommend"]
    return body


def oidc_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "Action": OIDC,
        "Version": STS_VERSION,
        "Format": "JSON",
        "RoleArn": ROLE,
        "OIDCProviderArn": PROVIDER,
        "OIDCToken": TOKEN_1,
        "RoleSessionName": "dts-exporter-pod-1",
        "Timestamp": utc(time.time()),
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def assume_oidc(server: SimulatorServer, **overrides: str | None) -> requests.Response:
    return send_oidc(server, "POST", oidc_params(**overrides))


def send_oidc(server: SimulatorServer, method: str, params: Mapping[str, str]) -> requests.Response:
    # The credentials package puts every parameter in the query string, body empty.
    return requests.request(method, server.url + "/", params=params, timeout=10)


def issued(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    credentials: dict[str, str] = response.json()["Credentials"]
    return credentials


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN_1 + "\n")
    return path


def make_server(clock: Clock, token_file: Path, **options: Any) -> SimulatorServer:
    settings: dict[str, Any] = {
        "access_key_id": AK,
        "access_key_secret": SECRET,
        "scenario": SCENARIO,
        "clock": clock,
        "role_arn": ROLE,
        "extra_role_arns": [CROSS_ROLE],
        "oidc_provider_arn": PROVIDER,
        "oidc_token_file": str(token_file),
        "ecs_role_name": ECS_ROLE,
    }
    settings.update(options)
    return start_simulator("127.0.0.1", 0, **settings)


@pytest.fixture
def server(clock: Clock, token_file: Path) -> Iterator[SimulatorServer]:
    simulator = make_server(clock, token_file)
    yield simulator
    simulator.close()


@pytest.fixture
def short_lived(clock: Clock, token_file: Path) -> Iterator[SimulatorServer]:
    simulator = make_server(clock, token_file, sts_duration_seconds=4)
    yield simulator
    simulator.close()


@pytest.fixture
def signer(server: SimulatorServer, clock: Clock) -> Signer:
    return Signer(server, clock, AK, SECRET)


def init_status(signer: Signer, style: str = "v1", **kw: Any) -> requests.Response:
    response: requests.Response = signer.call(style, INIT, {"SynchronizationJobId": JOB}, **kw)
    return response


# --- AssumeRoleWithOIDC -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_oidc_success_answer(server: SimulatorServer, clock: Clock, method: str) -> None:
    response = send_oidc(server, method, oidc_params())
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = response.json()
    assert list(body) == ["RequestId", "OIDCTokenInfo", "AssumedRoleUser", "Credentials"]
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert body["OIDCTokenInfo"] == {
        "Subject": "system:serviceaccount:monitoring:dts-exporter",
        "Issuer": (
            "https://oidc-ack-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/"
            "c4d8e2f61a9b74c03b5e8d1f2a6c9e7b0"
        ),
        "ClientIds": "sts.aliyuncs.com",
    }
    user = body["AssumedRoleUser"]
    assert re.fullmatch(r"\d{10,20}:dts-exporter-pod-1", user["AssumedRoleId"])
    assert user["Arn"] == f"acs:ram::{ACCOUNT}:assumed-role/dts-exporter/dts-exporter-pod-1"
    credentials = body["Credentials"]
    assert set(credentials) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    assert STS_KEY.match(credentials["AccessKeyId"])
    assert len(credentials["AccessKeySecret"]) >= 30
    assert len(credentials["SecurityToken"]) >= 300
    assert credentials["Expiration"] == utc(math.floor(clock() + 3600))
    assert server.request_counts() == {OIDC: 1}


def test_oidc_duration_and_unique_credentials(server: SimulatorServer, clock: Clock) -> None:
    first = issued(assume_oidc(server, DurationSeconds="900"))
    second = issued(assume_oidc(server, DurationSeconds="43200"))
    assert first["Expiration"] == utc(math.floor(clock() + 900))
    assert second["Expiration"] == utc(math.floor(clock() + 43200))
    for name in ("AccessKeyId", "AccessKeySecret", "SecurityToken"):
        assert first[name] != second[name]


def test_oidc_answers_xml_without_format(server: SimulatorServer) -> None:
    response = assume_oidc(server, Format=None)
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "AssumeRoleWithOIDCResponse"
    assert STS_KEY.match(root.findtext("Credentials/AccessKeyId") or "")


@pytest.mark.parametrize(
    ("overrides", "status", "code", "message"),
    [
        (
            {"RoleArn": f"acs:ram::{ACCOUNT}:role/someone-else"},
            404,
            "EntityNotExist.Role",
            f"The role not exists: acs:ram::{ACCOUNT}:role/someone-else.",
        ),
        (
            {"RoleArn": CROSS_ROLE},  # AssumeRole may use it, RRSA may not
            404,
            "EntityNotExist.Role",
            f"The role not exists: {CROSS_ROLE}.",
        ),
        (
            {"OIDCProviderArn": f"acs:ram::{ACCOUNT}:oidc-provider/other"},
            404,
            "EntityNotExist.OIDCProvider",
            f"The OIDCProvider not exists: acs:ram::{ACCOUNT}:oidc-provider/other.",
        ),
        ({"OIDCToken": TOKEN_2}, 400, "AuthenticationFail.OIDCToken.Invalid", "OIDC token"),
        ({"RoleArn": None}, 400, "MissingParameter", '"RoleArn"'),
        ({"OIDCProviderArn": None}, 400, "MissingParameter", '"OIDCProviderArn"'),
        ({"OIDCToken": ""}, 400, "MissingParameter", '"OIDCToken"'),
        ({"RoleSessionName": None}, 400, "MissingParameter", '"RoleSessionName"'),
        ({"DurationSeconds": "899"}, 400, "InvalidParameter.DurationSeconds", "15min/12hr"),
        ({"DurationSeconds": "43201"}, 400, "InvalidParameter.DurationSeconds", "15min/12hr"),
        ({"DurationSeconds": "1h"}, 400, "InvalidParameter.DurationSeconds", "15min/12hr"),
        ({"RoleSessionName": "a b"}, 400, "InvalidParameter.RoleSessionName", "wrongly"),
    ],
)
def test_oidc_refusals(
    server: SimulatorServer,
    overrides: dict[str, str | None],
    status: int,
    code: str,
    message: str,
) -> None:
    response = assume_oidc(server, **overrides)
    assert response.status_code == status
    body = sts_error(response)
    assert body["Code"] == code
    assert message in body["Message"]
    assert server.request_counts() == {}


def test_oidc_token_file_is_reread_on_every_request(
    server: SimulatorServer, token_file: Path
) -> None:
    assert assume_oidc(server).status_code == 200
    token_file.write_text(f"  {TOKEN_2}\n\n")  # Kubernetes rotated the projected token
    old = assume_oidc(server)
    assert old.status_code == 400
    assert sts_error(old)["Code"] == "AuthenticationFail.OIDCToken.Invalid"
    assert assume_oidc(server, OIDCToken=TOKEN_2).status_code == 200
    token_file.unlink()
    assert sts_error(assume_oidc(server, OIDCToken=TOKEN_2))["Code"] == (
        "AuthenticationFail.OIDCToken.Invalid"
    )
    assert server.request_counts() == {OIDC: 2}


def test_oidc_without_rrsa_configured_refuses(clock: Clock) -> None:
    simulator = start_simulator("127.0.0.1", 0, clock=clock)
    try:
        assert sts_error(assume_oidc(simulator))["Code"] == "EntityNotExist.Role"
    finally:
        simulator.close()


# --- temporary credentials sign DTS calls ---------------------------------------------------


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_issued_credentials_need_their_token(
    server: SimulatorServer, signer: Signer, style: str
) -> None:
    temporary = signer.with_credentials(issued(assume_oidc(server)))
    response = init_status(temporary, style)
    assert response.status_code == 200, response.text
    assert response.json()["DataInitializationDetails"][0]["TableName"] == "t1"
    missing = init_status(temporary, style, send_token=False)
    assert (missing.status_code, dts_error(missing)["Code"]) == (
        400,
        "InvalidSecurityToken.MalFormed",
    )
    temporary.token = "CAIS" + "A" * 400
    wrong = init_status(temporary, style)
    assert (wrong.status_code, dts_error(wrong)["Code"]) == (400, "InvalidSecurityToken.Mismatch")
    wrong_secret = init_status(temporary, style, secret="not-the-secret")
    assert dts_error(wrong_secret)["Code"] == "SignatureDoesNotMatch"


def test_permanent_key_is_unchanged(signer: Signer) -> None:
    assert init_status(signer).status_code == 200
    signer.token = "CAISsomething"
    assert dts_error(init_status(signer))["Code"] == "InvalidSecurityToken.Mismatch"


def test_token_of_other_credentials_is_a_mismatch(server: SimulatorServer, signer: Signer) -> None:
    first = issued(assume_oidc(server))
    second = issued(assume_oidc(server))
    crossed = signer.with_credentials({**first, "SecurityToken": second["SecurityToken"]})
    assert dts_error(init_status(crossed))["Code"] == "InvalidSecurityToken.Mismatch"


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_issued_credentials_expire(short_lived: SimulatorServer, clock: Clock, style: str) -> None:
    credentials = issued(assume_oidc(short_lived))
    assert credentials["Expiration"] == utc(math.floor(clock() + 4))
    temporary = Signer(short_lived, clock, AK, SECRET).with_credentials(credentials)
    assert init_status(temporary, style).status_code == 200
    clock.offset += 4
    expired = init_status(temporary, style)
    assert expired.status_code == 400
    body = dts_error(expired)
    assert (body["Code"], body["Message"]) == (
        "InvalidSecurityToken.Expired",
        "Specified SecurityToken is expired.",
    )
    refreshed = Signer(short_lived, clock, AK, SECRET).with_credentials(
        issued(assume_oidc(short_lived))
    )
    assert init_status(refreshed, style).status_code == 200


# --- AssumeRole ------------------------------------------------------------------------------


def assume_role(signer: Signer, style: str, **params: str) -> requests.Response:
    query = {"RoleArn": ROLE, "RoleSessionName": "dts-exporter", **params}
    if style == "v1":
        return signer.v1(ASSUME, query, version=STS_VERSION)
    response: requests.Response = signer.v3(ASSUME, query, version=STS_VERSION)
    return response


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_assume_role_with_the_permanent_key(
    server: SimulatorServer, signer: Signer, clock: Clock, style: str
) -> None:
    response = assume_role(signer, style, RoleArn=CROSS_ROLE, ExternalId="abc", Policy="{}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["RequestId", "AssumedRoleUser", "Credentials"]
    assert body["AssumedRoleUser"]["Arn"] == (
        "acs:ram::6543210987654321:assumed-role/dts-readonly/dts-exporter"
    )
    assert body["Credentials"]["Expiration"] == utc(math.floor(clock() + 3600))
    temporary = signer.with_credentials(body["Credentials"])
    assert init_status(temporary, style).status_code == 200
    assert server.request_counts() == {ASSUME: 1, INIT: 1}


def test_assume_role_with_temporary_credentials(server: SimulatorServer, signer: Signer) -> None:
    """RRSA credentials assume a cross-account role: the token must travel along."""
    temporary = signer.with_credentials(issued(assume_oidc(server)))
    chained = assume_role(temporary, "v1", RoleArn=CROSS_ROLE, DurationSeconds="900")
    assert chained.status_code == 200, chained.text
    assert init_status(signer.with_credentials(issued(chained))).status_code == 200
    query = {"RoleArn": CROSS_ROLE, "RoleSessionName": "x1"}
    without_token = temporary.v1(ASSUME, query, version=STS_VERSION, send_token=False)
    assert sts_error(without_token)["Code"] == "InvalidSecurityToken.MalFormed"


def test_assume_role_refusals(server: SimulatorServer, signer: Signer) -> None:
    unsigned = requests.post(
        server.url + "/",
        params={
            "Action": ASSUME,
            "Version": STS_VERSION,
            "Format": "JSON",
            "RoleArn": ROLE,
            "RoleSessionName": "dts-exporter",
        },
        timeout=10,
    )
    assert (unsigned.status_code, sts_error(unsigned)["Code"]) == (400, "IncompleteSignature")
    query = {"RoleArn": ROLE, "RoleSessionName": "s1"}
    wrong = signer.v1(ASSUME, query, version=STS_VERSION, secret="not-the-secret")
    assert (wrong.status_code, sts_error(wrong)["Code"]) == (400, "SignatureDoesNotMatch")
    stranger = Signer(server, signer.clock, "LTAI5tNobody", SECRET)
    unknown = assume_role(stranger, "v3")
    assert (unknown.status_code, sts_error(unknown)["Code"]) == (404, "InvalidAccessKeyId.NotFound")
    other_role = assume_role(signer, "v1", RoleArn=f"acs:ram::{ACCOUNT}:role/admin")
    assert (other_role.status_code, sts_error(other_role)["Code"]) == (404, "EntityNotExist.Role")
    missing = signer.v1(ASSUME, {"RoleArn": ROLE}, version=STS_VERSION)
    assert sts_error(missing)["Code"] == "MissingParameter"
    assert '"RoleSessionName"' in sts_error(missing)["Message"]
    assert server.request_counts() == {}


def test_sts_faults_use_pseudo_ids_not_the_wildcard(
    server: SimulatorServer, signer: Signer
) -> None:
    server.set_faults({"*": [Fault("internal_error")]})
    assert assume_oidc(server).status_code == 200
    assert assume_role(signer, "v1").status_code == 200
    server.set_faults({OIDC: [Fault("throttling", retry_after_ms=800)]})
    throttled = assume_oidc(server)
    assert (throttled.status_code, sts_error(throttled)["Code"]) == (400, "Throttling.User")
    assert throttled.headers["x-acs-retry-after"] == "800"
    assert assume_role(signer, "v3").status_code == 200
    server.set_faults({ASSUME: [Fault("service_unavailable")]})
    assert assume_role(signer, "v1").status_code == 503
    assert assume_oidc(server).status_code == 200


# --- ECS instance metadata -------------------------------------------------------------------

METADATA = "/latest/meta-data/ram/security-credentials/"


def metadata_token(server: SimulatorServer, ttl: str | None = "21600") -> requests.Response:
    headers = {} if ttl is None else {"X-aliyun-ecs-metadata-token-ttl-seconds": ttl}
    return requests.put(server.url + "/latest/api/token", headers=headers, timeout=10)


def metadata_get(server: SimulatorServer, path: str, token: str | None) -> requests.Response:
    headers = {} if token is None else {"X-aliyun-ecs-metadata-token": token}
    return requests.get(server.url + path, headers=headers, timeout=10)


def test_ecs_metadata_flow(server: SimulatorServer, signer: Signer, clock: Clock) -> None:
    token_response = metadata_token(server)
    assert token_response.status_code == 200
    token = token_response.text
    assert len(token) >= 20
    listing = metadata_get(server, METADATA, token)
    assert (listing.status_code, listing.text) == (200, ECS_ROLE)
    response = metadata_get(server, METADATA + ECS_ROLE, token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
        "LastUpdated",
        "Code",
    }
    assert body["Code"] == "Success"
    assert STS_KEY.match(body["AccessKeyId"])
    assert body["Expiration"] == utc(math.floor(clock() + 21600))
    assert body["LastUpdated"] == utc(clock())
    assert init_status(signer.with_credentials(body), "v3").status_code == 200
    # Handed out again while most of their life remains, as the real service does.
    assert metadata_get(server, METADATA + ECS_ROLE, token).json() == body
    assert server.request_counts() == {
        "ecs-metadata-token": 1,
        "ecs-metadata-credentials": 2,
        INIT: 1,
    }


def test_ecs_metadata_requires_a_valid_token(server: SimulatorServer, clock: Clock) -> None:
    for path in (METADATA, METADATA + ECS_ROLE):
        assert metadata_get(server, path, None).status_code == 401
        assert metadata_get(server, path, "made-up-token").status_code == 401
    for ttl in (None, "0", "21601", "abc", "", "²"):
        assert metadata_token(server, ttl).status_code == 400, ttl
    assert requests.get(server.url + "/latest/api/token", timeout=10).status_code == 405
    token = metadata_token(server, "60").text
    assert metadata_get(server, METADATA + ECS_ROLE, token).status_code == 200
    clock.offset += 61
    assert metadata_get(server, METADATA + ECS_ROLE, token).status_code == 401
    assert server.request_counts() == {"ecs-metadata-token": 1, "ecs-metadata-credentials": 1}


def test_ecs_metadata_v1_when_tokens_are_optional(clock: Clock, token_file: Path) -> None:
    simulator = make_server(clock, token_file, metadata_require_token=False)
    try:
        assert metadata_get(simulator, METADATA, None).text == ECS_ROLE
        assert metadata_get(simulator, METADATA + ECS_ROLE, None).json()["Code"] == "Success"
        assert metadata_get(simulator, METADATA + ECS_ROLE, "made-up").status_code == 401
    finally:
        simulator.close()


def test_ecs_metadata_unknown_role_and_no_role(clock: Clock, server: SimulatorServer) -> None:
    token = metadata_token(server).text
    assert metadata_get(server, METADATA + "other-role", token).status_code == 404
    assert metadata_get(server, "/latest/meta-data/instance-id", token).status_code == 404
    simulator = start_simulator("127.0.0.1", 0, clock=clock)
    try:
        token = metadata_token(simulator).text
        assert metadata_get(simulator, METADATA, token).status_code == 404
        assert metadata_get(simulator, METADATA + ECS_ROLE, token).status_code == 404
    finally:
        simulator.close()


def test_ecs_credentials_rotate_and_expire(short_lived: SimulatorServer, clock: Clock) -> None:
    token = metadata_token(short_lived).text
    first = metadata_get(short_lived, METADATA + ECS_ROLE, token).json()
    assert first["Expiration"] == utc(math.floor(clock() + 4))
    old = Signer(short_lived, clock, AK, SECRET).with_credentials(first)
    clock.offset += 4
    assert dts_error(init_status(old))["Code"] == "InvalidSecurityToken.Expired"
    second = metadata_get(short_lived, METADATA + ECS_ROLE, token).json()
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert (
        init_status(Signer(short_lived, clock, AK, SECRET).with_credentials(second)).status_code
        == 200
    )


def test_metadata_reachable_through_the_simulator_as_proxy(server: SimulatorServer) -> None:
    """Clients that hard-code 100.100.100.200 reach the stand-in with a proxy setting."""
    proxies = {"http": server.url}
    token = requests.put(
        "http://100.100.100.200/latest/api/token",
        headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "21600"},
        proxies=proxies,
        timeout=10,
    ).text
    listing = requests.get(
        "http://100.100.100.200" + METADATA,
        headers={"X-aliyun-ecs-metadata-token": token},
        proxies=proxies,
        timeout=10,
    )
    assert (listing.status_code, listing.text) == (200, ECS_ROLE)


# --- credentials URI -------------------------------------------------------------------------


def test_credentials_uri(short_lived: SimulatorServer, clock: Clock) -> None:
    response = requests.get(short_lived.url + "/credentials-uri", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["Code"] == "Success"
    assert STS_KEY.match(body["AccessKeyId"])
    assert body["Expiration"] == utc(math.floor(clock() + 4))
    temporary = Signer(short_lived, clock, AK, SECRET).with_credentials(body)
    assert init_status(temporary, "v3").status_code == 200
    assert dts_error(init_status(temporary, send_token=False))["Code"] == (
        "InvalidSecurityToken.MalFormed"
    )
    clock.offset += 4
    assert dts_error(init_status(temporary))["Code"] == "InvalidSecurityToken.Expired"
    renewed = requests.get(short_lived.url + "/credentials-uri", timeout=10).json()
    assert renewed["AccessKeyId"] != body["AccessKeyId"]
    assert requests.post(short_lived.url + "/credentials-uri", timeout=10).status_code == 405
    assert short_lived.request_counts() == {"credentials-uri": 2, INIT: 1}  # refusals uncounted


def test_start_simulator_rejects_a_non_positive_lifetime() -> None:
    with pytest.raises(ValueError, match="sts_duration_seconds"):
        start_simulator("127.0.0.1", 0, sts_duration_seconds=0)
