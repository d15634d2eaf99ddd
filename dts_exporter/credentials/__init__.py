"""Where the exporter's credentials come from: the official default chain, refreshed.

`chain` builds the default chain from the environment, the config and files; `sts`,
`instance` and `files` are its sources; `refreshing` caches temporary credentials and
renews them ahead of expiry. What credentials and providers are lives on the bottom floor,
in `dts_exporter.base.credentials`, so the wire layer can sign without importing this.
"""

from dts_exporter.credentials.chain import ChainSettings, build_chain

__all__ = ["ChainSettings", "build_chain"]
