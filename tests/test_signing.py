"""Signing against the published test vector and the official SDK's own code."""

from __future__ import annotations

import hashlib

import pytest

from dts_exporter.wire import signing

VECTOR_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeInitializationStatus",
    "Format": "JSON",
    "PageNum": "1",
    "PageSize": "30",
    "RegionId": "cn-hangzhou",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "abc 123*~",
    "SignatureVersion": "1.0",
    "SynchronizationJobId": "dtsxxx",
    "Timestamp": "2024-01-01T00:00:00Z",
    "Version": "2020-01-01",
}


def test_v1_signature_matches_published_vector() -> None:
    assert signing.sign_v1("POST", VECTOR_PARAMS, "testsecret") == "lFB7IHi1IKPCcZShGcAhKgftjPs="


def test_v1_signature_changes_with_secret_and_method() -> None:
    assert signing.sign_v1("POST", VECTOR_PARAMS, "other") != "lFB7IHi1IKPCcZShGcAhKgftjPs="
    assert signing.sign_v1("GET", VECTOR_PARAMS, "testsecret") != "lFB7IHi1IKPCcZShGcAhKgftjPs="


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [("abc 123*~", "abc%20123%2A~"), ("a/b", "a%2Fb"), ("é", "%C3%A9"), ("A-Z_.", "A-Z_.")],
)
def test_percent_encoding_is_rfc3986(raw: str, encoded: str) -> None:
    assert signing.percent_encode(raw) == encoded


def test_v1_agrees_with_official_sdk() -> None:
    sdk_utils = pytest.importorskip("alibabacloud_tea_openapi.utils")
    expected = sdk_utils.Utils.get_rpcsignature(dict(VECTOR_PARAMS), "POST", "testsecret")
    assert signing.sign_v1("POST", VECTOR_PARAMS, "testsecret") == expected


def test_v3_agrees_with_official_sdk() -> None:
    sdk_utils = pytest.importorskip("alibabacloud_tea_openapi.utils")
    request_cls = pytest.importorskip("darabonba.request").DaraRequest
    headers = {
        "host": "dts.aliyuncs.com",
        "x-acs-action": "DescribeSynchronizationObjectModifyStatus",
        "x-acs-version": "2020-01-01",
        "x-acs-date": "2024-01-01T00:00:00Z",
        "x-acs-signature-nonce": "nonce-1",
        "x-acs-content-sha256": signing.EMPTY_SHA256,
    }
    query = {"TaskId": "k71r16fj13g", "RegionId": "cn-hangzhou", "Odd": "a b*~"}
    request = request_cls()
    request.method = "POST"
    request.pathname = "/"
    request.query = dict(query)
    request.headers = dict(headers)
    expected = sdk_utils.Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", signing.EMPTY_SHA256, "testid", "testsecret"
    )
    canonical = signing.v3_canonical_request(
        "POST", "/", query, headers, headers.keys(), signing.EMPTY_SHA256
    )
    ours = signing.v3_authorization(
        "testid", headers.keys(), signing.sign_v3(canonical, "testsecret")
    )
    assert ours == expected


def test_empty_payload_hash() -> None:
    assert hashlib.sha256(b"").hexdigest() == signing.EMPTY_SHA256
    assert signing.EMPTY_SHA256.startswith("e3b0c442")


def test_parse_v3_authorization_round_trip() -> None:
    header = signing.v3_authorization("AK", ["x-acs-date", "host"], "abcd")
    assert signing.parse_v3_authorization(header) == ("AK", ["host", "x-acs-date"], "abcd")
    assert signing.parse_v3_authorization("HMAC-SHA1 foo") is None
    assert signing.parse_v3_authorization("ACS3-HMAC-SHA256 Credential=AK") is None
