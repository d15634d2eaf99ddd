"""The exporter's configuration file: typed, validated, one clear error per mistake.

`model` declares every section and key once (default, bounds or choices, description);
`parse` reads a file by those declarations; `keys` says how a declaration is written and
reads the declarations back; `schema` writes them as a JSON Schema (`dts-exporter
config-schema`).
"""

from dts_exporter.config.model import (
    LOG_LEVELS,
    SIGNATURE_VERSIONS,
    TABLE_METRICS,
    Config,
    CredentialsConfig,
    DiscoveryConfig,
    JobConfig,
    JobStatusConfig,
    LogLevel,
    TableMetrics,
    VerificationConfig,
)
from dts_exporter.config.parse import (
    TOP_LEVEL_KEYS,
    load_config,
    parse_config,
    secret_file_warnings,
)

__all__ = [
    "LOG_LEVELS",
    "SIGNATURE_VERSIONS",
    "TABLE_METRICS",
    "TOP_LEVEL_KEYS",
    "Config",
    "CredentialsConfig",
    "DiscoveryConfig",
    "JobConfig",
    "JobStatusConfig",
    "LogLevel",
    "TableMetrics",
    "VerificationConfig",
    "load_config",
    "parse_config",
    "secret_file_warnings",
]
