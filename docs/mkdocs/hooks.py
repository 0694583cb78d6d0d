"""mkdocs hooks: pages made at build time from the code, so they cannot drift from it.

- ``reference/cli.md`` is generated from ``openrouter_bench.cli.build_parser()``:
  the module's docstring, then the ``--help`` of the program and of every
  command, as argparse prints it. Nothing on that page is written by hand.
- ``performance.md`` and ``reliability.md`` are written by their own generators
  (the benchmark and soak runs), not by hand. A tree where one of them has not
  been generated yet still builds: its nav entry is left out, and the build log
  says so.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from openrouter_bench import cli

log = logging.getLogger("mkdocs.hooks.openrouter_bench")

CLI_PAGE: Final = "reference/cli.md"

#: Pages that other tools write into docs/; the command that writes each.
GENERATED_ELSEWHERE: Final = {
    "performance.md": "python -m benchmarks",
    "reliability.md": "python -m benchmarks.soak --write-docs",
}

#: The width the help is wrapped at, whatever terminal runs the build.
HELP_COLUMNS: Final = "88"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Leave out of the nav the generated pages that do not exist yet."""
    docs = Path(config.docs_dir)
    missing = {page for page in GENERATED_ELSEWHERE if not (docs / page).is_file()}
    for page in sorted(missing):
        log.info(
            "%s is not generated yet (%s writes it); left out of the nav",
            page,
            GENERATED_ELSEWHERE[page],
        )
    if missing and config.nav is not None:
        config.nav = _without(config.nav, missing)
    return config


def _without(nav: list[Any], pages: set[str]) -> list[Any]:
    """``nav`` with the entries for ``pages`` (and sections left empty) removed."""
    kept: list[Any] = []
    for entry in nav:
        if isinstance(entry, dict):
            pruned = {}
            for title, value in entry.items():
                if isinstance(value, list):
                    value = _without(value, pages)
                    if value:
                        pruned[title] = value
                elif value not in pages:
                    pruned[title] = value
            if pruned:
                kept.append(pruned)
        elif entry not in pages:
            kept.append(entry)
    return kept


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the command-line reference, generated from the parser."""
    files.append(File.generated(config, CLI_PAGE, content=cli_reference()))
    return files


def cli_reference() -> str:
    """The command-line reference page, as Markdown."""
    parser = cli.build_parser()
    lines = [
        "# Command line",
        "",
        "This page is generated from the command's argument parser when the site is built.",
        "",
        inspect.cleandoc(cli.__doc__ or ""),
        "",
    ]
    with _plain_help():
        for name, command in _commands(parser):
            lines += [f"## `{name}`", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The program and every command below it, depth first, each once."""
    yield parser.prog, parser
    seen: set[int] = set()
    # argparse keeps its sub-commands in private attributes; there is no public way to list them.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if id(command) not in seen:
                    seen.add(id(command))
                    yield from _commands(command)


@contextlib.contextmanager
def _plain_help() -> Iterator[None]:
    """A fixed help width and no colour while the help is formatted."""
    saved = {name: os.environ.get(name) for name in ("COLUMNS", "NO_COLOR")}
    os.environ["COLUMNS"] = HELP_COLUMNS
    os.environ["NO_COLOR"] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
