"""A pytest plugin: the ``openrouter_fake`` fixture, a started fake server for your tests.

Installed with the package (the ``pytest11`` entry point ``openrouter_bench``);
without the entry point, enable it with ``-p openrouter_bench.fake.pytest_plugin``
or ``pytest_plugins = ["openrouter_bench.fake.pytest_plugin"]`` in a conftest.

The fixture runs the fake on its own event loop in a background thread, so
synchronous tests and async tests on any loop can use it alike. One fake
serves the whole session and is :meth:`~FakeOpenRouter.reset` before each
test: first snapshot, empty request log, no faults, fresh rate windows.

A test that needs other options (rate limits, keys, seed...) says so with
the ``openrouter_fake`` marker, or with indirect parametrization; it then
gets a fake of its own, stopped after the test::

    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    import pytest

    def fetch(fake, **params):
        url = fake.url + "/benchmarks?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers={"Authorization": "Bearer test-key"})
        with urllib.request.urlopen(request) as answer:
            return json.load(answer)

    def test_top_coders(openrouter_fake):
        page = fetch(openrouter_fake, source="artificial-analysis", task_type="coding")
        expected = openrouter_fake.payload({"source": "artificial-analysis", "task_type": "coding"})
        assert page == expected
        assert [record.status for record in openrouter_fake.requests] == [200]

    def test_server_error(openrouter_fake):
        openrouter_fake.script(503)  # the next request fails
        with pytest.raises(urllib.error.HTTPError) as failed:
            fetch(openrouter_fake)
        assert failed.value.code == 503
        failed.value.close()

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

Where the published documents disagree, the fake follows the API reference;
the same marker (or parameter) picks the Data API guide's reading instead, so
a test can check that code is right under both::

    @pytest.mark.parametrize(
        "openrouter_fake",
        [{}, {"max_results_reading": "guide", "as_of_milliseconds": True}],
        indirect=True,
    )
    def test_either_reading(openrouter_fake):
        page = fetch(openrouter_fake, source="design-arena")
        assert len(page["data"]) >= 50  # the guide's reading stops at 50
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openrouter_bench.fake.server import FakeOpenRouter

__all__ = ["openrouter_fake", "pytest_configure"]

_MARKER = "openrouter_fake"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): give this test its own fake server built with these "
        "FakeOpenRouter options (per_minute=..., keys=[...], seed=..., "
        "max_results_reading='guide', as_of_milliseconds=True)",
    )


@pytest.fixture(scope="session")
def _openrouter_fake_shared() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter.running_in_thread() as fake:
        yield fake


@pytest.fixture
def openrouter_fake(request: pytest.FixtureRequest) -> Iterator[FakeOpenRouter]:
    """A started fake OpenRouter benchmarks server; ``.url`` is its base URL."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword options only")
        options.update(marker.kwargs)
    options.update(getattr(request, "param", None) or {})
    if options:
        with FakeOpenRouter.running_in_thread(**options) as own:
            yield own
        return
    shared: FakeOpenRouter = request.getfixturevalue("_openrouter_fake_shared")
    shared.reset()
    yield shared
