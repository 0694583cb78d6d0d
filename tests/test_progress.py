"""The progress bar of a fan-out: drawn on a terminal, never into a pipe or a file."""

from __future__ import annotations

import io
import os

from openrouter_bench.errors import ServerError
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.progress import GridProgress, is_terminal
from tests.conftest import on_terminal

FOUR = (
    "grid",
    "--source",
    "design-arena",
    "--arena",
    "models,builders",
    "--category",
    "svg,3d",
    "--retries",
    "0",
)
QUIET = ("--quota", "off")


def test_a_pipe_is_not_a_terminal_and_a_pseudo_terminal_is() -> None:
    """is_terminal is false for a StringIO and true for the follower end of a pty."""
    assert not is_terminal(io.StringIO())
    leader, follower = os.openpty()
    try:
        with open(follower, "w", encoding="utf-8", closefd=True) as terminal:
            assert is_terminal(terminal)
    finally:
        os.close(leader)


def test_off_a_terminal_the_bar_draws_nothing() -> None:
    """Into a StringIO, a bar advanced by pages and errors writes not a byte."""
    stream = io.StringIO()
    with GridProgress(stream, 3, label="grid") as progress:
        progress.advance(object())
        progress.advance(ServerError("down", status=503))
        progress.advance(object())
    assert stream.getvalue() == ""


def test_the_progress_bar_shows_on_a_terminal(api: FakeOpenRouter) -> None:
    """On a terminal, stderr shows a progress bar that reaches the end; stdout stays clean."""
    code, shown, out = on_terminal([*FOUR, "--no-cache", *QUIET], stream="err")
    assert code == 0
    assert "grid" in shown
    assert "4/4" in shown
    assert "0 failed" in shown
    assert "4 queries: 4 pages (4 cut from 2 arena pages), 0 errors" in shown
    assert "\x1b[" not in out
