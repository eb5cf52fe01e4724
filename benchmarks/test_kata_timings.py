"""Each kata's timed workload as pytest-benchmark tests, starter and reference:

    pytest benchmarks/ --benchmark-only [--benchmark-save=NAME] [--benchmark-compare]

Not part of the test suite (it runs only tests/): timings are measured here, never
asserted. These run in-process on the embedded backends, at each kata's timing size,
each call set up as a grade sets it up (untimed) and only the call timed — what
`perfkata bench` measures in worker processes, for pytest-benchmark's own tooling.
"""

import pytest
from inprocess import loaded_worker

from perfkata.grader.worker import op_timed_call, op_timing_setup
from perfkata.katas.registry import registry

SEED = 1


@pytest.mark.parametrize("variant", ["starter", "reference"])
@pytest.mark.parametrize("slug", [kata.slug for kata in registry().all()])
def test_kata_timing(benchmark, slug, variant):
    state = loaded_worker(slug, variant)
    benchmark.group = slug
    benchmark.pedantic(
        lambda: op_timed_call(state, {}),
        setup=lambda: op_timing_setup(state, {"seed": SEED}),
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
