"""Where the exporter's credentials come from: the official default chain, refreshed.

`model` defines credentials and providers; `chain` builds the default chain from the
environment, the config and files; `sts`, `instance` and `files` are its sources;
`refreshing` caches temporary credentials and renews them ahead of expiry.
"""

from dts_exporter.credentials.chain import ChainSettings, build_chain
from dts_exporter.credentials.model import (
    Credentials,
    CredentialsError,
    CredentialsProvider,
    StaticProvider,
)

__all__ = [
    "ChainSettings",
    "Credentials",
    "CredentialsError",
    "CredentialsProvider",
    "StaticProvider",
    "build_chain",
]
