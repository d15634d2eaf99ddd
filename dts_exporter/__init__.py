"""Prometheus exporter for Alibaba Cloud DTS synchronization jobs."""

__version__ = "0.1.0"
