"""The package's shape as rules: the import contracts hold, and no private name crosses modules.

The layer order and the fake server's separation are import-linter contracts in
pyproject.toml (``lint-imports``, also run by ``.ci/check``). import-linter checks
modules, not names, so the rule on private names is checked here with ``ast``: a
``_name`` defined in one module is used only inside that module, or among the
modules of the subpackage that defines it (``openrouter_bench.cache.*``,
``openrouter_bench.fake.*``); the top package is not such a group. A private
*module* (``openrouter_bench._checks``) is for every module of the package that
holds it, and its public names are for them too.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

import openrouter_bench

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(openrouter_bench.__file__).resolve().parent
LINT_IMPORTS: Final = Path(sys.executable).parent / "lint-imports"


def _is_private(name: str) -> bool:
    """``_x`` is private; dunders (``__version__``, ``__main__``) are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class _Package:
    """The modules of one package directory, found from its files (nothing is imported)."""

    def __init__(self, directory: Path) -> None:
        self.root = directory.name
        self.base = directory.parent
        self.files: dict[str, Path] = {}
        self.packages: set[str] = set()
        for path in sorted(directory.rglob("*.py")):
            parts = path.relative_to(directory.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
                self.packages.add(".".join(parts))
            self.files[".".join(parts)] = path

    def home(self, module: str) -> str:
        """The package a module's private names are shared in."""
        return module if module in self.packages else module.rpartition(".")[0]

    def offence(self, importer: str, dotted: str) -> str | None:
        """Why ``importer`` may not reach ``dotted`` (a module path, maybe ending in a name)."""
        parts = dotted.split(".")
        if parts[0] != self.root:
            return None
        current = self.root
        for part in parts[1:]:
            candidate = f"{current}.{part}"
            if candidate in self.files:
                # A private module belongs to the package holding it, however deep the importer.
                if _is_private(part) and not _within(importer, current):
                    return f"{candidate} is private to {current}"
                current = candidate
                continue
            home = self.home(current)
            shared = home != self.root and _within(importer, home)
            if _is_private(part) and importer != current and not shared:
                return f"{part} is private to {current}"
            return None
        return None

    def offences(self) -> Iterator[str]:
        """``file:line: importer uses dotted (why)`` for each private name used across modules."""
        for importer, path in self.files.items():
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            where = path.relative_to(self.base).as_posix()
            for line, dotted in self._references(importer, tree):
                why = self.offence(importer, dotted)
                if why:
                    yield f"{where}:{line}: {importer} uses {dotted} ({why})"

    def _references(self, importer: str, tree: ast.Module) -> Iterator[tuple[int, str]]:
        """Each dotted path the module imports or reads through a name bound to a module."""
        bound: dict[str, str] = {}
        here = importer if importer in self.packages else importer.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        top = alias.name.partition(".")[0]
                        bound[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    dotted = f"{base}.{alias.name}"
                    yield node.lineno, dotted
                    if dotted in self.files:
                        bound[alias.asname or alias.name] = dotted
        inner: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or id(node) in inner:
                continue
            names: list[str] = []
            value: ast.expr = node
            while isinstance(value, ast.Attribute):
                names.append(value.attr)
                value = value.value
                inner.add(id(value))
            if isinstance(value, ast.Name) and value.id in bound:
                yield node.lineno, ".".join([bound[value.id], *reversed(names)])


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory / "pkg"


def test_no_private_name_is_used_outside_its_module_or_subpackage() -> None:
    """No module of openrouter_bench imports or reads another module's _private name."""
    offences = list(_Package(PACKAGE).offences())
    assert offences == [], "\n".join(["private names used across modules:", *offences])


def test_the_private_name_check_names_each_offence_and_spares_what_is_allowed(
    tmp_path: Path,
) -> None:
    """The check reports imports, attribute reads and private submodules by file and line, only."""
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/_helpers.py": "PUBLIC = 1\n_HIDDEN = 2\n",
            "pkg/low.py": "_SECRET = 1\n__version__ = '1'\n",
            "pkg/sub/__init__.py": "_SHARED = 1\n",
            "pkg/sub/_inner.py": "VALUE = 1\n",
            "pkg/sub/a.py": "_ONLY_HERE = 1\nprint(_ONLY_HERE)\n",
            "pkg/sub/b.py": (
                "from pkg.sub.a import _ONLY_HERE\n"
                "from pkg.sub import _SHARED, _inner\n"
                "from . import a\n"
                "print(a._ONLY_HERE, _inner.VALUE, _ONLY_HERE, _SHARED)\n"
            ),
            "pkg/high.py": (
                "import pkg.low\n"
                "from pkg import _helpers, low\n"
                "from pkg._helpers import PUBLIC\n"
                "from pkg.low import __version__, _SECRET\n"
                "from pkg.sub._inner import VALUE\n"
                "from .sub import a as alias\n"
                "print(low._SECRET, pkg.low._SECRET, _helpers._HIDDEN, alias._ONLY_HERE, PUBLIC)\n"
            ),
        },
    )
    assert sorted(_Package(package).offences()) == [
        "pkg/high.py:4: pkg.high uses pkg.low._SECRET (_SECRET is private to pkg.low)",
        "pkg/high.py:5: pkg.high uses pkg.sub._inner.VALUE (pkg.sub._inner is private to pkg.sub)",
        "pkg/high.py:7: pkg.high uses pkg._helpers._HIDDEN (_HIDDEN is private to pkg._helpers)",
        "pkg/high.py:7: pkg.high uses pkg.low._SECRET (_SECRET is private to pkg.low)",
        "pkg/high.py:7: pkg.high uses pkg.low._SECRET (_SECRET is private to pkg.low)",
        "pkg/high.py:7: pkg.high uses pkg.sub.a._ONLY_HERE (_ONLY_HERE is private to pkg.sub.a)",
    ]


def _lint_imports(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the venv's own console script, no shell
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    """lint-imports keeps every contract: the layers, the fake apart, private modules."""
    finished = _lint_imports(ROOT)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "0 broken" in finished.stdout


LAYERS: Final = "Modules import only the layers below them"
FAKE_APART: Final = "The fake server speaks the endpoint's vocabulary, not the client's code"


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        pytest.param("errors", "openrouter_bench.cli", LAYERS, id="bottom-imports-top"),
        pytest.param("client", "openrouter_bench.fake", LAYERS, id="client-imports-fake"),
        pytest.param(
            "fake.server", "openrouter_bench.models", FAKE_APART, id="fake-imports-models"
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, imported: str, contract: str
) -> None:
    """One import across a contract (errors -> cli) fails lint-imports, naming both."""
    copy = tmp_path / "openrouter_bench"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    source = copy.joinpath(*module.split(".")).with_suffix(".py")
    source.write_text(source.read_text(encoding="utf-8") + f"\nimport {imported}\n")
    finished = _lint_imports(tmp_path, PYTHONPATH=str(tmp_path))
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert f"{contract} BROKEN" in finished.stdout
    assert f"openrouter_bench.{module} -> {imported}" in finished.stdout
