"""Each kata's timed workload as pytest-benchmark tests, starter and reference:

    pytest benchmarks/ --benchmark-only [--benchmark-save=NAME] [--benchmark-compare]

Not part of the test suite (it runs only tests/): timings are measured here, never
asserted. These run in-process on the embedded backends, at each kata's largest size —
what `perfkata bench` measures in worker processes, for pytest-benchmark's own tooling.
"""

import pytest
from inprocess import loaded_worker

from perfkata.grader.worker import fresh_data, rebuild, run_once
from perfkata.katas.registry import registry

SEED = 1


@pytest.mark.parametrize("variant", ["starter", "reference"])
@pytest.mark.parametrize("slug", [kata.slug for kata in registry().all()])
def test_kata_timing(benchmark, slug, variant):
    kata = registry().get(slug)
    state = loaded_worker(slug, variant)
    rebuild(state, kata.largest, SEED)
    benchmark.group = slug
    with state.services() as services:
        benchmark.pedantic(
            lambda: run_once(state, services, kata.timed),
            setup=lambda: fresh_data(state),
            rounds=5,
            iterations=1,
            warmup_rounds=1,
        )
