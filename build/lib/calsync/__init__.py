"""calsync: a self-hosted calendar sync daemon with a Cronofy-compatible API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("calsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
