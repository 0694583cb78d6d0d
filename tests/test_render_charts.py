"""The renderer's charts: a score bar of Unicode blocks, the room for it, the terminal's width."""

from __future__ import annotations

import io

import pytest

from openrouter_bench.render import bar_room, score_bar, terminal_columns


class Terminal(io.StringIO):
    """A stream that says it is a terminal but has no file descriptor (so reports no width)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "    "),
        (10.0, "████"),
        (5.0, "██  "),
        (1.25, "▌   "),
        (2.8125, "█▏  "),  # 9 eighths of 32
        (-3.0, "    "),
        (99.0, "████"),
    ],
)
def test_a_bar_fills_its_share_in_eighths_and_keeps_its_width(value: float, expected: str) -> None:
    """A bar from low to high fills the value's share of the cells, eighths at its end."""
    assert score_bar(value, 0.0, 10.0, 4) == expected


def test_a_bar_of_one_value_is_full_and_of_no_width_is_empty() -> None:
    """Every value of a span of one point draws a full bar; a width below 1 draws nothing."""
    assert score_bar(1234.5, 1234.5, 1234.5, 3) == "███"
    assert score_bar(5.0, 0.0, 10.0, 0) == ""


@pytest.mark.parametrize(
    ("columns", "used", "bars", "room"),
    [
        (None, 10, 1, 0),
        (80, 60, 1, 16),
        (80, 70, 1, 8),
        (80, 75, 1, 0),
        (160, 100, 2, 16),
        (120, 100, 2, 8),
        (80, 0, 0, 0),
    ],
)
def test_bar_room_is_bounded_by_the_terminal(
    columns: int | None, used: int, bars: int, room: int
) -> None:
    """A bar gets at most 16 cells, what the terminal has left, and none below 4 or off one."""
    assert bar_room(columns, used, bars) == room


def test_terminal_columns_only_for_a_terminal() -> None:
    """A stream that is no terminal has no width; a terminal without one has $COLUMNS, else 80."""
    assert terminal_columns(io.StringIO()) is None
    assert terminal_columns(Terminal(), environ={"COLUMNS": "132"}) == 132
    assert terminal_columns(Terminal(), environ={"COLUMNS": "wide"}) == 80
    assert terminal_columns(Terminal(), environ={}) == 80
