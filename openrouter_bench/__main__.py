"""``python -m openrouter_bench``: the same command line as ``openrouter-bench``."""

from openrouter_bench.cli import run

run()
