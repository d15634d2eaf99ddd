# syntax=docker/dockerfile:1
# dts-exporter container image. No image is published: build it and push it to your
# registry (the Helm chart's image.repository names it). From the repository's root:
#
#   version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' dts_exporter/__init__.py)
#   docker build --build-arg VERSION="$version" -t registry.example.com/team/dts-exporter:"$version" .
#   docker run --rm -p 9881:9881 -v "$PWD/dts-exporter.yaml:/etc/dts-exporter/config.yaml:ro" \
#     -e ALIBABA_CLOUD_ACCESS_KEY_ID -e ALIBABA_CLOUD_ACCESS_KEY_SECRET \
#     registry.example.com/team/dts-exporter:"$version"
#
# Every Python package comes from docker/*.lock (exact versions with their hashes, written
# by docker/lock.sh), so two builds of one commit install the same files. The version is
# the package's own (dts_exporter.__version__): VERSION only labels the image, and the
# build fails when it says otherwise. The Helm chart mounts its config at the path CMD names.

ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: build the wheel, install it and the locked dependencies into a venv --------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when a lock file changes.
# /opt/build holds the build backend (setuptools), /opt/venv what the image runs.
COPY docker/requirements.lock docker/build-requirements.lock ./docker/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps -r docker/build-requirements.lock \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r docker/requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY dts_exporter ./dts_exporter
ARG VERSION
# pip check: the lock holds every dependency the package declares, at a version it accepts.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps --no-index /wheels/*.whl \
 && /opt/venv/bin/pip check \
 && built=$(/opt/venv/bin/python -c 'from importlib.metadata import version; print(version("dts-exporter"))') \
 && if [ -n "${VERSION}" ] && [ "${VERSION}" != "${built}" ]; then \
      echo "VERSION=${VERSION}, but the package is dts-exporter ${built}" >&2; exit 1; \
    fi \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/dts-exporter --help >/dev/null

# --- runtime: the venv only, as a non-root user -------------------------------------------
FROM ${PYTHON_IMAGE}
# Checked against the package's version in the builder; empty when not given.
ARG VERSION
LABEL org.opencontainers.image.title="dts-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Alibaba Cloud DTS synchronization jobs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/dts-exporter/dts-exporter" \
      org.opencontainers.image.url="https://github.com/dts-exporter/dts-exporter" \
      org.opencontainers.image.documentation="https://github.com/dts-exporter/dts-exporter#readme"
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Bytecode was compiled in the builder, so nothing is written at run time and the root
# filesystem can be read-only (the chart mounts an emptyDir at /tmp all the same).
COPY --from=builder /opt/venv /opt/venv
USER 65532:65532
EXPOSE 9881
ENTRYPOINT ["dts-exporter"]
CMD ["serve", "--config", "/etc/dts-exporter/config.yaml"]
