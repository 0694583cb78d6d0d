"""The fake server's data: a deterministic model catalog and the snapshots published from it.

Everything is drawn from ``random.Random`` instances seeded from the fake's
``seed`` (never the global generator), so one seed always gives the same
models, scores and snapshots, in every process.

A :class:`Snapshot` is one published state of the data (one ``as_of``). It keeps
the latent rows it was rendered from, so :func:`next_snapshot` can derive the
following one: scores drift (ranks move), a few rows leave each ranking and a
few new ones enter, and the older snapshot stays as it was.

Rankings ("groups") and their order in a response:

- Artificial Analysis: one ranking, by ``intelligence_index`` (nulls last).
- Design Arena: one ranking per (arena, category), by ``elo``; arenas in the
  order ``models``, ``builders``, ``agents``, categories in
  :data:`ARENA_CATEGORIES` order.
- OpenRouter: one ranking per ``benchmark_type`` (classic evals first, then
  the search evals, in :data:`BENCHMARKS` order), by ``accuracy`` or
  ``primary_score``.

Within a ranking: score descending, ties broken by model id (then search
engine and surface). Sources follow :data:`SOURCE_ORDER`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final, TypeAlias

import attrs

from openrouter_bench.query import KNOWN_CATEGORIES, Arena, BenchmarkType, SearchSurface, Source

__all__ = [
    "ARENA_CATEGORIES",
    "BENCHMARKS",
    "ARENAS",
    "CITATIONS",
    "CLASSIC_BENCHMARKS",
    "DEFAULT_AS_OF",
    "Listing",
    "SEARCH_BENCHMARKS",
    "SEARCH_ENGINES",
    "SEARCH_SURFACES",
    "SOURCE_ORDER",
    "SOURCE_URLS",
    "Snapshot",
    "first_snapshot",
    "format_timestamp",
    "next_snapshot",
]

JSON: TypeAlias = dict[str, Any]

#: The ``as_of`` of a fresh fake's first snapshot.
DEFAULT_AS_OF: Final = datetime(2026, 6, 3, 12, 0, 0, tzinfo=UTC)

# Plain strings, not enum members: they go into JSON items and meta as they are.
_AA: Final = Source.ARTIFICIAL_ANALYSIS.value
_DA: Final = Source.DESIGN_ARENA.value
_OR: Final = Source.OPENROUTER.value
SOURCE_ORDER: Final = (_AA, _DA, _OR)
ARENAS: Final = tuple(arena.value for arena in Arena)

#: Every arena has the contract's categories, and a few more to discover from the data.
ARENA_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    Arena.MODELS.value: (*KNOWN_CATEGORIES, "website"),
    Arena.BUILDERS.value: (*KNOWN_CATEGORIES, "website", "mobile"),
    Arena.AGENTS.value: (*KNOWN_CATEGORIES, "website", "cli"),
}

BENCHMARKS: Final = tuple(benchmark.value for benchmark in BenchmarkType)
CLASSIC_BENCHMARKS: Final = tuple(name for name in BENCHMARKS if not name.startswith("search_"))
SEARCH_BENCHMARKS: Final = tuple(name for name in BENCHMARKS if name.startswith("search_"))
SEARCH_SURFACES: Final = tuple(surface.value for surface in SearchSurface)
SEARCH_ENGINES: Final = ("exa", "native", "parallel")

SOURCE_URLS: Final[dict[str, str]] = {
    _AA: "https://artificialanalysis.ai/leaderboards/models",
    _DA: "https://www.designarena.ai/leaderboard",
    _OR: "https://openrouter.ai/benchmarks",
}

CITATIONS: Final[dict[str, str]] = {
    _AA: ("Data from Artificial Analysis (artificialanalysis.ai), used with attribution."),
    _DA: "Data from Design Arena (designarena.ai), used with attribution.",
    _OR: "Evals run by OpenRouter (openrouter.ai/benchmarks).",
}


def _words(text: str) -> tuple[str, ...]:
    # Long data tables read better as words than as one quoted string per line.
    return tuple(text.split())


_TOTAL_TASKS: Final[dict[str, int]] = {
    "gpqa_diamond": 198,
    "tau_bench_verified_airline": 50,
    "search_browsecomp": 120,
    "search_hle": 150,
    "search_dsqa": 100,
    "search_widesearch": 40,
}

# An OpenRouter-like catalog: "vendor slug | vendor name shown in display names | model slugs".
_VENDORS: Final = """
openai | OpenAI | gpt-5.1 gpt-5 gpt-5-mini gpt-5-nano gpt-5-codex gpt-4.1 gpt-4.1-mini
    gpt-4.1-nano gpt-4o gpt-4o-mini o3 o3-pro o4-mini o3-mini gpt-oss-120b gpt-oss-20b
    gpt-5-image gpt-5-image-mini chatgpt-4o-latest
anthropic | Anthropic | claude-opus-4.5 claude-opus-4.1 claude-opus-4 claude-sonnet-4.5
    claude-sonnet-4 claude-3.7-sonnet claude-haiku-4.5 claude-3.5-haiku claude-3.5-sonnet
google | Google | gemini-3-pro-preview gemini-2.5-pro gemini-2.5-flash gemini-2.5-flash-lite
    gemini-2.0-flash-001 gemini-2.0-flash-lite-001 gemini-2.5-flash-image gemma-3-27b-it
    gemma-3-12b-it gemma-3-4b-it gemma-3n-e4b-it
meta-llama | Meta | llama-4-maverick llama-4-scout llama-3.3-70b-instruct llama-3.1-405b-instruct
    llama-3.1-70b-instruct llama-3.1-8b-instruct llama-3.2-3b-instruct
    llama-3.2-11b-vision-instruct
mistralai | Mistral | mistral-large-2411 mistral-medium-3.1 mistral-small-3.2-24b-instruct
    magistral-medium-2506 magistral-small-2506 codestral-2508 devstral-medium devstral-small
    ministral-8b ministral-3b pixtral-large-2411 mistral-nemo mixtral-8x22b-instruct
deepseek | DeepSeek | deepseek-v3.2-exp deepseek-chat-v3.1 deepseek-chat-v3-0324 deepseek-r1-0528
    deepseek-r1 deepseek-r1-distill-llama-70b deepseek-r1-distill-qwen-32b
qwen | Qwen | qwen3-max qwen3-235b-a22b-2507 qwen3-235b-a22b-thinking-2507 qwen3-coder
    qwen3-coder-flash qwen3-32b qwen3-30b-a3b qwen3-14b qwen3-8b qwen3-next-80b-a3b-instruct
    qwen3-vl-235b-a22b-instruct qwen-2.5-72b-instruct qwen-2.5-coder-32b-instruct qwq-32b
x-ai | xAI | grok-4 grok-4-fast grok-4.1-fast grok-code-fast-1 grok-3 grok-3-mini
moonshotai | MoonshotAI | kimi-k2-thinking kimi-k2-0905 kimi-k2 kimi-dev-72b
z-ai | Z.AI | glm-4.6 glm-4.5 glm-4.5-air glm-4.5v glm-4-32b
minimax | MiniMax | minimax-m2 minimax-m1 minimax-01
cohere | Cohere | command-a command-r-plus-08-2024 command-r-08-2024 command-r7b-12-2024
amazon | Amazon | nova-premier-v1 nova-pro-v1 nova-lite-v1 nova-micro-v1
microsoft | Microsoft | phi-4 phi-4-reasoning-plus phi-4-multimodal-instruct mai-ds-r1
nvidia | NVIDIA | llama-3.3-nemotron-super-49b-v1.5 llama-3.1-nemotron-ultra-253b-v1
    nemotron-nano-9b-v2 llama-3.1-nemotron-70b-instruct
perplexity | Perplexity | sonar sonar-pro sonar-reasoning-pro sonar-deep-research
baidu | Baidu | ernie-4.5-300b-a47b ernie-4.5-21b-a3b
tencent | Tencent | hunyuan-a13b-instruct
inception | Inception | mercury mercury-coder
ai21 | AI21 | jamba-large-1.7 jamba-mini-1.7
nousresearch | Nous | hermes-4-405b hermes-4-70b hermes-3-llama-3.1-405b
ibm-granite | IBM | granite-4.0-h-micro
arcee-ai | Arcee AI | virtuoso-large coder-large maestro-reasoning
liquid | LiquidAI | lfm-2.2-6b lfm-7b
bytedance | ByteDance | seed-oss-36b-instruct ui-tars-1.5-7b
stepfun-ai | StepFun | step3
meituan | Meituan | longcat-flash-chat
inclusionai | inclusionAI | ling-1t ring-1t
"""

# Open-weight models OpenRouter also lists as a ":free" variant.
_FREE_VARIANTS: Final = _words("""
deepseek/deepseek-r1-0528 deepseek/deepseek-chat-v3.1 deepseek/deepseek-r1
meta-llama/llama-3.3-70b-instruct meta-llama/llama-4-maverick meta-llama/llama-4-scout
meta-llama/llama-3.2-3b-instruct qwen/qwen3-coder qwen/qwen3-235b-a22b-2507 qwen/qwen3-14b
qwen/qwen3-8b google/gemma-3-27b-it google/gemma-3-12b-it google/gemma-3n-e4b-it
mistralai/mistral-small-3.2-24b-instruct mistralai/devstral-small mistralai/mistral-nemo
openai/gpt-oss-20b z-ai/glm-4.5-air moonshotai/kimi-k2 microsoft/mai-ds-r1
nvidia/nemotron-nano-9b-v2 meituan/longcat-flash-chat tencent/hunyuan-a13b-instruct
""")

# Design Arena entries with no OpenRouter counterpart: "own id | display name" per line.
_DA_OWN_LLMS: Final = """
claude-opus-4-5-thinking-32k | Claude Opus 4.5 (Thinking 32k)
gpt-5-1-codex-high | GPT-5.1 Codex (high)
grok-4-1-thinking | Grok 4.1 Thinking
qwen3-vl-plus | Qwen3 VL Plus
doubao-seed-1-6 | Doubao Seed 1.6
hunyuan-t1 | Hunyuan T1
ernie-x1-1-preview | ERNIE X1.1 Preview
mistral-medium-3-2-preview | Mistral Medium 3.2 Preview
"""
_DA_IMAGE_MODELS: Final = """
gpt-image-1 | GPT Image 1
imagen-4-ultra | Imagen 4 Ultra
seedream-4 | Seedream 4.0
flux-1-1-pro-ultra | FLUX1.1 [pro] Ultra
recraft-v3 | Recraft V3
ideogram-v3 | Ideogram 3.0
midjourney-v7 | Midjourney v7
qwen-image | Qwen-Image
hunyuan-image-3 | HunyuanImage 3.0
"""
_DA_VIDEO_MODELS: Final = """
veo-3-1 | Veo 3.1
sora-2 | Sora 2
kling-2-5-turbo | Kling 2.5 Turbo
hailuo-02 | Hailuo 02
seedance-1-pro | Seedance 1.0 Pro
wan-2-5 | Wan 2.5
runway-gen-4 | Runway Gen-4
pika-2-2 | Pika 2.2
ray-3 | Ray3
"""
_DA_BUILDERS: Final = """
lovable | Lovable
bolt | Bolt
v0 | v0
replit-agent | Replit Agent
base44 | Base44
firebase-studio | Firebase Studio
same | Same
anything | Anything
tempo-labs | Tempo Labs
magic-patterns | Magic Patterns
figma-make | Figma Make
rocket | Rocket
mocha | Mocha
orchids | Orchids
create | Create
bubble-ai | Bubble AI
"""
_DA_AGENTS: Final = """
claude-code | Claude Code
codex-cli | Codex CLI
cursor-agent | Cursor Agent
gemini-cli | Gemini CLI
cline | Cline
roo-code | Roo Code
aider | Aider
windsurf-cascade | Windsurf Cascade
github-copilot-agent | GitHub Copilot Agent
devin | Devin
openhands | OpenHands
amp | Amp
kilo-code | Kilo Code
goose | Goose
opencode | opencode
warp-agent | Warp Agent
augment-code | Augment Code
junie | Junie
"""

# Substrings of a model slug that hint at its strength; they set the latent skill's mean.
_STRONG_HINTS: Final = _words("""
opus gpt-5.1 gpt-5 o3-pro gemini-3 2.5-pro grok-4 kimi-k2-thinking qwen3-max 405b r1-0528 v3.2
glm-4.6 minimax-m2 chat-v3.1 sonnet-4.5 ultra 1t 235b deep-research
""")
_WEAK_HINTS: Final = _words("""
mini nano lite micro haiku 8b 3b 4b 7b 9b 12b 14b small air e4b 6b r7b nemo 21b -flash
""")
_OLD_HINTS: Final = _words("3.5 3.1- 2.0 gpt-4o qwen-2.5 mixtral command-r 3.2- 2411")
_CODER_HINTS: Final = _words("coder codestral devstral codex code-fast kimi-dev")

# Price tiers, USD per million prompt tokens, and completion/prompt ratios.
_CHEAP_PRICES: Final = _words("0.02 0.04 0.05 0.075 0.1 0.15 0.2")
_MID_PRICES: Final = _words("0.25 0.3 0.4 0.5 0.6 0.8 1 1.1")
_PREMIUM_PRICES: Final = _words("1.25 2 2.5 3 5 10 15")
_PRICE_RATIOS: Final = (2, 3, 4, 5, 8)

_TOKEN_WORDS: Final[dict[str, str]] = {
    "gpt": "GPT",
    "oss": "OSS",
    "glm": "GLM",
    "it": "IT",
    "vl": "VL",
    "r1": "R1",
    "qwq": "QwQ",
    "ui": "UI",
    "tars": "TARS",
    "lfm": "LFM",
    "ernie": "ERNIE",
    "mai": "MAI",
    "ds": "DS",
    "chatgpt": "ChatGPT",
    "deepseek": "DeepSeek",
    "minimax": "MiniMax",
    "o3": "o3",
    "o4": "o4",
}
# Size and expert tokens: 70b, a22b, e4b, 8x22b.
_SIZE_TOKEN: Final = re.compile(r"(?:\d+x)?[ae]?\d+(?:\.\d+)?[bm]")


def _vendors() -> list[tuple[str, str, list[str]]]:
    vendors = []
    for block in re.split(r"\n(?=\S)", _VENDORS.strip()):
        slug, name, models = (part.strip() for part in block.split("|"))
        vendors.append((slug, name, models.split()))
    return vendors


def _named(table: str) -> list[tuple[str, str]]:
    rows = (line.split("|") for line in table.strip().splitlines())
    return [(own_id.strip(), name.strip()) for own_id, name in rows]


@attrs.frozen
class _Model:
    """Something that can be ranked: an OpenRouter model or a Design Arena entry of its own."""

    permaslug: str
    name: str  # as Artificial Analysis and Design Arena show it
    listed_name: str  # as OpenRouter shows it: "Vendor: Name"
    pricing: JSON | None = attrs.field(eq=False)
    skill: float  # latent strength; every score is drawn around it
    coder: bool = False
    kind: str = "llm"  # llm, image, video, builder, agent


@attrs.frozen
class _AARow:
    model: _Model
    intelligence: float | None
    coding: float | None
    agentic: float | None


@attrs.frozen
class _DARow:
    model: _Model
    arena: str
    category: str
    elo: float
    total: int | None  # None: the tournament stats are unknown
    fourth_known: bool
    generation_ms: float | None
    win_noise: float


@attrs.frozen
class _EvalRow:
    model: _Model
    benchmark: str
    accuracy: float
    stddev: float | None
    cost: float | None
    last_run: datetime


@attrs.frozen
class _SearchRow:
    model: _Model
    benchmark: str
    engine: str
    surface: str
    score: float
    cost: float | None
    latency_ms: float | None
    last_run: datetime
    max_agent_turns: int | None
    reasoning_effort: str | None
    temperature: float | None


_Row: TypeAlias = _AARow | _DARow | _EvalRow | _SearchRow


@attrs.frozen(eq=False)
class Listing:
    """One item of the data as JSON; a search eval's ``run_config`` is kept beside it."""

    item: JSON
    run_config: JSON | None
    source: str


@attrs.frozen(eq=False)
class Snapshot:
    """One published state of the data; ``listings`` in canonical response order."""

    generation: int
    as_of: datetime
    rows: tuple[_Row, ...] = attrs.field(repr=False)
    listings: tuple[Listing, ...] = attrs.field(repr=False)
    catalog: _Catalog = attrs.field(repr=False, eq=False)


@attrs.frozen
class _Catalog:
    models: tuple[_Model, ...]
    da_rosters: dict[str, tuple[_Model, ...]] = attrs.field(eq=False)
    search_models: tuple[_Model, ...]


def format_timestamp(moment: datetime, *, milliseconds: bool = False) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, the API reference's timestamp form.

    With ``milliseconds``: ``YYYY-MM-DDTHH:MM:SS.mmmZ``, the form the Data API
    guide shows.
    """
    utc = moment.astimezone(UTC)
    if milliseconds:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=16)
def first_snapshot(seed: int, models: int, as_of: datetime) -> Snapshot:
    """The initial snapshot for a seed; built once per process and shared (it is never mutated)."""
    if models < 20:
        raise ValueError(f"models must be at least 20, got {models}")
    rng = random.Random(seed)
    catalog = _catalog(rng, models)
    rows: list[_Row] = []
    rows.extend(_aa_row(model, rng) for model in catalog.models if rng.random() < 0.88)
    for arena, roster in catalog.da_rosters.items():
        for category in ARENA_CATEGORIES[arena]:
            eligible = [model for model in roster if _plays(model, arena, category)]
            chosen = [model for model in eligible if rng.random() < 0.8] or eligible
            rows.extend(_da_row(model, arena, category, rng) for model in chosen)
    priced = [model for model in catalog.models if _is_paid(model)]
    for benchmark, count in (
        (BenchmarkType.GPQA_DIAMOND.value, 46),
        (BenchmarkType.TAU_BENCH_VERIFIED_AIRLINE.value, 30),
    ):
        for model in rng.sample(priced, min(count, len(priced))):
            rows.append(_eval_row(model, benchmark, as_of, rng))
    for benchmark in SEARCH_BENCHMARKS:
        for model in catalog.search_models:
            if rng.random() < 0.8:
                rows.extend(_search_rows(model, benchmark, as_of, rng))
    snapshot_rows = tuple(rows)
    return Snapshot(0, as_of, snapshot_rows, _render(snapshot_rows), catalog)


def next_snapshot(previous: Snapshot, *, seed: int, as_of: datetime) -> Snapshot:
    """The snapshot published after ``previous``: drifted scores, a few rows in and out."""
    generation = previous.generation + 1
    # A string seed hashes stably across processes, unlike hash() of a tuple.
    rng = random.Random(f"openrouter-bench-fake:{seed}:{generation}")
    catalog = previous.catalog
    drifted = [_drift(row, rng, as_of) for row in previous.rows]
    groups: dict[tuple[str, ...], list[_Row]] = {}
    for row in drifted:
        groups.setdefault(_group_of(row), []).append(row)
    rows: list[_Row] = []
    for group, members in groups.items():
        rows.extend(_turn_over(group, members, catalog, rng, as_of))
    snapshot_rows = tuple(rows)
    return Snapshot(generation, as_of, snapshot_rows, _render(snapshot_rows), catalog)


# --- the catalog -------------------------------------------------------------------------


def _catalog(rng: random.Random, count: int) -> _Catalog:
    pool = _catalog_pool(rng)
    if count < len(pool):
        keep = set(rng.sample(range(len(pool)), count))
        chosen = [model for index, model in enumerate(pool) if index in keep]
    else:
        chosen = pool + _dated_variants(pool, count - len(pool), rng)
    paid_llms = [model for model in chosen if _is_paid(model) and "image" not in model.permaslug]
    image_models = [model for model in chosen if "image" in model.permaslug and _is_paid(model)]
    arena_models = sorted(rng.sample(paid_llms, min(60, len(paid_llms))), key=_by_slug)
    agent_models = sorted(rng.sample(paid_llms, min(6, len(paid_llms))), key=_by_slug)
    search_models = sorted(rng.sample(paid_llms, min(14, len(paid_llms))), key=_by_slug)
    rosters = {
        Arena.MODELS.value: (
            *arena_models,
            *image_models,
            *_own_entries(_named(_DA_OWN_LLMS), "llm", 0.6, rng),
            *_own_entries(_named(_DA_IMAGE_MODELS), "image", 0.0, rng),
            *_own_entries(_named(_DA_VIDEO_MODELS), "video", 0.0, rng),
        ),
        Arena.BUILDERS.value: _own_entries(_named(_DA_BUILDERS), "builder", 0.0, rng),
        Arena.AGENTS.value: (*agent_models, *_own_entries(_named(_DA_AGENTS), "agent", 0.2, rng)),
    }
    return _Catalog(tuple(chosen), rosters, tuple(search_models))


def _by_slug(model: _Model) -> str:
    return model.permaslug


def _catalog_pool(rng: random.Random) -> list[_Model]:
    pool: list[_Model] = []
    by_slug: dict[str, _Model] = {}
    for vendor, vendor_name, slugs in _vendors():
        for slug in slugs:
            model = _listed_model(f"{vendor}/{slug}", vendor_name, _pretty(slug), rng)
            pool.append(model)
            by_slug[model.permaslug] = model
    for base in _FREE_VARIANTS:
        paid = by_slug[base]
        pool.append(
            attrs.evolve(
                paid,
                permaslug=f"{base}:free",
                name=f"{paid.name} (free)",
                listed_name=f"{paid.listed_name} (free)",
                pricing={"prompt": "0", "completion": "0"},
            )
        )
    return pool


def _listed_model(permaslug: str, vendor_name: str, name: str, rng: random.Random) -> _Model:
    slug = permaslug.split("/", 1)[1]
    strong = any(hint in slug for hint in _STRONG_HINTS)
    weak = any(hint in slug for hint in _WEAK_HINTS)
    old = any(hint in slug for hint in _OLD_HINTS)
    skill = 0.9 * strong - 0.7 * weak - 0.5 * old + rng.gauss(0.0, 0.45)
    return _Model(
        permaslug=permaslug,
        name=name,
        listed_name=f"{vendor_name}: {name}",
        pricing=_pricing(skill, rng),
        skill=skill,
        coder=any(hint in slug for hint in _CODER_HINTS),
    )


def _dated_variants(pool: Sequence[_Model], count: int, rng: random.Random) -> list[_Model]:
    # More models than the catalog has: add dated snapshots of listed ones, as providers do.
    taken = {model.permaslug for model in pool}
    paid = [model for model in pool if _is_paid(model)]
    variants: list[_Model] = []
    while len(variants) < count:
        base = rng.choice(paid)
        day = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(500))
        permaslug = f"{base.permaslug}-{day:%Y-%m-%d}"
        if permaslug in taken:
            continue
        taken.add(permaslug)
        variants.append(
            attrs.evolve(
                base,
                permaslug=permaslug,
                name=f"{base.name} ({day:%Y-%m-%d})",
                listed_name=f"{base.listed_name} ({day:%Y-%m-%d})",
                skill=base.skill + rng.gauss(0.0, 0.15),
            )
        )
    return variants


def _own_entries(
    entries: Iterable[tuple[str, str]], kind: str, base_skill: float, rng: random.Random
) -> tuple[_Model, ...]:
    return tuple(
        _Model(
            permaslug=permaslug,
            name=name,
            listed_name=name,
            pricing=None,
            skill=base_skill + rng.gauss(0.0, 0.6),
            kind=kind,
        )
        for permaslug, name in entries
    )


def _pretty(slug: str) -> str:
    words: list[str] = []
    for token in slug.split("-"):
        if token in _TOKEN_WORDS:
            words.append(_TOKEN_WORDS[token])
        elif _SIZE_TOKEN.fullmatch(token):
            words.append(token.upper().replace("X", "x"))
        elif token[:1].isdigit():
            words.append(token)
        else:
            words.append(token[:1].upper() + token[1:])
    text = " ".join(words)
    # OpenRouter writes "GPT-5", not "GPT 5".
    return text.replace("GPT ", "GPT-", 1) if text.startswith("GPT ") else text


def _pricing(skill: float, rng: random.Random) -> JSON | None:
    if rng.random() < 0.06:
        return None  # the catalog does not know this model's price
    tier = _PREMIUM_PRICES if skill > 0.6 else _MID_PRICES if skill > -0.4 else _CHEAP_PRICES
    prompt = Decimal(rng.choice(tier))
    completion = prompt * rng.choice(_PRICE_RATIOS)
    return {"prompt": _per_token(prompt), "completion": _per_token(completion)}


def _per_token(per_million: Decimal) -> str:
    return format((per_million / 1_000_000).normalize(), "f")


def _is_paid(model: _Model) -> bool:
    return model.pricing is not None and model.pricing["prompt"] != "0"


def _plays(model: _Model, arena: str, category: str) -> bool:
    """Whether a Design Arena entry competes in a category (media models only in their own)."""
    if arena != Arena.MODELS.value:
        return True
    if model.kind == "image" or "image" in model.permaslug:
        return category == "image"
    if model.kind == "video":
        return category == "video"
    return category not in ("image", "video")


# --- rows ----------------------------------------------------------------------------------


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def _aa_row(model: _Model, rng: random.Random) -> _AARow:
    base = 1.3 * model.skill
    intelligence = 12.0 + 58.0 * _sigmoid(base + rng.gauss(0.0, 0.25))
    coding = 8.0 + 58.0 * _sigmoid(base + 0.5 * model.coder + rng.gauss(0.0, 0.35))
    agentic = 5.0 + 60.0 * _sigmoid(base + rng.gauss(0.0, 0.45))
    return _AARow(
        model=model,
        intelligence=None if rng.random() < 0.03 else round(intelligence, 1),
        coding=None if rng.random() < 0.08 else round(coding, 1),
        agentic=None if rng.random() < 0.25 else round(agentic, 1),
    )


_GENERATION_MS: Final[dict[str, tuple[float, float]]] = {
    "llm": (9.8, 0.5),  # log-normal (mu, sigma): about 18 s
    "image": (9.2, 0.4),
    "video": (11.2, 0.4),
    "builder": (11.8, 0.4),
    "agent": (12.2, 0.5),
}


def _da_row(model: _Model, arena: str, category: str, rng: random.Random) -> _DARow:
    mu, sigma = _GENERATION_MS[model.kind]
    unknown_stats = rng.random() < 0.04
    return _DARow(
        model=model,
        arena=arena,
        category=category,
        elo=round(1150.0 + 140.0 * model.skill + rng.gauss(0.0, 40.0), 1),
        total=None if unknown_stats else int(rng.lognormvariate(4.8, 0.7)) + 8,
        fourth_known=rng.random() > 0.06,
        generation_ms=None if rng.random() < 0.1 else round(rng.lognormvariate(mu, sigma), 1),
        win_noise=rng.gauss(0.0, 1.5),
    )


def _eval_row(model: _Model, benchmark: str, as_of: datetime, rng: random.Random) -> _EvalRow:
    floor = 0.25 if benchmark == BenchmarkType.GPQA_DIAMOND else 0.15
    accuracy = floor + 0.65 * _sigmoid(1.2 * model.skill + rng.gauss(0.0, 0.3))
    return _EvalRow(
        model=model,
        benchmark=benchmark,
        accuracy=round(accuracy, 4),
        stddev=None if rng.random() < 0.2 else round(rng.uniform(0.004, 0.03), 4),
        cost=None if rng.random() < 0.15 else round(rng.lognormvariate(-4.0, 1.0), 6),
        last_run=_recent(as_of, rng),
    )


def _search_rows(
    model: _Model, benchmark: str, as_of: datetime, rng: random.Random
) -> list[_SearchRow]:
    setups = [(engine, surface) for engine in SEARCH_ENGINES for surface in SEARCH_SURFACES]
    chosen = [setup for setup in setups if rng.random() < 0.45] or [rng.choice(setups)]
    return [
        _search_row(model, benchmark, engine, surface, as_of, rng) for engine, surface in chosen
    ]


def _search_row(
    model: _Model, benchmark: str, engine: str, surface: str, as_of: datetime, rng: random.Random
) -> _SearchRow:
    score = 0.05 + 0.75 * _sigmoid(1.1 * model.skill - 0.6 + rng.gauss(0.0, 0.35))
    return _SearchRow(
        model=model,
        benchmark=benchmark,
        engine=engine,
        surface=surface,
        score=round(score, 4),
        cost=None if rng.random() < 0.1 else round(rng.lognormvariate(-3.0, 0.8), 6),
        latency_ms=None if rng.random() < 0.1 else round(rng.lognormvariate(10.5, 0.6), 1),
        last_run=_recent(as_of, rng),
        max_agent_turns=rng.choice((10, 20, 30, 50, None)),
        reasoning_effort=rng.choice(("low", "medium", "high", None)),
        temperature=rng.choice((0.0, 0.3, 0.7, 1.0, None)),
    )


def _recent(as_of: datetime, rng: random.Random) -> datetime:
    return as_of - timedelta(seconds=rng.randrange(3_600, 40 * 86_400))


# --- publishing ----------------------------------------------------------------------------


def _drift(row: _Row, rng: random.Random, as_of: datetime) -> _Row:
    if isinstance(row, _AARow):
        return attrs.evolve(
            row,
            intelligence=_nudge(row.intelligence, 1.2, rng),
            coding=_nudge(row.coding, 1.2, rng),
            agentic=_nudge(row.agentic, 1.5, rng),
        )
    if isinstance(row, _DARow):
        return attrs.evolve(
            row,
            elo=round(row.elo + rng.gauss(0.0, 14.0), 1),
            total=None if row.total is None else row.total + rng.randrange(3, 40),
        )
    rerun = rng.random() < 0.3
    if isinstance(row, _EvalRow):
        return attrs.evolve(
            row,
            accuracy=round(min(1.0, max(0.0, row.accuracy + rng.gauss(0.0, 0.012))), 4),
            last_run=_recent(as_of, rng) if rerun else row.last_run,
        )
    return attrs.evolve(
        row,
        score=round(min(1.0, max(0.0, row.score + rng.gauss(0.0, 0.012))), 4),
        last_run=_recent(as_of, rng) if rerun else row.last_run,
    )


def _nudge(value: float | None, spread: float, rng: random.Random) -> float | None:
    return None if value is None else round(max(1.0, value + rng.gauss(0.0, spread)), 1)


def _group_of(row: _Row) -> tuple[str, ...]:
    if isinstance(row, _AARow):
        return (_AA,)
    if isinstance(row, _DARow):
        return (_DA, row.arena, row.category)
    return (_OR, row.benchmark)


def _turn_over(
    group: tuple[str, ...],
    members: list[_Row],
    catalog: _Catalog,
    rng: random.Random,
    as_of: datetime,
) -> list[_Row]:
    """A ranking after a publish: a few members leave, a few newcomers enter."""
    source = group[0]
    if source == _AA:
        leaving, entering = rng.randint(1, 3), rng.randint(1, 3)
    else:
        leaving, entering = rng.choice((0, 0, 1, 1, 2)), rng.choice((0, 1, 1, 2))
    leaving = min(leaving, max(0, len(members) - 3))
    for _ in range(leaving):
        members.pop(rng.randrange(len(members)))
    present = {row.model.permaslug for row in members}
    newcomers: list[_Row] = []
    if source == _AA:
        pool = [model for model in catalog.models if model.permaslug not in present]
        newcomers = [_aa_row(model, rng) for model in _pick(pool, entering, rng)]
    elif source == _DA:
        arena, category = group[1], group[2]
        pool = [
            model
            for model in catalog.da_rosters[arena]
            if model.permaslug not in present and _plays(model, arena, category)
        ]
        newcomers = [_da_row(model, arena, category, rng) for model in _pick(pool, entering, rng)]
    elif group[1] in CLASSIC_BENCHMARKS:
        pool = [
            model for model in catalog.models if _is_paid(model) and model.permaslug not in present
        ]
        newcomers = [_eval_row(model, group[1], as_of, rng) for model in _pick(pool, entering, rng)]
    else:
        pool = [model for model in catalog.search_models if model.permaslug not in present]
        for model in _pick(pool, entering, rng):
            newcomers.extend(_search_rows(model, group[1], as_of, rng))
    return members + newcomers


def _pick(pool: Sequence[_Model], count: int, rng: random.Random) -> list[_Model]:
    return rng.sample(list(pool), min(count, len(pool)))


# --- rendering -----------------------------------------------------------------------------


def _render(rows: Sequence[_Row]) -> tuple[Listing, ...]:
    """Every row as its JSON item, in canonical response order (see the module docstring)."""
    listings: list[Listing] = []
    assessed = [row for row in rows if isinstance(row, _AARow)]
    assessed.sort(key=lambda row: (_descending(row.intelligence), row.model.permaslug))
    listings.extend(_aa_listing(row) for row in assessed)
    arena_groups: dict[tuple[str, str], list[_DARow]] = {}
    for row in rows:
        if isinstance(row, _DARow):
            arena_groups.setdefault((row.arena, row.category), []).append(row)
    for arena in ARENAS:
        for category in ARENA_CATEGORIES[arena]:
            listings.extend(_da_listings(arena_groups.get((arena, category), [])))
    for benchmark in BENCHMARKS:
        evals = [row for row in rows if isinstance(row, _EvalRow) and row.benchmark == benchmark]
        evals.sort(key=lambda row: (-row.accuracy, row.model.permaslug))
        listings.extend(_eval_listing(row) for row in evals)
        searches = [
            row for row in rows if isinstance(row, _SearchRow) and row.benchmark == benchmark
        ]
        searches.sort(key=lambda row: (-row.score, row.model.permaslug, row.engine, row.surface))
        listings.extend(_search_listing(row) for row in searches)
    return tuple(listings)


def _descending(value: float | None) -> tuple[bool, float]:
    return (value is None, -(value or 0.0))


def _aa_listing(row: _AARow) -> Listing:
    item: JSON = {
        "source": _AA,
        "model_permaslug": row.model.permaslug,
        "display_name": row.model.name,
        "intelligence_index": row.intelligence,
        "coding_index": row.coding,
        "agentic_index": row.agentic,
        "pricing": row.model.pricing,
    }
    return Listing(item, None, _AA)


def _da_listings(rows: Sequence[_DARow]) -> list[Listing]:
    if not rows:
        return []
    mean_elo = sum(row.elo for row in rows) / len(rows)
    ordered = sorted(rows, key=lambda row: (-row.elo, row.model.permaslug))
    listings = []
    for row in ordered:
        expected = 1.0 / (1.0 + 10.0 ** (-(row.elo - mean_elo) / 400.0))
        win_rate = round(min(99.5, max(0.5, 100.0 * expected + row.win_noise)), 1)
        item: JSON = {
            "source": _DA,
            "model_permaslug": row.model.permaslug,
            "display_name": row.model.name,
            "arena": row.arena,
            "category": row.category,
            "elo": row.elo,
            "win_rate": win_rate,
            "avg_generation_time_ms": row.generation_ms,
            "tournament_stats": _podium(row, win_rate / 100.0),
            "pricing": row.model.pricing,
        }
        listings.append(Listing(item, None, _DA))
    return listings


def _podium(row: _DARow, strength: float) -> JSON:
    """Places in four-entry tournaments for an entry that beats a rival with ``strength``."""
    if row.total is None:
        return dict.fromkeys(
            ("first_place", "second_place", "third_place", "fourth_place", "total")
        )
    # Place k+1 means k of the three rivals did better.
    shares = [math.comb(3, k) * (1 - strength) ** k * strength ** (3 - k) for k in range(4)]
    exact = [share * row.total for share in shares]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(4), key=lambda k: exact[k] - counts[k], reverse=True)
    for k in by_remainder[: row.total - sum(counts)]:
        counts[k] += 1
    return {
        "first_place": counts[0],
        "second_place": counts[1],
        "third_place": counts[2],
        "fourth_place": counts[3] if row.fourth_known else None,
        "total": row.total,
    }


def _eval_listing(row: _EvalRow) -> Listing:
    item: JSON = {
        "source": _OR,
        "model_permaslug": row.model.permaslug,
        "display_name": row.model.listed_name,
        "benchmark_type": row.benchmark,
        "accuracy": row.accuracy,
        "accuracy_stddev": row.stddev,
        "avg_cost_per_task": row.cost,
        "total_tasks": _TOTAL_TASKS[row.benchmark],
        "last_run_timestamp": format_timestamp(row.last_run),
    }
    return Listing(item, None, _OR)


def _search_listing(row: _SearchRow) -> Listing:
    item: JSON = {
        "source": _OR,
        "model_permaslug": row.model.permaslug,
        "display_name": row.model.listed_name,
        "benchmark_type": row.benchmark,
        "primary_metric": (
            "f1_by_item" if row.benchmark == BenchmarkType.SEARCH_WIDESEARCH else "accuracy"
        ),
        "primary_score": row.score,
        "avg_cost_per_task": row.cost,
        "avg_latency_per_task_ms": row.latency_ms,
        "search_engine": row.engine,
        "search_surface": row.surface,
        "total_tasks": _TOTAL_TASKS[row.benchmark],
        "last_run_timestamp": format_timestamp(row.last_run),
    }
    run_config: JSON = {
        "max_agent_turns": row.max_agent_turns,
        "reasoning_effort": row.reasoning_effort,
        "temperature": row.temperature,
    }
    return Listing(item, run_config, _OR)
