#!/usr/bin/env bash
# Pins what the image installs: docker/requirements.lock (the runtime dependencies of
# pyproject.toml and theirs) and docker/build-requirements.lock (pyproject's build-system
# requirement, setuptools, that builds the wheel). Exact versions, each with the sha256 of
# every file PyPI has for it (any platform the image is built for), resolved for the
# image's Python. The Dockerfile installs them with `pip --require-hashes`, so two builds
# of one commit install the same files.
#
# Run it from anywhere after changing pyproject's dependencies, or to take newer
# releases; review the diff. It uses uv (`UV=/path/to/uv`, else the one on PATH, else one
# installed into a throwaway venv from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Dockerfile's PYTHON_IMAGE is python:<this>-slim (tests/test_image.py checks it).
python_version=3.12

uv=${UV:-$(command -v uv || true)}
if [ -z "$uv" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q uv
  uv="$tmp/venv/bin/uv"
fi

options=(
  --python-version "$python_version" --python-platform linux
  --generate-hashes --custom-compile-command docker/lock.sh --quiet
)
"$uv" pip compile pyproject.toml "${options[@]}" --output-file docker/requirements.lock

# pyproject.toml's [build-system] requires, one requirement a line.
build_requires=$(sed -n 's/^requires = \[\(.*\)\]$/\1/p' pyproject.toml | tr -d '" ' | tr ',' '\n')
build_in=$(mktemp)
printf '%s\n' "$build_requires" >"$build_in"
"$uv" pip compile "$build_in" "${options[@]}" --no-annotate --output-file docker/build-requirements.lock
rm -f "$build_in"
echo "docker/requirements.lock and docker/build-requirements.lock written"
