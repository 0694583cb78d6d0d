"""Where the command line keeps its files, and the bare ``sqlite://`` only it understands."""

from __future__ import annotations

import pytest

from openrouter_bench._paths import cli_cache_spec, default_cli_cache_path
from openrouter_bench.cache import open_cache
from openrouter_bench.errors import ConfigurationError


def test_default_cli_cache_path_is_in_the_user_cache_dir() -> None:
    """The CLI's store lives in the platform's user cache directory, under the project name."""
    path = default_cli_cache_path()
    assert path.parent.name == "openrouter-bench"
    assert path.suffix == ".sqlite3"


def test_a_bare_sqlite_url_names_the_cli_file_on_the_command_line() -> None:
    """sqlite:// (any case) becomes the CLI's own file; every other spec is left as it is."""
    assert cli_cache_spec("sqlite://") == f"sqlite:///{default_cli_cache_path()}"
    assert cli_cache_spec("SQLite://") == f"sqlite:///{default_cli_cache_path()}"
    for spec in ("sqlite:///tmp/x.db", "memory", "redis://127.0.0.1:6379/0"):
        assert cli_cache_spec(spec) == spec


def test_the_library_wants_a_path_in_a_sqlite_url() -> None:
    """open_cache knows no default file: sqlite:// without a path is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"sqlite:///absolute/path\.db"):
        open_cache("sqlite://", namespace="openrouter-bench:test.invalid")
