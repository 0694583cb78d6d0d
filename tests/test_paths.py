"""Where the command line keeps its files."""

from __future__ import annotations

from openrouter_bench._paths import default_cli_cache_path
from openrouter_bench.query import Query

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


def test_default_cli_cache_path_is_in_the_user_cache_dir() -> None:
    """The CLI's store lives in the platform's user cache directory, under the project name."""
    path = default_cli_cache_path()
    assert path.parent.name == "openrouter-bench"
    assert path.suffix == ".sqlite3"
