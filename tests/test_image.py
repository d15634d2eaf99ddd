"""The container image, read from its Dockerfile (no Docker engine is needed): every Python
package from the lock files, pinned with hashes; the version the package's own; what it
copies in the build context; the command the README's `docker run` example mounts its
config for; and the LICENSE the package and the image declare."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shlex
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "docker" / "requirements.lock"
BUILD_LOCK = ROOT / "docker" / "build-requirements.lock"
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
# apache.org's LICENSE-2.0.txt, byte for byte.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def _logical_lines(text: str) -> list[str]:
    """Lines with `\\` continuations joined, comment lines dropped."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line for line in re.sub(r"\\\n\s*", " ", "\n".join(kept)).splitlines() if line]


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    found = []
    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        found.append((keyword, rest.strip()))
    return found


def _pins(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """Name -> (version, sha256 hashes) of a `pip --require-hashes` requirements file."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        requirement, *options = line.split()
        name, version = requirement.split("==")
        hashes = [option.removeprefix("--hash=sha256:") for option in options]
        assert all(option.startswith("--hash=sha256:") for option in options), line
        pins[canonicalize_name(name)] = (Version(version), hashes)
    return pins


def _pyproject_list(key: str) -> list[Requirement]:
    block = re.search(rf"^{key} = \[(.*?)\]", PYPROJECT, re.S | re.M)
    assert block is not None, key
    return [Requirement(text) for text in re.findall(r'"([^"]+)"', block.group(1))]


def _image_python() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-slim$", DOCKERFILE.read_text(), re.M)
    assert match is not None
    return match.group(1)


def _assert_pinned(
    requirements: list[Requirement], pins: dict[str, tuple[Version, list[str]]]
) -> None:
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in the lock: run docker/lock.sh"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    dependencies = _pyproject_list("dependencies")
    assert {canonicalize_name(r.name) for r in dependencies} >= {"requests", "click", "pyyaml"}
    _assert_pinned(dependencies, _pins(LOCK))


def test_the_lock_holds_the_dependencies_of_what_it_pins() -> None:
    """Read from this environment's metadata where it has the pinned version (the image's
    build runs `pip check` on the real thing)."""
    pins = _pins(LOCK)
    python = _image_python()
    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    checked = 0
    for name, (version, _) in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(installed) != version:
            continue
        needed = [Requirement(text) for text in importlib.metadata.requires(name) or []]
        _assert_pinned(
            [r for r in needed if r.marker is None or r.marker.evaluate(environment)], pins
        )
        checked += 1
    assert checked >= 1


def test_the_build_lock_pins_the_build_backend() -> None:
    _assert_pinned(_pyproject_list("requires"), _pins(BUILD_LOCK))


def test_the_dockerfile_installs_only_what_the_locks_pin() -> None:
    runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
    installs = [
        command.strip()
        for run in runs
        for command in run.split("&&")
        if re.search(r"\bpip (install|wheel)\b", command)
    ]
    assert installs == [
        "/opt/build/bin/pip install --require-hashes --no-deps -r docker/build-requirements.lock",
        "/opt/venv/bin/pip install --require-hashes --no-deps -r docker/requirements.lock",
        "/opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .",
        "/opt/venv/bin/pip install --no-deps --no-index /wheels/*.whl",
    ]
    assert any("/opt/venv/bin/pip check" in run for run in runs)
    # Only the venv of locked packages and the wheel reach the runtime stage.
    copies = [rest for keyword, rest in _instructions() if keyword == "COPY"]
    assert [c for c in copies if c.startswith("--from=")] == ["--from=builder /opt/venv /opt/venv"]


def test_the_lock_script_resolves_for_the_images_python() -> None:
    script = (ROOT / "docker" / "lock.sh").read_text(encoding="utf-8")
    assert f"\npython_version={_image_python()}\n" in script
    for lock in (LOCK, BUILD_LOCK):
        assert "#    docker/lock.sh" in lock.read_text(encoding="utf-8")


def test_the_version_comes_from_the_package() -> None:
    """No version is written in the Dockerfile: the build label takes VERSION, which has no
    default and must equal the built package's version."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.findall(r"\b\d+\.\d+\.\d+\b", text) == []
    instructions = _instructions()
    assert [rest for keyword, rest in instructions if rest.startswith("VERSION")] == [
        "VERSION",
        "VERSION",
    ]  # ARG VERSION, in each stage, without a default
    (label,) = [rest for keyword, rest in instructions if keyword == "LABEL"]
    assert 'org.opencontainers.image.version="${VERSION}"' in label
    (build,) = [rest for keyword, rest in instructions if keyword == "RUN" and "wheel" in rest]
    assert 'version("dts-exporter")' in build
    assert '"${VERSION}" != "${built}"' in build and "exit 1" in build


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    for keyword, rest in _instructions():
        if keyword != "COPY" or rest.startswith("--from="):
            continue
        *sources, _ = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            parts = Path(source).parts
            prefixes = {"/".join(parts[: n + 1]) for n in range(len(parts))}
            assert not prefixes & ignored, source


def _command() -> tuple[list[str], list[str], int]:
    final: dict[str, str] = {}
    for keyword, rest in _instructions():
        final[keyword] = rest
    return json.loads(final["ENTRYPOINT"]), json.loads(final["CMD"]), int(final["EXPOSE"])


def _docker_runs(text: str) -> list[list[str]]:
    """Each `docker run` command of a shell text, as words."""
    runs = []
    for line in _logical_lines(text):
        if line.startswith("docker run "):
            runs.append(shlex.split(line))
    return runs


def _check_run(words: list[str]) -> None:
    entrypoint, cmd, port = _command()
    assert entrypoint == ["dts-exporter"]
    config_path = cmd[cmd.index("--config") + 1]
    options, index = {}, 2
    mounts, env = [], []
    while words[index].startswith("-"):
        flag = words[index]
        if flag == "--rm":
            index += 1
            continue
        value = words[index + 1]
        if flag == "-v":
            mounts.append(value)
        elif flag == "-e":
            env.append(value)
        else:
            options[flag] = value
        index += 2
    image, args = words[index], words[index + 1 :]
    assert image.startswith(("$image", "registry.example.com/team/dts-exporter:")), image
    # The config file goes where the command reads it, read-only.
    (mount,) = mounts
    assert mount.split(":")[1:] == [config_path, "ro"], mount
    if args:  # another subcommand: it names the same config
        assert args[args.index("--config") + 1] == config_path
    else:
        assert options["-p"].split(":")[-1] == str(port)
    assert {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} <= set(env)


def test_the_readme_docker_run_examples_fit_the_image() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Kubernetes\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    runs = [run for block in blocks for run in _docker_runs(block)]
    assert len(runs) == 2
    for run in runs:
        _check_run(run)
    build = next(block for block in blocks if "docker build" in block)
    assert 'docker build --build-arg VERSION="$version" -t "$image" .' in build
    # The Dockerfile's own example, in its header comment, too.
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    header = "\n".join(line.lstrip("#").strip() for line in lines if line.startswith("#"))
    (own,) = _docker_runs(header)
    _check_run(own)


def test_the_license_is_apache_2() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert '\nlicense = "Apache-2.0"\n' in PYPROJECT
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in DOCKERFILE.read_text()
