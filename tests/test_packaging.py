"""What the package's extras bring: the README's test example runs with openrouter-bench[test]."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_test_extra_brings_what_the_readme_example_needs() -> None:
    """[test] installs pytest and pytest-asyncio; the README says so beside its async test."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0]
        for requirement in project["optional-dependencies"]["test"]
    }
    assert names == {"pytest", "pytest-asyncio"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your own code", 1)[1].split("\n## ", 1)[0]
    before_example = section.split("```python", 1)[0]
    assert "openrouter-bench[test]" in before_example
    assert 'asyncio_mode = "auto"' in before_example
