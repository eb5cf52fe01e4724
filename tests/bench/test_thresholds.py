import pytest

from perfkata.bench.scaling import fit
from perfkata.bench.stats import MedianCI, PairedRatios
from perfkata.bench.thresholds import Compare, Flat, Outcome, RelativeToReference, parse


def test_parse_knows_each_form():
    assert parse(">=3") == Compare(">=3", ">=", 3.0)
    assert parse("<=ref+1") == RelativeToReference("<=ref+1", "<=", 1.0, 1.0)
    assert parse("<=1.5*ref") == RelativeToReference("<=1.5*ref", "<=", 1.5, 0.0)
    assert isinstance(parse("O(1)"), Flat)


def test_unknown_threshold_says_which_forms_exist():
    with pytest.raises(ValueError, match="'<=ref\\+1'"):
        parse("fast enough")


def test_relative_threshold_uses_the_reference_value():
    threshold = parse("<=ref+1")
    assert threshold.judge(4, 3) is Outcome.PASS
    assert threshold.judge(5, 3) is Outcome.FAIL
    assert threshold.judge(5, None) is Outcome.ERROR


def test_interval_is_judged_three_ways():
    threshold = parse(">=3")
    above = MedianCI((3.5, 4.0, 4.2, 4.4, 5.0, 6.0))
    below = MedianCI((1.0, 1.1, 1.2, 1.3, 1.4, 2.9))
    straddling = MedianCI((2.0, 2.5, 3.1, 3.3, 3.6, 4.0))
    assert threshold.judge(above) is Outcome.PASS
    assert threshold.judge(below) is Outcome.FAIL
    assert threshold.judge(straddling) is Outcome.INCONCLUSIVE


def test_flat_passes_batched_loads_and_fails_one_query_per_item():
    threshold = parse("O(1)")
    assert threshold.judge(fit([50, 200, 800], [2, 2, 3])) is Outcome.PASS
    # hand-batched IN lists of 100 ids, for four tables, still pass
    assert threshold.judge(fit([50, 200, 800], [4, 8, 32])) is Outcome.PASS
    assert threshold.judge(fit([50, 200, 800], [51, 201, 801])) is Outcome.FAIL


def test_slope_threshold_bounds_growth_per_item():
    threshold = parse("slope<=0.002")
    assert threshold.judge(fit([500, 2000, 10000], [1, 2, 10])) is Outcome.PASS
    assert threshold.judge(fit([500, 2000, 10000], [250, 1000, 5000])) is Outcome.FAIL


def test_a_timed_threshold_parses_its_share_of_the_reference_and_its_floor():
    threshold = parse(">=0.4*ref & >=2")
    assert (threshold.fraction, threshold.floor) == (0.4, 2.0)  # type: ignore[attr-defined]


def paired(mine: float, theirs: float) -> PairedRatios:
    return PairedRatios.of([mine] * 6, [theirs] * 6)


@pytest.mark.parametrize(
    ("mine", "theirs", "outcome"),
    [
        (8.0, 10.0, Outcome.PASS),  # as good as the reference, above the floor
        (1.0, 10.0, Outcome.FAIL),  # no speed-up, while the reference shows 10x
        (3.0, 10.0, Outcome.FAIL),  # above the floor, but under 0.4x the reference
        (1.0, 1.5, Outcome.INCONCLUSIVE),  # the reference missed its floor: the machine
        (1.9, 4.0, Outcome.FAIL),  # 0.475 of the reference, yet under the floor
    ],
)
def test_a_timed_threshold_fails_only_when_the_reference_cleared_its_floor(mine, theirs, outcome):
    assert parse(">=0.4*ref & >=2").judge(paired(mine, theirs)) is outcome


def test_a_timed_threshold_straddled_by_the_interval_is_undecided():
    wobbly = PairedRatios.of([1.5, 1.8, 2.1, 2.4, 2.6, 3.0], [4.0] * 6)
    assert parse(">=0.4*ref & >=2").judge(wobbly) is Outcome.INCONCLUSIVE
