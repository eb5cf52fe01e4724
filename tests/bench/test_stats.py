import math

import pytest

from perfkata.bench.scaling import fit
from perfkata.bench.stats import MedianCI, PairedRatios, median_rank_bounds


@pytest.mark.parametrize(
    ("n", "expected"),
    [(5, None), (6, (0, 5)), (9, (1, 7)), (20, (5, 14))],
)
def test_median_rank_bounds_follow_the_binomial_sign_test(n, expected):
    # Given n samples, when asking for a 95 % interval of the median,
    # then the ranks are the widest whose tail probability stays <= 2.5 % each side.
    assert median_rank_bounds(n, 0.95) == expected


def test_median_ci_brackets_the_median_and_ignores_order():
    samples = (5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0, 8.0, 6.0)
    ci = MedianCI(samples)
    assert ci.median == 5.0
    assert (ci.low, ci.high) == (2.0, 8.0)
    assert MedianCI(tuple(reversed(samples))).bounds == ci.bounds


def test_too_few_samples_give_an_unbounded_interval():
    ci = MedianCI((1.0, 2.0, 3.0))
    assert math.isinf(ci.low) and math.isinf(ci.high)
    assert math.isinf(ci.relative_width)


def test_growth_fit_finds_the_slope_of_an_n_plus_one():
    growth = fit([50, 200, 800], [2 * 50 + 3, 2 * 200 + 3, 2 * 800 + 3])
    assert growth.slope == pytest.approx(2.0)
    assert growth.intercept == pytest.approx(3.0)
    assert growth.describe() == "≈ 2·N + 3"


def test_growth_fit_describes_a_flat_count_by_its_ends():
    assert fit([50, 200, 800], [2, 2, 3]).describe() == "2 → 3"
    assert fit([50, 200, 800], [4, 4, 4]).describe() == "4"
    assert fit([1000, 2000], [787, 507]).describe() == "787 → 507"  # falling: its ends


def test_paired_ratios_divide_each_round_by_the_same_rounds_reference():
    # Given two rounds where the machine slowed the second, for both solutions alike
    ratios = PairedRatios.of([4.0, 2.0, 4.0, 2.0, 4.0, 2.0], [8.0, 4.0, 8.0, 4.0, 8.0, 4.0])
    # Then the per-round quotient is steady even though each side moved by 2x
    assert set(ratios.relative.samples) == {0.5}
    assert ratios.relative.low == ratios.relative.high == 0.5
    # And the spread (the machine's noise) is read from the reference's own ratios
    # (median 6: half the rounds log(8/6) away, half log(6/4))
    assert ratios.spread == pytest.approx((math.log(8 / 6) + math.log(6 / 4)) / 2)
