"""The public surface: a sorted __all__ whose every name is importable and documented."""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from types import ModuleType

import pytest

import openrouter_bench


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and lists exactly the public names the package defines."""
    exported = openrouter_bench.__all__
    assert exported == sorted(exported)
    # Submodules are reachable but not re-exported; pytest's assertion rewriting of the
    # plugin's package adds names that are not identifiers.
    public = {
        name
        for name, value in vars(openrouter_bench).items()
        if name.isidentifier() and not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(exported) - {"__version__"} == public


def test_every_export_is_documented() -> None:
    """Every exported class and function has a docstring."""
    for name in openrouter_bench.__all__:
        value = getattr(openrouter_bench, name)
        if isinstance(value, type) or callable(value):
            assert (value.__doc__ or "").strip(), name


def test_version_matches_the_installed_metadata() -> None:
    """The package's __version__ is the version pip installed."""
    assert openrouter_bench.__version__ == importlib.metadata.version("openrouter-bench")


def _library_modules() -> list[str]:
    """The package's public-named modules and packages, the fake server aside."""
    return sorted(
        info.name
        for info in pkgutil.walk_packages(openrouter_bench.__path__, "openrouter_bench.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
        and not info.name.startswith("openrouter_bench.fake")
    )


@pytest.mark.parametrize("name", _library_modules())
def test_a_module_exports_nothing_the_root_does_not(name: str) -> None:
    """Every public-named module has an __all__, and each of its names is one the root exports."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert set(exported) <= set(openrouter_bench.__all__), set(exported) - set(
        openrouter_bench.__all__
    )
