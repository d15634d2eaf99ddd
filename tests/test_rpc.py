"""What a signed request carries, for both signature versions."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from dts_exporter.base.credentials import Credentials
from dts_exporter.wire import rpc, signing

CREDS = Credentials("LTAIid", "secret", "sts-token")


def test_v3_signs_host_and_every_acs_header_and_sends_the_token_as_a_header() -> None:
    request = rpc.sign(
        "https://dts.aliyuncs.com", "DescribeDtsJobs", "2020-01-01", {"A": "b c"}, CREDS
    )
    headers = request.headers
    assert headers["x-acs-action"] == "DescribeDtsJobs"
    assert headers["x-acs-security-token"] == "sts-token"
    parsed = signing.parse_v3_authorization(headers["Authorization"])
    assert parsed is not None
    key_id, signed, signature = parsed
    assert key_id == "LTAIid"
    assert set(signed) == {"host"} | {h for h in headers if h.startswith("x-acs-")}
    canonical = signing.v3_canonical_request(
        "POST", "/", {"A": "b c"}, headers, signed, signing.EMPTY_SHA256
    )
    assert signature == signing.sign_v3(canonical, "secret")
    assert dict(parse_qsl(urlsplit(request.url).query)) == {"A": "b c"}
    assert "secret" not in repr(request) and "sts-token" not in repr(request)


def test_v1_puts_everything_in_the_query_with_format_json() -> None:
    request = rpc.sign(
        "http://127.0.0.1:1", "DescribeDtsJobs", "2020-01-01", {"A": "1"}, CREDS, "v1"
    )
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query["Format"] == "JSON" and query["SecurityToken"] == "sts-token"
    signature = query.pop("Signature")
    assert signature == signing.sign_v1("POST", query, "secret")
    assert request.headers == {}


def test_every_request_gets_a_fresh_nonce() -> None:
    nonces = {
        rpc.sign("http://h", "A", "1", {}, CREDS).headers["x-acs-signature-nonce"]
        for _ in range(50)
    }
    assert len(nonces) == 50
