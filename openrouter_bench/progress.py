"""The progress bar of a fan-out (``grid``, the demo's sweep), on a terminal only.

Piped or redirected, it draws nothing, so what programs read stays clean.
"""

from __future__ import annotations

from typing import Any, Self, TextIO

from openrouter_bench.errors import OpenRouterBenchError

# Used by the grid and the demo commands; the package root exports none of it.
__all__: list[str] = []


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class GridProgress:
    """A progress bar for a fan-out, drawn on ``stream`` only when it is a terminal.

    Piped or redirected, it draws nothing, so what programs read stays clean.
    The bar (rich's) refreshes by itself, so its clock runs on while the quota
    holds requests back.
    """

    def __init__(self, stream: TextIO, total: int, *, label: str = "queries") -> None:
        self._failed = 0
        self._bar: Any = None
        self._task: Any = None
        if total and is_terminal(stream):
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                console=Console(file=stream),
                refresh_per_second=4,
            )
            self._task = self._bar.add_task(label, total=total, failed=0)

    def __enter__(self) -> Self:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, outcome: object) -> None:
        """One more query done (failed, if ``outcome`` is an error)."""
        if isinstance(outcome, OpenRouterBenchError):
            self._failed += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failed=self._failed)
