"""The docs cannot rot: every code block of README.md and docs/ runs, and so does every recipe.

Code blocks are found with sybil's Markdown lexers and run one by one, each on its
own, against the bundled fake server (``OPENROUTER_BASE_URL`` and
``OPENROUTER_API_KEY`` point at it), in a temporary working directory:

- ``python`` blocks run as a script (``__name__ == "__main__"``); the ``test_*``
  functions a block defines are then called like pytest would, with the
  ``openrouter_fake``, ``monkeypatch`` and ``tmp_path`` fixtures (and the
  ``openrouter_fake`` marker honoured). A block that only includes a file
  (``--8<-- "examples/x.py"``) shows a recipe, which runs in its own test below.
- ``bash`` blocks are ``openrouter-bench`` commands, run in-process; each must exit 0.
- A block that uses ``REDIS_URL`` gets a Redis database of its own, emptied around it.
- ``text`` blocks are output or illustration: reported as skipped, never silently.
- A block that cannot run here (it installs packages, or serves until stopped)
  follows a ``<!-- skip: next "why" -->`` comment (sybil's syntax), and is
  reported as skipped with that reason.
- Every ``python`` block, skipped or not, also passes ``mypy --strict`` with the
  project's configuration: each is written out as a module of its own and mypy
  checks them all in one run. A block must therefore be complete code (a fragment
  such as an ``async for`` loop goes inside the ``async def`` it would live in); a
  block that only includes a recipe is left to the project's own mypy run, which
  covers ``docs/examples``. There is no exemption: what a reader copies type-checks.

Any other language, a fence without one, or a skip comment with no block after it fails.
The pages that other tools generate (``performance.md``, ``reliability.md``) are theirs.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import csv
import importlib.util
import inspect
import io
import logging
import os
import queue
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Final
from urllib.error import HTTPError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

import attrs
import orjson
import pytest
import redis
from sybil import Document, Region
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

import openrouter_bench
from openrouter_bench import BenchmarksClient, RetryPolicy, cli
from openrouter_bench.errors import OpenRouterBenchError
from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY

ROOT: Final = Path(__file__).resolve().parent.parent
DOCS: Final = ROOT / "docs"
EXAMPLES: Final = DOCS / "examples"

#: Written by the benchmark and soak runs, not by hand; their generators own what they hold.
GENERATED_PAGES: Final = frozenset({DOCS / "performance.md", DOCS / "reliability.md"})

RUN_LANGUAGES: Final = frozenset({"python", "bash"})
OUTPUT_LANGUAGES: Final = frozenset({"text"})

_FENCES: Final = RawFencedCodeBlockLexer(
    info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
)
_SKIPS: Final = DirectiveInHTMLCommentLexer(directive="skip")
_SKIP_ARGUMENTS: Final = re.compile(r"(?P<action>\w+)\s+(?P<reason>.+)$")
_INCLUDE: Final = re.compile(r'^--8<--\s+"(?P<path>[^"]+)"\s*$')

#: A recipe must finish (or, for the service, answer) within this many seconds.
RECIPE_TIMEOUT: Final = 60.0


@attrs.frozen
class CodeBlock:
    """One fenced block of a Markdown file: where it is, what language, and why it may not run."""

    path: Path
    line: int
    language: str
    source: str
    skip: str | None

    @property
    def name(self) -> str:
        """``file:line`` of the opening fence, relative to the repository."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def includes(self) -> list[str]:
        """The files a block made only of snippet lines (``--8<-- "file"``) includes."""
        lines = [line.strip() for line in self.source.splitlines() if line.strip()]
        found = [_INCLUDE.match(line) for line in lines]
        if lines and all(found):
            return [match.group("path") for match in found if match is not None]
        return []


def documents() -> list[Path]:
    """README.md and every hand-written page of docs/."""
    pages = sorted(path for path in DOCS.rglob("*.md") if path not in GENERATED_PAGES)
    return [ROOT / "README.md", *pages]


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def code_blocks(path: Path) -> list[CodeBlock]:
    """The fenced blocks of ``path`` in order, each with the skip reason placed before it."""
    document = Document(path.read_text(encoding="utf-8"), str(path))
    regions: list[tuple[int, str, Region]] = [
        (region.start, "fence", region) for region in _FENCES(document)
    ]
    regions += [(region.start, "skip", region) for region in _SKIPS(document)]
    blocks: list[CodeBlock] = []
    pending: tuple[int, str] | None = None
    for start, kind, region in sorted(regions, key=lambda entry: entry[0]):
        line = _line(document.text, start)
        if kind == "skip":
            if pending is not None:
                raise ValueError(f"{path}:{pending[0]}: a skip comment with no code block after it")
            pending = (line, _skip_reason(path, line, str(region.lexemes["arguments"])))
            continue
        info = str(region.lexemes["info"]).strip()
        blocks.append(
            CodeBlock(
                path=path,
                line=line,
                language=info.split()[0] if info else "",
                source=str(region.lexemes["source"]),
                skip=None if pending is None else pending[1],
            )
        )
        pending = None
    if pending is not None:
        raise ValueError(f"{path}:{pending[0]}: a skip comment with no code block after it")
    return blocks


def _skip_reason(path: Path, line: int, arguments: str) -> str:
    match = _SKIP_ARGUMENTS.match(arguments.strip())
    if match is None or match.group("action") != "next":
        raise ValueError(f'{path}:{line}: write <!-- skip: next "why it cannot run" -->')
    reason = ast.literal_eval(match.group("reason"))
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"{path}:{line}: a skip needs a reason, as a quoted string")
    return reason


ALL_BLOCKS: Final = [block for path in documents() for block in code_blocks(path)]


# --- running blocks ---------------------------------------------------------------------------


@pytest.fixture
def docs_env(
    openrouter_fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The fake as the API, a key that must never be shown, and a scratch working directory."""
    monkeypatch.setenv("OPENROUTER_BASE_URL", openrouter_fake.url)
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def package_loggers() -> list[str]:
    """The names of the loggers the package's modules create, read from their source."""
    package = ROOT / "openrouter_bench"
    names: set[str] = set()
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for argument in re.findall(r"getLogger\(([^)]*)\)", path.read_text(encoding="utf-8")):
            if argument == "__name__":
                names.add(module)
            elif literal := re.fullmatch(r"\"([\w.]+)\"", argument):
                names.add(literal.group(1))
    return sorted(names)


_PACKAGE_LOGGERS: Final = package_loggers()


#: The docs' blocks use a Redis database of their own, emptied after each, so nothing they
#: store (snapshots, a shared quota's counters) meets the other tests' keys.
DOCS_REDIS_DB: Final = 15


@contextlib.contextmanager
def _docs_redis(block: CodeBlock, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For a block that uses ``REDIS_URL``: point it at the docs' database, and empty it after."""
    if "REDIS_URL" not in block.source:
        yield
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{block.name} needs REDIS_URL, and CI=true requires it to run")
        pytest.skip("REDIS_URL is not set")
    own = urlunsplit(urlsplit(url)._replace(path=f"/{DOCS_REDIS_DB}"))
    monkeypatch.setenv("REDIS_URL", own)
    server = redis.Redis.from_url(own)
    try:
        server.flushdb()
        yield
    finally:
        server.flushdb()
        server.close()


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    # The command configures the root logger for its own run, and the Logging page sets
    # levels on the package's loggers: put pytest's handlers and every level back.
    loggers = [logging.getLogger(), *map(logging.getLogger, _PACKAGE_LOGGERS)]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    try:
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)


def run_python(block: CodeBlock, fixtures: dict[str, Any]) -> None:
    """Run a Python block as a script, then every test function it defines."""
    # Blank lines in front keep the Markdown file's line numbers in tracebacks.
    code = compile("\n" * block.line + block.source, str(block.path), "exec")
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(block.path)}
    with _root_logging_kept():
        exec(code, namespace)  # noqa: S102 - running the documentation's own code is the point
        for name, function in list(namespace.items()):
            if name.startswith("test_") and inspect.isfunction(function):
                _call_test(block, function, fixtures)


def _call_test(block: CodeBlock, function: Callable[..., Any], fixtures: dict[str, Any]) -> None:
    marks = getattr(function, "pytestmark", [])
    unknown = [mark.name for mark in marks if mark.name != "openrouter_fake"]
    if unknown:
        pytest.fail(
            f"{block.name}: {function.__name__} has marks the docs cannot honour: {unknown}"
        )
    wanted = list(inspect.signature(function).parameters)
    missing = [name for name in wanted if name not in fixtures]
    if missing:
        pytest.fail(f"{block.name}: {function.__name__} asks for unknown fixtures {missing}")
    options = {key: value for mark in marks for key, value in mark.kwargs.items()}
    with contextlib.ExitStack() as stack:
        given = dict(fixtures)
        if options:
            given["openrouter_fake"] = stack.enter_context(
                FakeOpenRouter.running_in_thread(**options)
            )
        else:
            given["openrouter_fake"].reset()
        result = function(**{name: given[name] for name in wanted})
        if inspect.iscoroutine(result):
            asyncio.run(result)


def commands(source: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = source.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def run_bash(block: CodeBlock) -> list[str]:
    """Run each ``openrouter-bench`` command of a block; the output of each."""
    outputs: list[str] = []
    for words in commands(block.source):
        if words[0] != "openrouter-bench":
            pytest.fail(
                f"{block.name}: only openrouter-bench commands run here; mark the block with "
                f'<!-- skip: next "why" --> if it cannot run ({shlex.join(words)})'
            )
        out, err = io.StringIO(), io.StringIO()
        with _root_logging_kept():
            code = cli.main(words[1:], stdout=out, stderr=err)
        assert code == 0, f"{block.name}: {shlex.join(words)} exited {code}: {err.getvalue()}"
        outputs.append(out.getvalue() + err.getvalue())
    return outputs


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.name)
def test_code_block(
    block: CodeBlock,
    docs_env: Path,
    openrouter_fake: FakeOpenRouter,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The block runs as written against the fake server and never shows the API key."""
    if block.skip is not None:
        pytest.skip(block.skip)
    if block.language in OUTPUT_LANGUAGES:
        pytest.skip("output shown for illustration, not code")
    assert block.language in RUN_LANGUAGES, (
        f"{block.name}: a fence needs one of the languages {sorted(RUN_LANGUAGES)} "
        f'(run), {sorted(OUTPUT_LANGUAGES)} (output), or a <!-- skip: next "why" --> before it'
    )
    if block.includes:
        for included in block.includes:
            assert (DOCS / included).resolve() in RECIPE_TESTS, (
                f"{block.name} shows {included}, which no recipe test runs"
            )
        return
    if block.language == "bash":
        shown = "".join(run_bash(block))
    else:
        fixtures = {
            "openrouter_fake": openrouter_fake,
            "monkeypatch": monkeypatch,
            "tmp_path": tmp_path,
        }
        with _docs_redis(block, monkeypatch):
            run_python(block, fixtures)
        shown = ""
    captured = capsys.readouterr()
    assert CANARY_KEY not in shown + captured.out + captured.err


def test_docs_have_code_blocks_to_run() -> None:
    """The collection finds the pages and their runnable blocks (a broken lexer would find none)."""
    runnable = [block for block in ALL_BLOCKS if block.language in RUN_LANGUAGES]
    assert len({block.path for block in runnable}) >= 10
    assert sum(block.skip is None for block in runnable) >= 30


# --- types ------------------------------------------------------------------------------------

#: The blocks mypy checks: every Python block but those that only include a recipe.
TYPED_BLOCKS: Final = [
    block for block in ALL_BLOCKS if block.language == "python" and not block.includes
]


def test_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    """Every Python block of README.md and docs/ passes mypy --strict as a module of its own."""
    assert len(TYPED_BLOCKS) >= 30
    modules = tmp_path / "blocks"
    modules.mkdir()
    names: dict[str, CodeBlock] = {}
    for index, block in enumerate(TYPED_BLOCKS):
        name = f"docs_block_{index:03d}.py"
        # Blank lines in front keep the Markdown file's line numbers in mypy's report.
        (modules / name).write_text("\n" * block.line + block.source, encoding="utf-8")
        names[name] = block
    done = subprocess.run(  # noqa: S603 - mypy of this interpreter on files written here
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-error-summary",
            *sorted(str(modules / name) for name in names),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    report = done.stdout
    for name, block in names.items():
        report = report.replace(str(modules / name), str(block.path.relative_to(ROOT)))
    assert done.returncode == 0, f"mypy --strict fails on the docs' code:\n{report}{done.stderr}"


# --- recipes ----------------------------------------------------------------------------------


def recipe_env(fake: FakeOpenRouter, tmp_path: Path) -> dict[str, str]:
    """The environment a recipe runs in: the fake as the API, a private user cache directory."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENROUTER_", "XDG_"))
    }
    env.update(
        OPENROUTER_BASE_URL=fake.url,
        OPENROUTER_API_KEY=CANARY_KEY,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_recipe(
    name: str,
    fake: FakeOpenRouter,
    tmp_path: Path,
    *args: str,
    stdin: str = "",
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``docs/examples/<name>`` as a script to the end; fail on a non-zero exit.

    ``unset``: variables of :func:`recipe_env` to leave out (the key, to run without one).
    """
    env = {name: value for name, value in recipe_env(fake, tmp_path).items() if name not in unset}
    done = subprocess.run(  # noqa: S603 - our own recipe, run by this interpreter
        [sys.executable, str(EXAMPLES / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=RECIPE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr}"
    assert CANARY_KEY not in done.stdout + done.stderr
    return done


def _display_names(fake: FakeOpenRouter, params: dict[str, str]) -> list[str]:
    return [item["display_name"] for item in fake.payload(params)["data"]]


QUESTIONS: Final = [
    "Which model is best at svg?",
    "how good is Kimi K2 Thinking?",
    "compare GPT-5 and Kimi K2 Thinking",
    "best coding model under $2",
    "who leads each category?",
    "best coder",
    "top 3 for gamedev",
    "tell me a joke",
    "how good is gpt-7?",
    "openai/gpt-5 vs Kimi K2 Thinking",
    "best builder for website",
    "What is the smartest model?",
    "best agent for cli",
]
#: The conversation the recipe is fed: every question many times over.
CONVERSATION: Final = QUESTIONS * (1000 // len(QUESTIONS) + 1)


def test_recipe_chat_bot(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The bot answers a thousand model questions from one data set: 5 requests, one index."""
    done = run_recipe("chat_bot.py", openrouter_fake, tmp_path, stdin="\n".join(CONVERSATION))
    lines = done.stdout.splitlines()
    answers = [line for line in lines if line.startswith("bot> ")]
    assert len(answers) == len(CONVERSATION)
    asked = dict(zip(QUESTIONS, answers, strict=False))
    best_svg = _display_names(openrouter_fake, {"source": "design-arena", "category": "svg"})[0]
    assert best_svg in asked["Which model is best at svg?"]
    assert asked["how good is Kimi K2 Thinking?"].startswith("bot> Kimi K2 Thinking is in ")
    assert "GPT-5 is ahead of Kimi K2 Thinking in" in asked["compare GPT-5 and Kimi K2 Thinking"]
    assert asked["openai/gpt-5 vs Kimi K2 Thinking"] == asked["compare GPT-5 and Kimi K2 Thinking"]
    assert "(at most $2; prices in USD per million tokens" in asked["best coding model under $2"]
    assert "Design Arena categories;" in asked["who leads each category?"]
    best_coder = _display_names(
        openrouter_fake, {"source": "artificial-analysis", "task_type": "coding"}
    )[0]
    assert best_coder in asked["best coder"]
    gamedev = _display_names(openrouter_fake, {"source": "design-arena", "category": "gamedev"})
    assert all(name in asked["top 3 for gamedev"] for name in gamedev[:3])
    assert "don't know" in asked["tell me a joke"]
    assert "did you mean 'openai/gpt-5'" in asked["how good is gpt-7?"]
    # The same question, asked again later, gets the same answer; each data answer cites.
    assert answers[: len(QUESTIONS)] == answers[len(QUESTIONS) : 2 * len(QUESTIONS)]
    cited = lines[lines.index(asked["Which model is best at svg?"]) + 1]
    assert cited.startswith("     source: ")
    citation = openrouter_fake.payload({"source": "design-arena"})["meta"]["citation"]
    assert citation in cited
    assert len(openrouter_fake.requests) == 5, "one request per source and arena, then the cache"
    assert lines[-1] == (
        f"{len(CONVERSATION)} questions answered with 5 requests (the data set was indexed 1 time)"
    )


def _pick_under(items: list[dict[str, Any]], score: str, cost: Callable[[Any], Any]) -> str:
    """The display name of the best-scoring item whose cost is known and within budget."""
    priced = [item for item in items if item[score] is not None and cost(item) is not None]
    name: str = max(priced, key=lambda item: item[score])["display_name"]  # first of equals
    return name


def _blended(item: dict[str, Any]) -> Decimal | None:
    """USD per million tokens, blended 3:1 input:output, when known and at most $2; else None."""
    pricing = item["pricing"]
    if pricing is None or pricing["prompt"] is None or pricing["completion"] is None:
        return None
    blended = (3 * Decimal(pricing["prompt"]) + Decimal(pricing["completion"])) / 4 * 1_000_000
    return blended if blended <= 2 else None


def _frontier_steps(lines: list[str], ranking: str) -> list[tuple[Decimal, float]]:
    """(price, score) of each frontier line printed under a ranking."""
    start = next(at for at, line in enumerate(lines) if line.startswith(f"{ranking} ("))
    steps = []
    for line in lines[start + 3 :]:
        found = re.match(r"    \$([\d.]+): .*, score ([\d.e+-]+)", line)
        if found is None:
            break
        steps.append((Decimal(found[1]), float(found[2])))
    return steps


def test_recipe_price_picker(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The picker's choice per ranking is the best within the budget, in the ranking's unit."""
    args = ("--budget", "2", "--per-task", "0.01")
    done = run_recipe("price_picker.py", openrouter_fake, tmp_path, *args)
    lines = done.stdout.splitlines()
    picks = {
        lines[at - 1].split(" (", 1)[0]: line.removeprefix("  pick: ").split(", #", 1)[0]
        for at, line in enumerate(lines)
        if line.startswith("  pick: ")
    }
    coding = openrouter_fake.payload({"source": "artificial-analysis"})["data"]
    assert picks["artificial-analysis coding"] == _pick_under(coding, "coding_index", _blended)
    evals = openrouter_fake.payload({"source": "openrouter", "benchmark_type": "gpqa_diamond"})
    costs = [(item, item["avg_cost_per_task"]) for item in evals["data"]]
    within = [item for item, cost in costs if cost is not None and cost <= 0.01]
    assert picks["openrouter gpqa_diamond"] == _pick_under(
        within, "accuracy", lambda item: item["avg_cost_per_task"]
    )
    for ranking in ("design-arena models/codecategories", "openrouter gpqa_diamond"):
        steps = _frontier_steps(lines, ranking)
        assert len(steps) > 1
        assert steps == sorted(steps)
        assert [score for _, score in steps] == sorted(score for _, score in steps)
    assert "openrouter gpqa_diamond (prices in USD per task, within $0.01):" in lines
    citation = openrouter_fake.payload({"source": "design-arena"})["meta"]["citation"]
    assert f"  design-arena models, as of 2026-06-03 12:00 UTC: {citation}" in lines
    assert lines[-1] == "5 requests sent"
    again = run_recipe("price_picker.py", openrouter_fake, tmp_path, *args)
    assert again.stdout.splitlines()[-1] == "0 requests sent", "the on-disk cache answers"
    assert len(openrouter_fake.requests) == 5


def test_recipe_arena_csv(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The job writes every Design Arena category of every arena; a re-run spends no request."""
    out = tmp_path / "arena.csv"
    done = run_recipe("arena_csv.py", openrouter_fake, tmp_path, str(out))
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    expected = [
        item
        for arena in ("models", "builders", "agents")
        for item in openrouter_fake.payload({"source": "design-arena", "arena": arena})["data"]
    ]
    assert len(rows) == len(expected)
    assert {(row["arena"], row["category"]) for row in rows} == {
        (item["arena"], item["category"]) for item in expected
    }
    assert sorted(row["model_permaslug"] for row in rows) == sorted(
        item["model_permaslug"] for item in expected
    )
    firsts = {(row["arena"], row["category"]): row for row in rows if row["rank"] == "1"}
    assert len(firsts) == len({(row["arena"], row["category"]) for row in rows})
    citation = openrouter_fake.payload({"source": "design-arena"})["meta"]["citation"]
    assert citation in done.stdout
    sent = len(openrouter_fake.requests)
    assert sent == 3
    run_recipe("arena_csv.py", openrouter_fake, tmp_path, str(out))
    assert len(openrouter_fake.requests) == sent, "the second run should come from the cache"


def test_recipe_best_model_service(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The service answers "best model for X" from the cache and stops cleanly on SIGINT."""
    service = subprocess.Popen(  # noqa: S603 - our own recipe, run by this interpreter
        [sys.executable, str(EXAMPLES / "best_model_service.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=recipe_env(openrouter_fake, tmp_path),
        cwd=tmp_path,
    )
    try:
        assert service.stdout is not None
        ready, _, _ = select.select([service.stdout], [], [], RECIPE_TIMEOUT)
        assert ready, f"the service printed nothing in {RECIPE_TIMEOUT} s"
        first = service.stdout.readline()
        match = re.search(r"http://\S+", first)
        assert match, f"no URL in {first!r}"
        base = match.group(0).rstrip("/")
        answers = []
        for task in ("coding", "svg", "coding", "gamedev", "svg", "coding"):
            with urlopen(f"{base}/best?for={task}", timeout=RECIPE_TIMEOUT) as reply:  # noqa: S310
                answers.append(orjson.loads(reply.read()))
        best_svg = _display_names(openrouter_fake, {"source": "design-arena", "category": "svg"})
        assert answers[1]["display_name"] == best_svg[0]
        best_coder = _display_names(
            openrouter_fake, {"source": "artificial-analysis", "task_type": "coding"}
        )
        assert answers[0]["display_name"] == best_coder[0]
        assert answers[0] == answers[2] == answers[5]
        assert answers[1]["citation"]
        assert len(openrouter_fake.requests) == 2, "one request per source, then the cache"
        for query, status in (("for=no-such-category", 404), ("", 400)):
            with pytest.raises(HTTPError) as refused:
                urlopen(f"{base}/best?{query}", timeout=RECIPE_TIMEOUT)  # noqa: S310
            assert refused.value.code == status
            refused.value.close()
    finally:
        service.send_signal(signal.SIGINT)
        try:
            _, err = service.communicate(timeout=RECIPE_TIMEOUT)
        except subprocess.TimeoutExpired:
            service.kill()
            service.communicate()
            raise
    assert service.returncode == 0, err
    assert CANARY_KEY not in err


def _leaders(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first item of each Design Arena category, in the server's order."""
    firsts: dict[str, dict[str, Any]] = {}
    for item in payload["data"]:
        firsts.setdefault(item["category"], item)
    return firsts


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Each line of ``stream`` into ``lines``, then None at its end."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def test_recipe_new_leader(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The watch prints today's leaders, then announces each new #1 once data is published."""
    params = {"source": "design-arena", "arena": "models"}
    before = _leaders(openrouter_fake.payload(params))
    with subprocess.Popen(  # noqa: S603 - our own recipe, run by this interpreter
        [sys.executable, str(EXAMPLES / "new_leader.py"), "--every", "0.05", "--changes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=recipe_env(openrouter_fake, tmp_path),
        cwd=tmp_path,
    ) as watcher:
        assert watcher.stdout is not None
        assert watcher.stderr is not None
        # A thread reads the lines: select() on the pipe would miss lines already buffered.
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(watcher.stdout, lines), daemon=True).start()
        try:
            shown: list[str] = []
            while not shown or "watching every" not in shown[-1]:
                line = lines.get(timeout=RECIPE_TIMEOUT)
                assert line is not None, f"the recipe ended early: {shown}"
                shown.append(line)
            assert len(openrouter_fake.requests) == 1
            openrouter_fake.publish()
            watcher.wait(timeout=RECIPE_TIMEOUT)
            rest = "\n".join(iter(lambda: lines.get(timeout=RECIPE_TIMEOUT), None))
            err = watcher.stderr.read()
        finally:
            if watcher.poll() is None:
                watcher.kill()
    assert watcher.returncode == 0, err
    assert CANARY_KEY not in "\n".join(shown) + rest + err
    assert shown[:-1] == [
        f"#1 in design-arena models/{category}: {item['display_name']} ({item['elo']:.0f})"
        for category, item in sorted(before.items())
    ]
    after = _leaders(openrouter_fake.payload(params))
    expected = [
        f"new #1 in design-arena models/{category}: {item['display_name']} "
        f"({item['elo']:.0f}), ahead of {before[category]['display_name']}"
        for category, item in sorted(after.items())
        if item["model_permaslug"] != before[category]["model_permaslug"]
    ]
    assert expected, "the fake's next snapshot should crown at least one new leader"
    citation = openrouter_fake.payload(params)["meta"]["citation"]
    assert rest.splitlines() == [*expected, f"  source: {citation}"]


def recipe_module(name: str) -> ModuleType:
    """``docs/examples/<name>`` imported as a module, so a test can use its parts."""
    spec = importlib.util.spec_from_file_location(f"recipe_{Path(name).stem}", EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_recipe_prometheus_hooks(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The hooks count each request, answer, retry and cache outcome into prometheus_client."""
    from prometheus_client import CollectorRegistry

    recipe = recipe_module("prometheus_hooks.py")
    registry = CollectorRegistry()
    openrouter_fake.script(503)
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=openrouter_fake.url,
        retry=RetryPolicy.no_wait(),
        hooks=recipe.PrometheusHooks(registry),
    ) as client:
        calls = await recipe.workload(client)
    assert [record.status for record in openrouter_fake.requests] == [503, 200, 200, 200, 200]

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"openrouter_bench_{name}", labels)

    assert value("requests_total", source="artificial-analysis") == 2
    assert value("requests_total", source="design-arena") == 3
    assert value("responses_total", status="503", error="ServerError") == 1
    assert value("responses_total", status="200", error="none") == 4
    assert value("request_seconds_count") == 5
    seconds = value("request_seconds_sum")
    assert seconds is not None
    assert seconds > 0
    assert value("retries_total", error="ServerError") == 1
    outcomes = {"coalesced": 9, "hit": 1, "miss": 4}
    assert {name: value("calls_total", outcome=name) for name in outcomes} == outcomes
    assert sum(outcomes.values()) == calls
    # And as a script: it prints the registry in the text format a scraper reads.
    openrouter_fake.reset()
    done = run_recipe("prometheus_hooks.py", openrouter_fake, tmp_path)
    assert 'openrouter_bench_requests_total{source="design-arena"} 3.0' in done.stdout
    assert "# TYPE openrouter_bench_request_seconds histogram" in done.stdout
    assert "# 14 calls, 4 requests (0 of them retries)" in done.stdout


def _otel_points(reader: Any) -> dict[tuple[str, tuple[tuple[str, Any], ...]], float]:
    """(instrument, sorted attributes) -> a counter's value or a histogram's count."""
    from opentelemetry.sdk.metrics.export import NumberDataPoint

    points: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted((point.attributes or {}).items())))
                    number = isinstance(point, NumberDataPoint)
                    points[key] = point.value if number else point.count
    return points


async def test_recipe_otel_hooks(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The hooks record requests, attempt times, retries and cache outcomes on an OTel meter."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    recipe = recipe_module("otel_hooks.py")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    openrouter_fake.script(503)
    try:
        async with BenchmarksClient(
            CANARY_KEY,
            base_url=openrouter_fake.url,
            retry=RetryPolicy.no_wait(),
            hooks=recipe.OpenTelemetryHooks(provider.get_meter("test")),
        ) as client:
            assert await recipe.workload(client) == 7
        points = _otel_points(reader)
    finally:
        provider.shutdown()
    source = "openrouter_bench.source"
    outcome = "openrouter_bench.outcome"
    assert points == {
        ("openrouter_bench.requests", ((source, "artificial-analysis"),)): 2,
        ("openrouter_bench.requests", ((source, "design-arena"),)): 1,
        (
            "openrouter_bench.request.duration",
            (("error.type", "ServerError"), ("http.response.status_code", 503)),
        ): 1,
        ("openrouter_bench.request.duration", (("http.response.status_code", 200),)): 2,
        ("openrouter_bench.retries", (("error.type", "ServerError"),)): 1,
        ("openrouter_bench.calls", ((outcome, "miss"),)): 2,
        ("openrouter_bench.calls", ((outcome, "hit"),)): 1,
        ("openrouter_bench.calls", ((outcome, "coalesced"),)): 4,
    }
    openrouter_fake.reset()
    done = run_recipe("otel_hooks.py", openrouter_fake, tmp_path)
    assert "openrouter_bench.calls {'openrouter_bench.outcome': 'coalesced'} 4" in done.stdout
    assert done.stdout.endswith("# 7 calls\n")


def test_recipe_pandas_analysis(openrouter_fake: FakeOpenRouter, tmp_path: Path) -> None:
    """The analysis loads the data set in five requests and finds the server's cheapest coder."""
    done = run_recipe("pandas_analysis.py", openrouter_fake, tmp_path, "--min-coding", "40")
    assert len(openrouter_fake.requests) == 5
    aa = openrouter_fake.payload({"source": "artificial-analysis"})
    priced = [
        (
            (3 * Decimal(item["pricing"]["prompt"]) + Decimal(item["pricing"]["completion"]))
            / 4
            * 1_000_000,
            -item["coding_index"],
            item["display_name"],
        )
        for item in aa["data"]
        if item["pricing"] is not None and (item["coding_index"] or 0) >= 40
    ]
    price, minus_coding, name = min(priced)
    lines = done.stdout.splitlines()
    cheapest = next(line for line in lines if line.startswith("cheapest with a coding index"))
    assert f"of 40 or more: {name} ({-minus_coding:.1f}) at ${price.normalize():f} " in cheapest
    assert f"{sum(len(openrouter_fake.payload(p)['data']) for p in PARTS)} rows:" in lines[0]
    assert "Spearman rho = " in done.stdout
    assert aa["meta"]["citation"] in done.stdout
    # Without a key it starts the bundled fake and asks that one.
    unset = ("OPENROUTER_API_KEY",)
    again = run_recipe("pandas_analysis.py", openrouter_fake, tmp_path, unset=unset)
    assert len(openrouter_fake.requests) == 5
    assert "cheapest with a coding index of 45 or more: " in again.stdout


#: The parts of the whole data set a Catalog loads (what the pandas recipe reads).
PARTS: Final = [
    {"source": "artificial-analysis"},
    {"source": "openrouter"},
    *({"source": "design-arena", "arena": arena} for arena in ("models", "builders", "agents")),
]


RECIPE_TESTS: Final = {
    (EXAMPLES / "chat_bot.py").resolve(): test_recipe_chat_bot,
    (EXAMPLES / "price_picker.py").resolve(): test_recipe_price_picker,
    (EXAMPLES / "arena_csv.py").resolve(): test_recipe_arena_csv,
    (EXAMPLES / "best_model_service.py").resolve(): test_recipe_best_model_service,
    (EXAMPLES / "new_leader.py").resolve(): test_recipe_new_leader,
    (EXAMPLES / "prometheus_hooks.py").resolve(): test_recipe_prometheus_hooks,
    (EXAMPLES / "otel_hooks.py").resolve(): test_recipe_otel_hooks,
    (EXAMPLES / "pandas_analysis.py").resolve(): test_recipe_pandas_analysis,
}


def test_every_recipe_is_run_and_shown() -> None:
    """Each file in docs/examples/ has a test here and appears on the recipes page."""
    recipes = {path.resolve() for path in EXAMPLES.glob("*.py")}
    assert recipes == set(RECIPE_TESTS)
    shown = {
        (DOCS / included).resolve()
        for block in code_blocks(DOCS / "recipes.md")
        for included in block.includes
    }
    assert shown == recipes


# --- pages that must keep up with the code --------------------------------------------------


def _exported_errors() -> list[str]:
    return sorted(
        name
        for name in openrouter_bench.__all__
        if isinstance(value := getattr(openrouter_bench, name), type)
        and issubclass(value, OpenRouterBenchError)
    )


def _error_rows() -> dict[str, list[str]]:
    page = (DOCS / "reference" / "errors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \|(.*)\|\s*$", page, re.MULTILINE)
    return {name: [cell.strip() for cell in cells.split("|")] for name, cells in rows}


#: A status each HTTP error class stands for, to build one for the exit-code check.
_STATUS_OF: Final = {
    "APIError": 418,
    "BadRequestError": 400,
    "AuthenticationError": 401,
    "PaymentRequiredError": 402,
    "NotFoundError": 404,
    "RateLimitError": 429,
    "ServerError": 503,
}


def test_errors_page_explains_every_error() -> None:
    """Every exported error class has its row on the Errors page, with the CLI's exit code."""
    rows = _error_rows()
    missing = [name for name in _exported_errors() if name not in rows]
    assert not missing, f"reference/errors.md lacks a row for {missing}"
    for name in _exported_errors():
        kind = getattr(openrouter_bench, name)
        if name in _STATUS_OF:
            error = kind("documented", status=_STATUS_OF[name])
        else:
            error = kind("documented")
        shown = re.match(r"\d+", rows[name][-1])
        assert shown is not None, f"{name}: no exit code in its row"
        assert int(shown.group()) == cli._exit_code_for(error), f"{name}: wrong exit code"


def test_api_reference_covers_every_export() -> None:
    """Every name the package exports has its ``:::`` entry in the API reference."""
    text = "\n".join(
        path.read_text(encoding="utf-8") for path in (DOCS / "reference" / "api").glob("*.md")
    )
    documented = set(re.findall(r"^::: openrouter_bench\.(\w+)\s*$", text, re.MULTILINE))
    exported = set(openrouter_bench.__all__) - {"__version__"}
    error_module = "errors" in documented
    if error_module:
        documented |= set(_exported_errors())
    assert exported <= documented, f"not in the API reference: {sorted(exported - documented)}"


def test_api_reference_names_only_the_root_and_the_fake() -> None:
    """Each ``:::`` entry of the API reference is a root export or part of the fake server."""
    for path in (DOCS / "reference" / "api").glob("*.md"):
        for target in re.findall(r"^::: (\S+)", path.read_text(encoding="utf-8"), re.MULTILINE):
            name = target.removeprefix("openrouter_bench.")
            assert name in openrouter_bench.__all__ or name.startswith("fake"), (path.name, target)


def test_docs_import_from_the_root_and_the_fake_only() -> None:
    """No page, example or the README tells users to import from an internal module."""
    pages = [ROOT / "README.md", *DOCS.rglob("*.md"), *EXAMPLES.rglob("*.py")]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for module in re.findall(r"^\s*(?:from|import) (openrouter_bench\.[\w.]+)", text, re.M):
            assert module.startswith("openrouter_bench.fake"), (path.name, module)


def _docstrings() -> Iterator[tuple[str, str]]:
    """(``file:line name``, docstring) of the package's modules and public definitions."""
    package = ROOT / "openrouter_bench"
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        nodes: list[ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef] = [tree]
        while nodes:
            node = nodes.pop()
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if not child.name.startswith("_") or child.name == "__init__":
                    nodes.append(child)
            docstring = ast.get_docstring(node)
            if docstring:
                line = getattr(node, "lineno", 1)
                yield f"{where}:{line} {getattr(node, 'name', '(module)')}", docstring


def _prose_lines(docstring: str) -> Iterator[str]:
    """The lines of a docstring outside its code: ``::`` literal blocks and fenced blocks."""
    literal_indent: int | None = None
    fenced = False
    for line in docstring.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.endswith("::"):
            literal_indent = indent
        yield stripped


def test_no_docstring_line_reads_as_a_heading() -> None:
    """No public docstring has a prose line starting with #: the API page shows it as a heading."""
    found = [
        f"{where}: {line}"
        for where, docstring in _docstrings()
        for line in _prose_lines(docstring)
        if line.startswith("#")
    ]
    assert not found, "reword these lines (a Markdown heading on the API page):\n" + "\n".join(
        found
    )


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "mkdocs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_logging_page_names_every_logger() -> None:
    """Every logger the package creates has its rows on the Logging page, and no other does."""
    page = (DOCS / "reference" / "logging.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(openrouter_bench[\w.]*)` \|", page, re.MULTILINE))
    assert "openrouter_bench.retry" in _PACKAGE_LOGGERS
    assert listed == set(_PACKAGE_LOGGERS) - {"openrouter_bench"}


def test_cli_reference_is_generated_from_the_parser() -> None:
    """The command-line page holds the real --help of the program and of every command."""
    page: str = _hooks().cli_reference()
    parser = cli.build_parser()
    # argparse lists its sub-commands only in private attributes.
    commands = [
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]
    assert {"get", "cache", "demo", "fake-server"} <= set(commands)
    assert "usage: openrouter-bench [-h]" in page
    for name in commands:
        assert f"## `openrouter-bench {name}`" in page
        assert f"usage: openrouter-bench {name}" in page
    for option in ("--source", "--max-results", "--format", "OPENROUTER_API_KEY"):
        assert option in page
