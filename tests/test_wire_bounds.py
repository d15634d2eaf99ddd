"""Bounds on what a server can make the exporter do: no redirects followed, pages bounded by
the PageSize asked for and never repeated, JSON nesting bounded."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.base.errors import DtsApiError
from dts_exporter.credentials.instance import ecs_role_credentials, uri_credentials
from dts_exporter.credentials.sts import assume_role, assume_role_with_oidc
from dts_exporter.wire import transport
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import PageCall, fetch_pages
from dts_exporter.wire.retry import RetryPolicy

# -- redirects -----------------------------------------------------------------------------


class _Server:
    """A tiny HTTP server on 127.0.0.1 answering every request with `status` (and a
    Location), recording each request's method and path."""

    def __init__(self, status: int, location: str = "") -> None:
        self.seen: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.seen.append((self.command, self.path))
                body = b'{"Code": "Success"}'
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=[302, 307])
def redirecting(request: pytest.FixtureRequest) -> Iterator[tuple[_Server, _Server]]:
    capture = _Server(200)
    redirect = _Server(request.param, location=f"{capture.url}/")
    yield redirect, capture
    redirect.close()
    capture.close()


def _oidc(url: str, tmp_path: Path) -> object:
    token = tmp_path / "token"
    token.write_text("oidc-token")
    return assume_role_with_oidc(
        transport.new_session(1),
        url,
        role_arn="acs:ram::1:role/r",
        oidc_provider_arn="acs:ram::1:oidc-provider/p",
        token_file=str(token),
        session_name="s",
    )


def _assume_role(url: str, tmp_path: Path) -> object:
    base = StaticProvider(Credentials("id", "secret"))
    return assume_role(
        transport.new_session(1), url, base, role_arn="acs:ram::1:role/r", session_name="s"
    )


def _dts(url: str, tmp_path: Path) -> object:
    client = DtsClient(
        endpoint=url,
        region="cn-hangzhou",
        credentials=StaticProvider(Credentials("id", "secret")),
        timeout_seconds=5.0,
        pool_size=1,
        retry=RetryPolicy(max_retries=0),
    )
    return client.call("DescribeDtsJobs", {"RegionId": "cn-hangzhou"})


CALLS: dict[str, Callable[[str, Path], object]] = {
    "dts": _dts,
    "assume_role_with_oidc": _oidc,
    "assume_role": _assume_role,
    "ecs_metadata": lambda url, _: ecs_role_credentials(transport.new_session(1), url, "role"),
    "ecs_metadata_imdsv2_only": lambda url, _: ecs_role_credentials(
        transport.new_session(1), url, "role", imdsv1_disabled=True
    ),
    "credentials_uri": lambda url, _: uri_credentials(transport.new_session(1), f"{url}/creds"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_redirects_are_never_followed(
    call: str, redirecting: tuple[_Server, _Server], tmp_path: Path
) -> None:
    redirect, capture = redirecting
    with pytest.raises(DtsApiError) as info:
        CALLS[call](redirect.url, tmp_path)
    assert capture.seen == []
    assert redirect.seen, "the call never reached the redirecting server"
    assert info.value.code in ("HTTP302", "HTTP307")
    assert "redirect" in info.value.message


# -- pages ---------------------------------------------------------------------------------


def _pages(pages: list[list[dict[str, Any]]], total: int | None = None) -> PageCall:
    def call(number: int) -> Mapping[str, Any]:
        body: dict[str, Any] = {"RequestId": f"R{number}", "Items": pages[number - 1]}
        if total is not None:
            body["Total"] = total
        return body

    return call


def _items(start: int, count: int) -> list[dict[str, Any]]:
    return [{"Id": f"i{n}"} for n in range(start, start + count)]


def test_a_page_larger_than_the_page_size_is_invalid() -> None:
    with pytest.raises(DtsApiError) as info:
        fetch_pages(_pages([_items(0, 3), _items(3, 4)]), ("Items",), 3, max_pages=10, action="A")
    assert info.value.code == "InvalidResponse"
    assert info.value.message == "page 2 of A has 4 entries, more than the PageSize of 3"


@pytest.mark.parametrize("total", [None, 6])
def test_a_page_answered_again_ends_paging(total: int | None) -> None:
    call = _pages([_items(0, 3), _items(0, 3), _items(0, 3)], total)
    with pytest.raises(DtsApiError) as info:
        fetch_pages(call, ("Items",), 3, max_pages=10, action="A", total_field="Total")
    assert info.value.code == "InvalidResponse"
    assert "page 2 of A repeats page 1" in info.value.message


def test_different_full_pages_are_no_repeat() -> None:
    # Same length, same first and last entry: only the middle differs.
    first = [{"Id": "a"}, {"Id": "b"}, {"Id": "c"}]
    second = [{"Id": "a"}, {"Id": "x"}, {"Id": "c"}]
    body = fetch_pages(_pages([first, second, []]), ("Items",), 3, max_pages=10, action="A")
    assert body["Items"] == first + second
    assert body["PageCount"] == 3


# -- JSON nesting --------------------------------------------------------------------------


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deeply_nested_json_is_invalid_response(opener: bytes) -> None:
    with pytest.raises(DtsApiError) as info:
        transport.decode_response("A", 200, opener * 100_000)
    assert info.value.code == "InvalidResponse"
    assert f"nested deeper than {sys.getrecursionlimit()} levels" in info.value.message


def test_nesting_within_the_limit_and_brackets_in_strings_are_fine() -> None:
    depth = 200  # far deeper than any real answer, within the limit
    nested = b'{"Success": true, "X": ' + b"[" * depth + b"]" * depth + b"}"
    assert isinstance(transport.decode_response("A", 200, nested)["X"], list)
    text = b'{"X": "' + b"[{" * 1000 + b'\\"[["}'
    assert transport.decode_response("A", 200, text)["X"].startswith("[{")
