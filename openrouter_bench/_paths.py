"""Where the command line keeps its files; the library itself names no path."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

__all__ = ["cli_cache_spec", "default_cli_cache_path"]


def default_cli_cache_path() -> Path:
    """Where the CLI keeps its snapshots: a file in the user's cache directory."""
    return platformdirs.user_cache_path("openrouter-bench") / "snapshots.sqlite3"


def cli_cache_spec(spec: str) -> str:
    """``spec`` with a bare ``sqlite://`` (no path) naming the CLI's own file."""
    parts = urlsplit(spec)
    if parts.scheme.lower() == "sqlite" and not parts.netloc and not parts.path:
        return f"sqlite:///{default_cli_cache_path()}"
    return spec
