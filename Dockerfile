# syntax=docker/dockerfile:1
# dts-exporter container image.
#
#   docker build -t ghcr.io/dts-exporter/dts-exporter:0.1.0 .
#   docker run --rm -p 9881:9881 -v "$PWD/dts-exporter.yaml:/etc/dts-exporter/config.yaml:ro" \
#     -e ALIBABA_CLOUD_ACCESS_KEY_ID -e ALIBABA_CLOUD_ACCESS_KEY_SECRET \
#     ghcr.io/dts-exporter/dts-exporter:0.1.0
#
# The Helm chart (helm/dts-exporter) mounts its config at the path CMD names.

ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: build the wheel and install it with its dependencies into a venv ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY dts_exporter ./dts_exporter
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/dts-exporter --help >/dev/null

# --- runtime: the venv only, as a non-root user -------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
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
