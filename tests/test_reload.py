"""POST /-/reload, in process: off (403) unless `serve --web.enable-lifecycle`, behind basic
auth when a web config sets it, reloads coalesced, and no thread left behind per reload."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from dts_exporter import cli, lifecycle, startup
from dts_exporter.cli import common, exporter
from dts_exporter.lifecycle import Runtime
from tests.conftest import cli_env
from tests.pki import ALICE_HASH


@pytest.fixture(autouse=True)
def _serve_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    yield from cli_env(
        monkeypatch, tmp_path, ("DTS_EXPORTER_LOG_LEVEL", "DTS_EXPORTER_WEB_ENABLE_LIFECYCLE")
    )


def write_config(path: Path, *jobs: str) -> Path:
    ids = ", ".join(f"{{id: {job}}}" for job in jobs)
    path.write_text(
        f"region: cn-hangzhou\nendpoint: http://127.0.0.1:1\nlog_level: error\njobs: [{ids}]\n",
        encoding="utf-8",
    )
    return path


def serve(args: list[str], during: Callable[[Runtime, str], None]) -> None:
    """`serve` in process with its real HTTP server; `during(runtime, url)` runs where it
    would wait for signals."""
    got: list[Runtime] = []
    real = common.serve_until_signal

    def capture(runtime: Runtime, *rest: object, **named: object) -> None:
        got.append(runtime)
        real(runtime, *rest, **named)  # type: ignore[arg-type]

    def instead_of_waiting(_on_reload: object) -> None:
        runtime = got[0]
        assert runtime.server is not None
        during(runtime, runtime.server.url())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exporter, "serve_until_signal", capture)
        patch.setattr(common, "wait_for_signals", instead_of_waiting)
        result = CliRunner().invoke(
            cli.main, ["serve", "--listen-address", "127.0.0.1:0", *args], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    assert got


def test_reload_is_403_without_the_lifecycle_flag(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", "dtsa")

    def during(runtime: Runtime, url: str) -> None:
        write_config(config, "dtsa", "dtsb")
        answer = requests.post(f"{url}/-/reload", timeout=10)
        assert (answer.status_code, answer.text) == (403, "Lifecycle API is not enabled.\n")
        assert requests.get(f"{url}/-/reload", timeout=10).status_code == 405
        assert len(runtime.config.jobs) == 1  # not reloaded
        assert runtime.reload()[0]  # what SIGHUP runs still works
        assert len(runtime.config.jobs) == 2

    serve(["--config", str(config)], during)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_reload_works_with_the_lifecycle_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    config = write_config(tmp_path / "c.yaml", "dtsa")

    def during(runtime: Runtime, url: str) -> None:
        write_config(config, "dtsa", "dtsb")
        answer = requests.post(f"{url}/-/reload", timeout=10)
        assert (answer.status_code, answer.text) == (200, "config reloaded\n")
        assert len(runtime.config.jobs) == 2

    args = ["--config", str(config)]
    if how == "flag":
        args.append("--web.enable-lifecycle")
    else:
        monkeypatch.setenv("DTS_EXPORTER_WEB_ENABLE_LIFECYCLE", "true")
    serve(args, during)


def test_reload_needs_basic_auth_when_the_web_config_sets_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", "dtsa")
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alice: {ALICE_HASH}\n", encoding="utf-8")

    def during(runtime: Runtime, url: str) -> None:
        write_config(config, "dtsa", "dtsb")
        assert requests.post(f"{url}/-/reload", timeout=10).status_code == 401
        wrong = requests.post(f"{url}/-/reload", auth=("alice", "nope"), timeout=10)
        assert wrong.status_code == 401
        assert len(runtime.config.jobs) == 1
        good = requests.post(f"{url}/-/reload", auth=("alice", "wonderland"), timeout=10)
        assert good.status_code == 200
        assert len(runtime.config.jobs) == 2

    serve(
        ["--config", str(config), "--web.config.file", str(web), "--web.enable-lifecycle"], during
    )


def test_many_reloads_leave_no_thread_behind(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", "dtsa")

    def during(runtime: Runtime, url: str) -> None:
        before = threading.active_count()
        for _ in range(200):
            assert runtime.reload()[0]
        with requests.Session() as session:
            for _ in range(50):
                assert session.post(f"{url}/-/reload", timeout=10).status_code == 200
        assert threading.active_count() <= before + 5

    serve(["--config", str(config), "--web.enable-lifecycle"], during)


def test_concurrent_reloads_are_coalesced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "c.yaml", "dtsa")
    real_start = startup.start
    calls: list[float] = []

    def slow_start(*args: object, **named: object) -> object:
        calls.append(time.monotonic())
        time.sleep(0.3)  # the others arrive while this one runs
        return real_start(*args, **named)  # type: ignore[arg-type]

    def during(runtime: Runtime, url: str) -> None:
        monkeypatch.setattr(lifecycle, "start", slow_start)
        answers: list[tuple[bool, str]] = []
        threads = [
            threading.Thread(target=lambda: answers.append(runtime.reload())) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
            time.sleep(0.01)
        for thread in threads:
            thread.join(30)
        assert answers == [(True, "config reloaded")] * 8
        assert len(calls) == 2  # the first, and one for all that arrived while it ran

    serve(["--config", str(config)], during)
