"""Database-centric analytics gateway: HTTP routes mapped to PostgreSQL functions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("analytics-gateway")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
