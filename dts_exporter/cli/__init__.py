"""Command line: serve, check, discover, config-schema (`exporter`); simulate and demo
(`simulation`); what they share (`common`).

Every expected failure (bad config, no credentials, port in use) is one line on stderr
and exit status 2, without a traceback.
"""

from __future__ import annotations

import click

from dts_exporter import __version__
from dts_exporter.cli import exporter, simulation


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dts-exporter")
def main() -> None:
    """Prometheus exporter for Alibaba Cloud DTS synchronization jobs."""


for command in (
    exporter.serve,
    exporter.check,
    exporter.discover,
    simulation.simulate,
    simulation.demo,
    exporter.config_schema,
):
    main.add_command(command)
