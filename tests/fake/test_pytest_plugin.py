"""The pytest plugin (openrouter_bench.fake.pytest_plugin) in a user's own test run."""

from __future__ import annotations

import importlib.metadata

import pytest

from openrouter_bench.fake import FakeOpenRouter

pytest_plugins = ["pytester"]


@pytest.fixture
def plugin_args() -> list[str]:
    """The -p option for the plugin, unless the installed entry point already loads it."""
    installed = any(
        entry.name == "openrouter_bench"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "openrouter_bench.fake.pytest_plugin"]


def test_pytest_plugin_serves_user_tests(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    """A user's test file gets a reset shared fake, a marked own fake, and async use works."""
    pytester.makeini(
        "[pytest]\n"
        "addopts = --strict-markers\n"
        "filterwarnings = error\n"
        "asyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_user="""
        import json
        import urllib.error
        import urllib.parse
        import urllib.request

        import aiohttp
        import pytest

        HEADERS = {"Authorization": "Bearer test-key"}

        def fetch(fake, **params):
            url = fake.url + "/benchmarks?" + urllib.parse.urlencode(params)
            request = urllib.request.Request(url, headers=HEADERS)
            with urllib.request.urlopen(request) as answer:
                return json.load(answer)

        def test_top_coders(openrouter_fake):
            page = fetch(openrouter_fake, source="artificial-analysis", task_type="coding")
            assert page == openrouter_fake.payload(
                {"source": "artificial-analysis", "task_type": "coding"}
            )
            openrouter_fake.script(503)
            openrouter_fake.publish()

        def test_shared_fake_was_reset(openrouter_fake):
            assert openrouter_fake.requests == []
            assert fetch(openrouter_fake)["meta"]["as_of"] == "2026-06-03T12:00:00Z"

        @pytest.mark.openrouter_fake(per_minute=1)
        def test_rate_limited(openrouter_fake):
            fetch(openrouter_fake)
            with pytest.raises(urllib.error.HTTPError) as refused:
                fetch(openrouter_fake)
            assert refused.value.code == 429
            refused.value.close()

        @pytest.mark.parametrize("openrouter_fake", [{"seed": 1}, {"seed": 2}], indirect=True)
        def test_any_seed(openrouter_fake):
            assert fetch(openrouter_fake, max_results=5)["meta"]["model_count"] >= 1

        @pytest.mark.asyncio
        async def test_from_an_event_loop(openrouter_fake):
            async with aiohttp.ClientSession() as session:
                async with session.get(openrouter_fake.url + "/benchmarks", headers=HEADERS) as r:
                    assert r.status == 200
        """
    )
    result = pytester.runpytest(*plugin_args)
    result.assert_outcomes(passed=6)


@pytest.mark.openrouter_fake(max_results_reading="guide", as_of_milliseconds=True)
def test_the_marker_picks_the_guide_readings(openrouter_fake: FakeOpenRouter) -> None:
    """The marker builds a fake with the guide's max_results and as_of readings."""
    assert openrouter_fake.max_results_reading == "guide"
    body = openrouter_fake.payload({"source": "design-arena"})
    assert len(body["data"]) == 50
    assert body["meta"]["as_of"].endswith(".000Z")


@pytest.mark.parametrize("openrouter_fake", [{"max_results_reading": "guide"}], indirect=True)
def test_indirect_parameters_pick_the_guide_reading(openrouter_fake: FakeOpenRouter) -> None:
    """Indirect parametrization passes max_results_reading like any other option."""
    assert len(openrouter_fake.payload()["data"]) == 50
    assert openrouter_fake.payload()["meta"]["as_of"].endswith(":00Z")
