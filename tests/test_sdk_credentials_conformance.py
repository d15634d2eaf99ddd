"""The official credentials providers cannot tell the simulator from STS, ECS or a URI.

`alibabacloud_credentials` (the package the official SDK's default chain uses) is pointed
at the simulator the ways its public options allow:

- OIDC (RRSA) and RAM role ARN: `sts_endpoint="http://127.0.0.1:PORT"`; the providers
  hard-code https, but the request layer (Tea) keeps a scheme given with the host.
- ECS RAM role: the metadata host `100.100.100.200` is hard-coded; `HttpOptions(proxy=...)`
  sends the requests to the simulator as an HTTP proxy (absolute-form request lines).
- Credentials URI: `uri="http://127.0.0.1:PORT/credentials-uri"`.

Each test then signs real DTS SDK calls (v3 and v1) with what the provider obtained.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dts_exporter.simulator import Scenario, SimulatorServer, start_simulator
from tests.simulator_signer import Clock

providers = pytest.importorskip("alibabacloud_credentials.provider")
credential_client = pytest.importorskip("alibabacloud_credentials.client")
credential_http = pytest.importorskip("alibabacloud_credentials.http")
credential_errors = pytest.importorskip("alibabacloud_credentials.exceptions")
dts_client = pytest.importorskip("alibabacloud_dts20200101.client")
dts_models = pytest.importorskip("alibabacloud_dts20200101.models")
open_api_models = pytest.importorskip("alibabacloud_tea_openapi.models")
sdk_exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
dara_runtime = pytest.importorskip("darabonba.runtime")

pytestmark = pytest.mark.usefixtures("no_proxy")  # the SDKs honour proxy variables

AK = "LTAI5tCredentialsConformance"
SECRET = "credentials-conformance-secret"
ACCOUNT = "1234567890123456"
ROLE = f"acs:ram::{ACCOUNT}:role/dts-exporter"
CROSS_ROLE = "acs:ram::6543210987654321:role/dts-readonly"
PROVIDER = f"acs:ram::{ACCOUNT}:oidc-provider/ack-rrsa-c4d8e2f61a9b74c03b5e8d1f2a6c9e7b0"
ECS_ROLE = "dts-exporter-ecs"
TASK = "k71r16fjcred"
TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.projected-token-1.sig"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.projected-token-2.sig"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN_1 + "\n")
    return path


def make_server(token_file: Path, **options: Any) -> SimulatorServer:
    return start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        scenario=Scenario(tasks={TASK: {"Status": "Finished"}}),
        role_arn=ROLE,
        extra_role_arns=(CROSS_ROLE,),
        oidc_provider_arn=PROVIDER,
        oidc_token_file=str(token_file),
        ecs_role_name=ECS_ROLE,
        **options,
    )


@pytest.fixture
def server(token_file: Path) -> Iterator[SimulatorServer]:
    simulator = make_server(token_file)
    yield simulator
    simulator.close()


@pytest.fixture(params=["v3", "v2"])
def algorithm(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def oidc_provider(server: SimulatorServer, token_file: Path) -> Any:
    return providers.OIDCRoleArnCredentialsProvider(
        role_arn=ROLE,
        oidc_provider_arn=PROVIDER,
        oidc_token_file_path=str(token_file),
        role_session_name="dts-exporter-pod",
        sts_endpoint=server.url,
    )


def describe_task(server: SimulatorServer, provider: Any, algorithm: str) -> Any:
    """A DTS SDK call signed with whatever `provider` supplies (token included)."""
    config = open_api_models.Config(
        credential=credential_client.Client(provider=provider),
        endpoint=server.url.removeprefix("http://"),
        protocol="http",
        region_id="cn-hangzhou",
        read_timeout=5000,
        connect_timeout=2000,
    )
    if algorithm == "v2":
        config.signature_algorithm = "v2"
    request = dts_models.DescribeSynchronizationObjectModifyStatusRequest(
        task_id=TASK, region_id="cn-hangzhou"
    )
    runtime = dara_runtime.RuntimeOptions(read_timeout=5000, connect_timeout=2000)
    client = dts_client.Client(config)
    return client.describe_synchronization_object_modify_status_with_options(request, runtime)


def assert_temporary(credentials: Any) -> None:
    assert credentials.get_access_key_id().startswith("STS.")
    assert len(credentials.get_security_token()) >= 300
    assert credentials.get_expiration() > 0


def test_oidc_provider(server: SimulatorServer, token_file: Path, algorithm: str) -> None:
    provider = oidc_provider(server, token_file)
    assert_temporary(provider.get_credentials())
    assert describe_task(server, provider, algorithm).body.status == "Finished"
    assert server.request_counts() == {
        "AssumeRoleWithOIDC": 1,
        "DescribeSynchronizationObjectModifyStatus": 1,
    }


def test_oidc_provider_follows_token_rotation(token_file: Path) -> None:
    """Short-lived credentials are stale at once: each call re-reads the token file."""
    simulator = make_server(token_file, sts_duration_seconds=5)
    try:
        provider = oidc_provider(simulator, token_file)
        first = provider.get_credentials().get_access_key_id()
        token_file.write_text(TOKEN_2 + "\n")
        second = provider.get_credentials().get_access_key_id()
        assert first != second
        assert simulator.request_counts() == {"AssumeRoleWithOIDC": 2}
        stranger = providers.OIDCRoleArnCredentialsProvider(
            role_arn=ROLE,
            oidc_provider_arn=f"acs:ram::{ACCOUNT}:oidc-provider/other",
            oidc_token_file_path=str(token_file),
            sts_endpoint=simulator.url,
        )
        with pytest.raises(credential_errors.CredentialException) as caught:
            stranger.get_credentials()
        assert "EntityNotExist.OIDCProvider" in str(caught.value)
    finally:
        simulator.close()


def test_ram_role_arn_provider(server: SimulatorServer, algorithm: str) -> None:
    provider = providers.RamRoleArnCredentialsProvider(
        access_key_id=AK,
        access_key_secret=SECRET,
        role_arn=CROSS_ROLE,
        role_session_name="dts-exporter",
        external_id="abcd1234",
        sts_endpoint=server.url,
    )
    assert_temporary(provider.get_credentials())
    assert describe_task(server, provider, algorithm).body.status == "Finished"
    wrong = providers.RamRoleArnCredentialsProvider(
        access_key_id=AK,
        access_key_secret="not-the-secret",
        role_arn=CROSS_ROLE,
        sts_endpoint=server.url,
    )
    with pytest.raises(credential_errors.CredentialException) as caught:
        wrong.get_credentials()
    assert "SignatureDoesNotMatch" in str(caught.value)


def test_rrsa_then_cross_account_role(server: SimulatorServer, token_file: Path) -> None:
    """AssumeRole signed with RRSA credentials: the SecurityToken travels along."""
    provider = providers.RamRoleArnCredentialsProvider(
        credentials_provider=oidc_provider(server, token_file),
        role_arn=CROSS_ROLE,
        sts_endpoint=server.url,
    )
    assert_temporary(provider.get_credentials())
    assert describe_task(server, provider, "v3").body.status == "Finished"
    counts = server.request_counts()
    assert (counts["AssumeRoleWithOIDC"], counts["AssumeRole"]) == (1, 1)


@pytest.mark.parametrize("require_token", [True, False])
def test_ecs_ram_role_provider(token_file: Path, require_token: bool) -> None:
    simulator = make_server(token_file, metadata_require_token=require_token)
    try:
        provider = providers.EcsRamRoleCredentialsProvider(
            disable_imds_v1=require_token,
            http_options=credential_http.HttpOptions(proxy=simulator.url),
            async_update_enabled=False,
        )
        assert_temporary(provider.get_credentials())
        assert describe_task(simulator, provider, "v3").body.status == "Finished"
        counts = simulator.request_counts()
        # The role is listed (token 1), then its credentials fetched (token 2).
        assert (counts["ecs-metadata-token"], counts["ecs-metadata-credentials"]) == (2, 1)
    finally:
        simulator.close()


def test_ecs_ram_role_provider_with_unknown_role(server: SimulatorServer) -> None:
    provider = providers.EcsRamRoleCredentialsProvider(
        role_name="not-attached",
        disable_imds_v1=True,
        http_options=credential_http.HttpOptions(proxy=server.url),
        async_update_enabled=False,
    )
    with pytest.raises(credential_errors.CredentialException, match="HttpCode=404"):
        provider.get_credentials()


def test_credentials_uri_provider(server: SimulatorServer, algorithm: str) -> None:
    provider = providers.URLCredentialsProvider(uri=server.url + "/credentials-uri")
    assert_temporary(provider.get_credentials())
    assert describe_task(server, provider, algorithm).body.status == "Finished"
    assert server.request_counts()["credentials-uri"] == 1


def test_expired_credentials_are_refused_through_the_sdk(token_file: Path) -> None:
    """A static STS triple past its expiry: the SDK surfaces InvalidSecurityToken.Expired."""
    clock = Clock()
    simulator = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        scenario=Scenario(tasks={TASK: {"Status": "Finished"}}),
        role_arn=ROLE,
        oidc_provider_arn=PROVIDER,
        oidc_token_file=str(token_file),
        # Expirations are whole seconds and the SDK refuses credentials already expired by
        # its own (real) clock when they arrive: 3 s leaves room under load; the simulator's
        # clock is then moved past them.
        sts_duration_seconds=3,
        clock=clock,
    )
    try:
        issued = oidc_provider(simulator, token_file).get_credentials()
        static = providers.StaticSTSCredentialsProvider(
            access_key_id=issued.get_access_key_id(),
            access_key_secret=issued.get_access_key_secret(),
            security_token=issued.get_security_token(),
        )
        assert describe_task(simulator, static, "v3").body.status == "Finished"
        clock.offset += 4
        with pytest.raises(sdk_exceptions.ClientException) as caught:
            describe_task(simulator, static, "v2")
        assert caught.value.code == "InvalidSecurityToken.Expired"
    finally:
        simulator.close()
