"""Server text on a terminal: names, ids, categories and citations cannot drive it.

A hostile server (or a poisoned shared cache, which serves what a server once
sent) puts terminal commands in every string it sends: clear the screen, write
the clipboard (OSC 52), hide a link (OSC 8), return the cursor to forge a line,
ring the bell, reverse the text (a bidi override), a NUL. Every human-readable
output of the command line shows them as escapes; the machine formats keep the
value exactly as sent, since they are data.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fake.hostile import RawRequest, respond
from tests.conftest import CANARY_KEY, Run, on_terminal, run_cli, serving_in_thread

from .conftest import Observe

#: One of each: clear screen and home, OSC 52 clipboard write, OSC 8 link, CR, BEL, RLO, NUL.
POISON: Final = (
    "\x1b[2J\x1b[H\x1b]52;c;cHduZWQ=\x07\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"
    "\rforged line\x07\u202eesrever\x00"
)
#: The model whose id is poisoned in every source (the others keep theirs, so names resolve).
VICTIM: Final = "anthropic/claude-opus-4.5"
OTHER: Final = "openai/gpt-5"
SHOWN_VICTIM: Final = VICTIM + POISON
WHERE: Final = ("--source", "design-arena", "--arena", "models", "--category", "gamedev")
QUIET: Final = ("--quota", "off")
#: A watch that stops at its first change (the server serves two snapshots in turn).
ONE_CHANGE: Final = ("--every", "0.05", "--count", "1", "--no-cache")

#: Every control character but the newline between lines; SGR is looked for apart.
_CONTROL: Final = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: The styles a Palette writes (bold, dim, red, yellow, reset): the only escapes allowed.
_OWN_SGR: Final = re.compile("\x1b\\[(?:0|1|2|31|33)m")


def _poisoned(document: dict[str, Any]) -> dict[str, Any]:
    """Every display name, the victim's id, every category and the citation made hostile."""
    for item in document["data"]:
        if isinstance(item.get("display_name"), str):
            item["display_name"] += POISON
        if item.get("model_permaslug") == VICTIM:
            item["model_permaslug"] = SHOWN_VICTIM
        if isinstance(item.get("category"), str):
            item["category"] += POISON
    document["meta"]["citation"] = f"{document['meta'].get('citation') or 'cite'}{POISON}"
    return document


class Hostile:
    """The fake's data, poisoned, served from the snapshots queued in :attr:`as_of`."""

    def __init__(self) -> None:
        self.data = FakeOpenRouter(seed=7, per_minute=None, per_day=None)
        self.first = self.data.as_of
        self.second = self.data.publish()
        #: The snapshot each next request gets; the last one stays.
        self.as_of: collections.deque[datetime] = collections.deque([self.second])

    async def answer(self, request: RawRequest, writer: asyncio.StreamWriter) -> None:
        """The poisoned body of the snapshot next in line, for the request's parameters."""
        moment = self.as_of.popleft() if len(self.as_of) > 1 else self.as_of[0]
        params = dict(parse_qsl(urlsplit(request.target).query))
        body = _poisoned(self.data.payload_at(moment, params))
        writer.write(respond(200, orjson.dumps(body)))
        await writer.drain()


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hostile]:
    """The poisoned server on loopback, the CLI pointed at it with a private cache."""
    server = Hostile()
    with serving_in_thread(server.answer) as url:
        monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
        monkeypatch.setenv("OPENROUTER_BASE_URL", url)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        yield server


#: Each human-readable output, as a person would ask for it.
TEXT_COMMANDS: Final = {
    "get table": ("get", *WHERE),
    "grid table": ("grid", "--source", "artificial-analysis,design-arena"),
    "model": ("model", SHOWN_VICTIM),
    "compare": ("compare", SHOWN_VICTIM, OTHER),
    "best": ("best", "--task", "coding"),
    "leaders": ("leaders",),
    "history": ("history", SHOWN_VICTIM, *WHERE),
    "history --changes": ("history", "--changes", "1", "2", *WHERE),
    "watch text": ("watch", *WHERE, *ONE_CHANGE),
    "watch table": ("watch", *WHERE, *ONE_CHANGE, "--format", "table"),
}


def _raw_controls(text: str) -> list[str]:
    """The control characters in ``text`` once the package's own styles are taken out."""
    return _CONTROL.findall(_OWN_SGR.sub("", text))


def _keep_two_snapshots(server: Hostile) -> None:
    """Two runs of get, a snapshot each, so that history has a past to show."""
    server.as_of.extendleft([server.second, server.first])
    for _ in range(2):
        assert run_cli("get", *WHERE, "--refresh", *QUIET).code == 0


@pytest.mark.hostile(
    case="every string field (display names, model ids, categories, citations) carries "
    "ESC [2J, OSC 52, OSC 8, CR, BEL, a bidi override and NUL; each text command prints it",
    expected="no control character but the package's own colours and the newlines between "
    "lines reaches stdout or stderr; each shows as an escape; JSON and NDJSON keep the value "
    "as sent",
)
def test_no_text_output_lets_server_text_drive_the_terminal(
    hostile: Hostile, observe: Observe
) -> None:
    """get, grid, model, compare, best, leaders, history and watch show escapes, not commands."""
    _keep_two_snapshots(hostile)
    runs: dict[str, Run] = {}
    for name, argv in TEXT_COMMANDS.items():
        if name.startswith("watch"):
            hostile.as_of.extendleft([hostile.second, hostile.first])
        runs[name] = run_cli(*argv, *QUIET)
    for name, run in runs.items():
        assert run.code == 0, (name, run.err)
        assert _raw_controls(run.out) == [], name
        assert _raw_controls(run.err) == [], name
        assert "\\x1b[2J" in run.out, name  # the poison is shown, not dropped
    assert "\\u202eesrever" in runs["model"].out
    code, shown, other = on_terminal(["model", SHOWN_VICTIM, *QUIET], stream="out")
    assert code == 0
    assert _OWN_SGR.search(shown)  # colour is on, and stays
    assert _raw_controls(shown + other) == []
    ndjson = run_cli("best", "--task", "coding", "--format", "ndjson").out
    data = {
        "get json": json.loads(run_cli("get", *WHERE, "--format", "json").out),
        "model json": json.loads(run_cli("model", SHOWN_VICTIM, "--format", "json").out),
        "best ndjson": [json.loads(line) for line in ndjson.splitlines()],
    }
    assert data["model json"]["model"] == SHOWN_VICTIM
    assert data["get json"]["meta"]["citation"].endswith(POISON)
    assert all(item["display_name"].endswith(POISON) for item in data["get json"]["data"])
    assert all(row["display_name"].endswith(POISON) for row in data["best ndjson"])
    lines = sum(len(run.out.splitlines()) for run in runs.values())
    escaped = sum(run.out.count("\\x1b[2J") for run in runs.values())
    observe(
        f"{len(runs)} text outputs ({lines} lines, {escaped} hostile strings shown as escapes: "
        "\\x1b[2J...\\u202e...\\x00) and one on a terminal with colour: 0 raw control "
        "characters on stdout or stderr but its own styles; JSON and NDJSON equal the sent values"
    )
