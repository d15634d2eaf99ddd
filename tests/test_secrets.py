"""Secret hygiene: the AccessKey secret, the STS token, the OIDC token, the temporary
credentials STS hands out and every signature sent never show up in logs (debug level
included), `/metrics`, `check` output, exception messages or reprs.

Real exporter processes (serve and check, `log_level: debug`) run against an in-process
simulator, which records every signature it receives and every credential it issues, so
the test knows exactly what must not leak. Failures are driven on purpose: a wrong secret
(SignatureDoesNotMatch, whose message quotes the server's string to sign, which for
signature v1 holds the SecurityToken), an unknown job, a wrong OIDC token.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
import requests
import yaml

from dts_exporter.actions import initialization
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import LogfmtFormatter, setup_logging
from dts_exporter.config import parse_config
from dts_exporter.simulator import DEMO_JOBS, SimulatorServer, start_simulator
from dts_exporter.simulator import api as simulator_api
from dts_exporter.simulator.identities import Identity
from dts_exporter.startup import make_credentials
from dts_exporter.wire import rpc, transport
from dts_exporter.wire.client import DtsClient
from tests.procs import Process, free_port, run_cli

ROLE = "acs:ram::1111111111111111:role/dts-reader"
PROVIDER = "acs:ram::1111111111111111:oidc-provider/ack-rrsa-c0ffee"
AKID = "LTAI5tSecretHygiene"
# Random per run, with the characters real tokens have (base64: + / =), so that encoded
# forms are checked too.
SECRET = "sk-" + secrets.token_urlsafe(24)
WRONG_SECRET = "wrong-" + secrets.token_urlsafe(24)
STS_TOKEN = "CAIS" + secrets.token_hex(16) + "+/=" + secrets.token_hex(8)
OIDC_TOKEN = "eyJ" + secrets.token_hex(20) + ".oidc+/=" + secrets.token_hex(8)
WRONG_OIDC_TOKEN = "eyJ" + secrets.token_hex(20) + ".wrong+/"
JOB = DEMO_JOBS[0]


@dataclass
class Recorder:
    """What the simulator saw: signatures received and credentials issued."""

    signatures: set[str] = field(default_factory=set)
    issued: list[Identity] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def secrets(self) -> dict[str, str]:
        found = {
            "access key secret": SECRET,
            "wrong secret": WRONG_SECRET,
            "STS token": STS_TOKEN,
            "OIDC token": OIDC_TOKEN,
            "wrong OIDC token": WRONG_OIDC_TOKEN,
        }
        with self.lock:
            for index, identity in enumerate(self.issued):
                found[f"issued secret {index}"] = identity.access_key_secret
                found[f"issued token {index}"] = identity.security_token or ""
            for index, signature in enumerate(sorted(self.signatures)):
                found[f"signature {index}"] = signature
        return found


def _forms(value: str) -> set[str]:
    """The value as it may appear: raw, URL-encoded once (a query) or twice (a v1 string
    to sign)."""
    once = quote(value, safe="")
    return {value, once, quote(once, safe="")}


def assert_clean(where: str, text: str, recorder: Recorder) -> None:
    assert text, f"{where}: nothing to check"
    for name, value in recorder.secrets().items():
        for form in _forms(value):
            assert form not in text, f"{where} holds the {name}"


@dataclass
class Cloud:
    server: SimulatorServer
    recorder: Recorder
    token_file: Path
    tmp: Path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp = tmp_path_factory.mktemp("secrets")
    token_file = tmp / "token"
    token_file.write_text(OIDC_TOKEN)
    recorder = Recorder()
    server = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AKID,
        access_key_secret=SECRET,
        security_token=STS_TOKEN,
        role_arn=ROLE,
        oidc_provider_arn=PROVIDER,
        oidc_token_file=str(token_file),
    )
    issue = server.credentials.issue

    def recording_issue(lifetime: float, issuer: str) -> Identity:
        identity = issue(lifetime, issuer)
        with recorder.lock:
            recorder.issued.append(identity)
        return identity

    server.credentials.issue = recording_issue  # type: ignore[method-assign]
    handle_api = simulator_api.handle_api

    def recording_handle_api(
        srv: SimulatorServer,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str,
    ) -> Any:
        found = [v for k, v in parse_qsl(query_string) if k == "Signature"]
        found += [v for k, v in parse_qsl(body.decode("utf-8", "replace")) if k == "Signature"]
        authorization = headers.get("authorization", "")
        if "Signature=" in authorization:
            found.append(authorization.rsplit("Signature=", 1)[1].strip())
        with recorder.lock:
            recorder.signatures.update(v for v in found if v)
        return handle_api(srv, method, path, query_string, headers, body, request_id)

    simulator_api.handle_api = recording_handle_api  # type: ignore[assignment]
    try:
        yield Cloud(server, recorder, token_file, tmp)
    finally:
        simulator_api.handle_api = handle_api
        server.close()


def _config(cloud: Cloud, name: str, **extra: Any) -> Path:
    settings = {
        "region": "cn-hangzhou",
        "endpoint": cloud.server.url,
        "sts_endpoint": cloud.server.url,
        "log_level": "debug",
        "timeout_seconds": 2,
        "max_retries": 1,
        "jobs": [
            {"id": JOB.job_id, "name": "orders", "modify_tasks": list(JOB.task_ids)},
            {"id": "dtsnosuchjob", "modify_tasks": ["nosuchtask"]},
        ],
        **extra,
    }
    path = cloud.tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _env(secret: str = SECRET) -> dict[str, str]:
    return {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": AKID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": STS_TOKEN,
    }


# In-process chains never look for the ECS metadata service (off limits here).
NO_ECS = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
RRSA = {
    "ALIBABA_CLOUD_ROLE_ARN": ROLE,
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
}

# name -> (config extras, environment, whether DTS calls succeed)
RUNS: dict[str, tuple[dict[str, Any], dict[str, str], bool]] = {
    "v3": ({}, _env(), True),
    "v1": ({"signature_version": "v1"}, _env(), True),
    "v3-wrong-secret": ({}, _env(WRONG_SECRET), False),
    "v1-wrong-secret": ({"signature_version": "v1"}, _env(WRONG_SECRET), False),
    "rrsa": ({}, RRSA, True),
    "config-file-keys": (
        {
            "credentials": {
                "access_key_id": AKID,
                "access_key_secret": SECRET,
                "security_token": STS_TOKEN,
            },
            "signature_version": "v1",
        },
        {},
        True,
    ),
}


@pytest.fixture(scope="module")
def runs(cloud: Cloud) -> Iterator[dict[str, tuple[Process, str]]]:
    started: dict[str, tuple[Process, str]] = {}
    for name, (extra, base_env, _) in RUNS.items():
        port = free_port()
        env = {**base_env}
        if name == "rrsa":
            env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] = str(cloud.token_file)
        process = Process(
            [
                "serve",
                "--config",
                str(_config(cloud, name, **extra)),
                "--listen-address",
                f"127.0.0.1:{port}",
            ],
            cloud.tmp / f"{name}.log",
            env=env,
        )
        started[name] = (process, f"http://127.0.0.1:{port}")
    for process, url in started.values():
        process.wait_http(f"{url}/healthz")
    yield started
    for process, _ in started.values():
        assert process.stop() == 0, process.output()


@pytest.mark.slow  # exporter processes
@pytest.mark.parametrize("name", list(RUNS))
def test_serve_logs_and_metrics(
    cloud: Cloud, runs: dict[str, tuple[Process, str]], name: str
) -> None:
    process, url = runs[name]
    _, _, succeeds = RUNS[name]
    for _ in range(2):
        metrics = requests.get(f"{url}/metrics", timeout=30).text
        assert_clean(f"{name}: /metrics", metrics, cloud.recorder)
    up = f'dts_up{{action="{INIT}",job_id="{JOB.job_id}",task_id=""}} '
    assert (up + ("1.0" if succeeds else "0.0")) in metrics, metrics[:2000]
    if not succeeds:
        assert 'code="SignatureDoesNotMatch"' in metrics
    assert 'code="InvalidJobId"' in metrics or not succeeds  # a failure on the way
    log = process.output()
    assert "level=debug" in log  # debug logging was really on
    assert_clean(f"{name}: the log", log, cloud.recorder)
    # urllib3 at debug would print every request line, with v1's signed query string.
    assert "connectionpool" not in log and "Starting new HTTP" not in log
    if not succeeds:
        assert "SignatureDoesNotMatch" in log
        assert "string to sign" in log  # the message is kept, the string itself is not


@pytest.mark.slow  # exporter processes
def test_signatures_were_recorded(cloud: Cloud, runs: dict[str, tuple[Process, str]]) -> None:
    for _, url in runs.values():
        requests.get(f"{url}/metrics", timeout=30)
    with cloud.recorder.lock:
        signatures = set(cloud.recorder.signatures)
        issued = list(cloud.recorder.issued)
    assert any(len(s) == 64 for s in signatures)  # v3: hex SHA-256
    assert any(len(s) == 28 for s in signatures)  # v1: base64 SHA-1
    assert issued  # RRSA's AssumeRoleWithOIDC handed out temporary credentials


@pytest.mark.slow  # `check` processes
@pytest.mark.parametrize(
    ("name", "extra", "env"),
    [
        ("check-v1", {"signature_version": "v1"}, _env()),
        ("check-v1-wrong", {"signature_version": "v1"}, _env(WRONG_SECRET)),
        ("check-v3-wrong", {}, _env(WRONG_SECRET)),
        ("check-rrsa", {}, RRSA),
        ("check-rrsa-wrong-token", {}, RRSA),
    ],
)
def test_check_output(cloud: Cloud, name: str, extra: dict[str, Any], env: dict[str, str]) -> None:
    env = dict(env)
    if "rrsa" in name:
        token = cloud.tmp / f"{name}.token"
        token.write_text(WRONG_OIDC_TOKEN if "wrong" in name else OIDC_TOKEN)
        env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] = str(token)
    result = run_cli(["check", "--config", str(_config(cloud, name, **extra))], env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the unknown job fails in every case
    assert_clean(name, output, cloud.recorder)
    if "wrong" in name:
        expected = (
            "AuthenticationFail.OIDCToken.Invalid" if "rrsa" in name else "SignatureDoesNotMatch"
        )
        assert expected in output


# -- objects in the exporter's own process ------------------------------------------------


def _strings(*objects: object) -> Iterable[tuple[str, str]]:
    for obj in objects:
        yield f"repr({type(obj).__name__})", repr(obj)
        yield f"str({type(obj).__name__})", str(obj)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The exporter's logging set-up at debug level, its records also kept in a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("urllib3").level)
    setup_logging("debug")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(LogfmtFormatter())
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("urllib3").setLevel(saved[2])


def test_objects_and_exceptions(cloud: Cloud, tmp_path: Path, debug_log: io.StringIO) -> None:
    # urllib3 logs every request line (v1: the signed query) at debug: kept at WARNING.
    assert logging.getLogger("urllib3").getEffectiveLevel() == logging.WARNING
    config = parse_config(
        {
            "region": "cn-hangzhou",
            "endpoint": cloud.server.url,
            "sts_endpoint": cloud.server.url,
            "credentials": {
                "access_key_id": AKID,
                "access_key_secret": WRONG_SECRET,
                "security_token": STS_TOKEN,
            },
            "jobs": [{"id": JOB.job_id}],
        }
    )
    checked: list[tuple[str, str]] = [
        *_strings(config, config.credentials),
    ]
    credentials = Credentials(AKID, SECRET, STS_TOKEN, expiration=None)
    wrong = Credentials(AKID, WRONG_SECRET, STS_TOKEN, expiration=None)
    checked += _strings(credentials, StaticProvider(credentials))
    for version in ("v1", "v3"):
        request = rpc.sign(cloud.server.url, INIT, "2020-01-01", {"X": "1"}, credentials, version)
        checked += _strings(request)
        for signature_version in ("v1", "v3"):
            client = DtsClient(
                region="cn-hangzhou",
                credentials=StaticProvider(wrong),
                timeout_seconds=2,
                pool_size=4,
                endpoint=cloud.server.url,
                signature_version=signature_version,
            )
            with pytest.raises(DtsApiError) as caught:
                initialization.request(client, JOB.job_id)
            assert caught.value.code == "SignatureDoesNotMatch"
            assert "string to sign" in caught.value.message
            checked += _strings(client, caught.value)
            checked.append(("DtsApiError.message", caught.value.message))
            checked.append(("DtsApiError.args", repr(caught.value.args)))
            client.close()

    # The chain, from the environment and from RRSA, before and after fetching.
    for env in (_env(), {**RRSA, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(cloud.token_file)}):
        provider, sources = make_credentials(
            config_without_keys(cloud), {**env, **NO_ECS}, tmp_path
        )
        checked += _strings(provider)
        fetched = provider.get()
        checked += _strings(provider, fetched)
        assert sources
    # A failing OIDC exchange: its error must not echo the token either.
    bad_token = tmp_path / "bad.token"
    bad_token.write_text(WRONG_OIDC_TOKEN)
    provider, _ = make_credentials(
        config_without_keys(cloud),
        {**RRSA, **NO_ECS, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(bad_token)},
        tmp_path,
    )
    with pytest.raises(DtsApiError) as failed:
        provider.get()
    checked += _strings(provider, failed.value)
    checked.append(("CredentialsError.message", failed.value.message))

    # transport's own messages for transport failures carry no query string
    with pytest.raises(DtsApiError) as refused:
        transport.send(
            transport.new_session(4),
            "POST",
            f"http://127.0.0.1:{free_port()}/?Signature=abc&SecurityToken={quote(STS_TOKEN)}",
            timeout=1,
            action=INIT,
        )
    checked += _strings(refused.value)

    checked.append(("log records", debug_log.getvalue()))
    for where, text in checked:
        assert_clean(where, text, cloud.recorder)


def config_without_keys(cloud: Cloud) -> Any:
    return parse_config(
        {
            "region": "cn-hangzhou",
            "endpoint": cloud.server.url,
            "sts_endpoint": cloud.server.url,
            "ecs_metadata_endpoint": cloud.server.url,
            "jobs": [{"id": JOB.job_id}],
        }
    )


def test_service_messages_are_redacted() -> None:
    token = quote(quote(STS_TOKEN, safe=""), safe="")
    message = (
        "Specified signature is not matched with our calculation. server string to sign is:"
        f"POST&%2F&AccessKeyId%3D{AKID}%26SecurityToken%3D{token}%26Signature%3Dabc"
    )
    assert transport.redact(message) == (
        "Specified signature is not matched with our calculation. server string to sign is: "
        "[redacted]"
    )
    assert transport.redact(f"bad SecurityToken={STS_TOKEN}&Action=x") == (
        "bad SecurityToken=[redacted]&Action=x"
    )
    assert transport.redact("Specified SecurityToken is expired.") == (
        "Specified SecurityToken is expired."
    )
    # Through decode_response, as every service answer goes.
    with pytest.raises(DtsApiError) as caught:
        transport.decode_response(
            INIT,
            400,
            json.dumps({"Code": "SignatureDoesNotMatch", "Message": message}).encode(),
        )
    assert token not in str(caught.value) and STS_TOKEN not in str(caught.value)
    assert caught.value.code == "SignatureDoesNotMatch"
