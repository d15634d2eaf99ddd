"""`dts-exporter discover`: list a region's synchronization jobs, optionally as a starter config.

The listing is discovery's own (`collection.discovery`: DescribeDtsJobs with JobType=SYNC,
the tag filter, the name pattern), with the endpoint, credentials, signature and limits of
`--config` when given, else the defaults for the first `--region`. `--write-config` writes
the jobs found as a config file (region, jobs by id and name, the endpoint only when the
config named one) and never overwrites a file. Bad options are a `ConfigError` (one line,
exit 2); a failed call or nothing found is said, and the command exits 1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from dts_exporter.actions import dts_jobs
from dts_exporter.actions.job_state import JobState
from dts_exporter.base.errors import ConfigError, DtsApiError
from dts_exporter.collection.discovery import Discovery, RegionState
from dts_exporter.config import Config, load_config, parse_config
from dts_exporter.wire.client import DtsClient

# Where an option's value lands in the config it is checked as, and the option's name.
_OPTIONS = (
    ("discover: discovery.regions", "--region"),
    ("discover: discovery.name_pattern", "--name-pattern"),
    ("discover: discovery.tags", "--tag"),
    ("discover: region", "--region"),
)
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Found:
    """One region's answer: its jobs (after the name pattern), or the failed call."""

    region: str
    jobs: tuple[JobState, ...] = ()
    error: DtsApiError | None = None


@dataclass(frozen=True)
class Listing:
    found: tuple[Found, ...]
    nothing: str  # why there is no job, in words ("" when there are some)

    @property
    def jobs(self) -> list[JobState]:
        """Every job found, each id once, in region order."""
        seen: dict[str, JobState] = {}
        for each in self.found:
            for job in each.jobs:
                seen.setdefault(job.job_id, job)
        return list(seen.values())

    @property
    def errors(self) -> list[str]:
        """One line per failed region: the action, the region, the code and the message."""
        return [
            f"{dts_jobs.NAME} in {each.region} failed: {each.error.code}: "
            f"{' '.join(each.error.message.split())[:_MESSAGE_LIMIT]}"
            for each in self.found
            if each.error is not None
        ]


def settings(
    config_path: str | None,
    regions: Sequence[str],
    name_pattern: str = "",
    tags: Sequence[str] = (),
) -> Config:
    """The config to list with: `--config`'s settings (else the defaults) and discovery of
    `regions` (default: the config's discovery regions) with the pattern and tags given.
    Raises ConfigError with one line naming the file's key or the option."""
    base = load_config(config_path) if config_path else None
    chosen = list(dict.fromkeys(regions))  # each region once, in the order given
    if not chosen:
        if base is None:
            raise ConfigError("--region: give at least one region, or --config")
        chosen = list(base.discovery.regions) if base.discovery.enabled else [base.region]
    section = {
        "enabled": True,
        "regions": chosen,
        "name_pattern": name_pattern,
        "tags": list(tags),
    }
    try:
        checked = parse_config(
            {"region": base.region if base else chosen[0], "discovery": section},
            source="discover",
        )
    except ConfigError as exc:
        raise ConfigError(_in_option_terms(str(exc))) from None
    if base is None:
        return checked
    return replace(base, discovery=checked.discovery)


def _in_option_terms(message: str) -> str:
    for prefix, option in _OPTIONS:
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            return option + rest[rest.index(":") :] if ":" in rest else message
    return message


def refuse_existing(path: str | None) -> None:
    """`--write-config` never replaces a file: say so before any call is made."""
    if path and os.path.lexists(path):
        raise ConfigError(_exists(path))


def _exists(path: str) -> str:
    return f"--write-config: {path} already exists; not overwriting it (remove it or pick another)"


def discover(config: Config, client: DtsClient) -> Listing:
    """Every region's jobs, one region at a time; a failed region does not stop the others."""
    found: list[Found] = []
    states: list[RegionState] = []
    for region in config.discovery.regions:
        only = replace(config.discovery, regions=(region,))
        try:
            (state,) = Discovery(only, client, raise_errors=True).regions()
        except DtsApiError as exc:
            found.append(Found(region, error=exc))
            continue
        states.append(state)
        found.append(Found(region, state.jobs))
    listing = Listing(tuple(found), "")
    if listing.jobs or listing.errors:
        return listing
    return Listing(tuple(found), Discovery(config.discovery, client).why_nothing(states))


def format_table(listing: Listing) -> str:
    header = ("REGION", "ID", "NAME", "STATUS", "DELAY", "SOURCE → DESTINATION")
    rows = [
        (
            job.region,
            job.job_id,
            job.name or "-",
            job.status or "-",
            "-" if job.delay_seconds is None else f"{job.delay_seconds:g}s",
            f"{job.source_engine or '?'} → {job.destination_engine or '?'}",
        )
        for job in listing.jobs
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in (header, *rows)
    )


def summary(listing: Listing) -> str:
    counts = ", ".join(f"{len(each.jobs)} in {each.region}" for each in listing.found)
    return f"{len(listing.jobs)} synchronization job(s): {counts}"


def starter_config(config: Config, listing: Listing, *, endpoint: str | None = None) -> str:
    """A config file monitoring the jobs found: a comment header, the region, the jobs by
    id and name (with their region when it is not the top-level one), and `endpoint` only
    when given (the config that was listed with named one)."""
    region = config.discovery.regions[0]
    jobs = []
    for job in listing.jobs:
        entry: dict[str, str] = {"id": job.job_id}
        if job.name:
            entry["name"] = job.name
        if job.region and job.region != region:
            entry["region"] = job.region
        jobs.append(entry)
    document: dict[str, object] = {"region": region}
    if endpoint:
        document["endpoint"] = endpoint
    document["jobs"] = jobs
    filters = []
    if config.discovery.name_pattern:
        filters.append(f"name pattern {config.discovery.name_pattern!r}")
    if config.discovery.tags:
        filters.append(f"tags {', '.join(config.discovery.tags)}")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    where = "the endpoint given" if endpoint else "the endpoint each region implies"
    header = [
        f"# dts-exporter config written by `dts-exporter discover` at {stamp}:",
        f"# {summary(listing)}" + (f" ({'; '.join(filters)})" if filters else "") + ".",
        f"# Calls go to {where}; credentials come from the default chain (README,",
        "# Credentials). Check it with: dts-exporter check --config <this file>",
        "# Every other key and its default: README, Configuration.",
    ]
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return "\n".join(header) + "\n" + body


class _Dumper(yaml.SafeDumper):
    """Indents a list under its key, as people write YAML."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def write_starter(path: str, text: str) -> None:
    """Create `path` with `text`; an existing file is never replaced (ConfigError)."""
    try:
        with Path(path).open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise ConfigError(_exists(path)) from None
    except OSError as exc:
        raise ConfigError(f"--write-config: cannot write {path}: {exc.strerror or exc}") from None
