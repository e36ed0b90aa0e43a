"""Exact binomial test, percentiles and the share verdict, against independently computed values."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from automation.verify.stats import (
    binom_log_pmf,
    binom_test_two_sided,
    evaluate_shares,
    percentile_nearest_rank,
)


def reference_p_value(k: int, n: int, p: Fraction) -> float:
    """Brute force with exact rationals: sum of P(X=i) over all i no more likely than k."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return float(min(Fraction(1), sum(q for q in pmf if q <= pmf[k])))


def test_observation_at_the_mode_gives_exactly_one() -> None:
    assert binom_test_two_sided(100, 200, 0.5) == 1.0


def test_all_successes_out_of_200_at_half_is_rejected() -> None:
    p_value = binom_test_two_sided(200, 200, 0.5)
    assert p_value == pytest.approx(2 * 0.5**200, rel=1e-9)
    assert p_value < 0.001


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (7, 20, Fraction(1, 2)),
        (3, 10, Fraction(1, 5)),
        (0, 30, Fraction(1, 10)),
        (12, 30, Fraction(1, 10)),
        (95, 200, Fraction(1, 2)),
        (80, 200, Fraction(1, 2)),
        (170, 200, Fraction(9, 10)),
        (1, 50, Fraction(1, 3)),
        (40, 120, Fraction(1, 3)),
    ],
)
def test_matches_exact_rational_reference(k: int, n: int, p: Fraction) -> None:
    assert binom_test_two_sided(k, n, float(p)) == pytest.approx(reference_p_value(k, n, p), rel=1e-9)


def test_matches_published_r_example() -> None:
    # R's binom.test documentation example (Mendel's peas): 682 of 925 at p = 3/4, p-value 0.3825.
    assert binom_test_two_sided(682, 925, 0.75) == pytest.approx(0.3825, abs=5e-5)


def test_large_n_does_not_underflow_or_overflow() -> None:
    assert binom_test_two_sided(5000, 10000, 0.5) == 1.0
    tiny = binom_test_two_sided(6000, 10000, 0.5)
    assert 0.0 < tiny < 1e-80


def test_degenerate_probabilities() -> None:
    assert binom_test_two_sided(0, 10, 0.0) == 1.0
    assert binom_test_two_sided(1, 10, 0.0) == 0.0
    assert binom_test_two_sided(10, 10, 1.0) == 1.0
    assert binom_test_two_sided(9, 10, 1.0) == 0.0
    assert binom_test_two_sided(0, 0, 0.3) == 1.0
    assert binom_log_pmf(11, 10, 0.5) == -math.inf


@pytest.mark.parametrize(("k", "n", "p"), [(-1, 10, 0.5), (11, 10, 0.5), (5, 10, 1.5), (5, 10, -0.1)])
def test_rejects_invalid_arguments(k: int, n: int, p: float) -> None:
    with pytest.raises(ValueError, match=r"need 0 <= k <= n|p must be in"):
        binom_test_two_sided(k, n, p)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert percentile_nearest_rank(values, 50) == 50.0
    assert percentile_nearest_rank(values, 99) == 99.0
    assert percentile_nearest_rank(values, 100) == 100.0
    assert percentile_nearest_rank([3.5], 99) == 3.5
    assert percentile_nearest_rank([1.0, 2.0, 3.0], 50) == 2.0
    assert percentile_nearest_rank([], 50) is None
    with pytest.raises(ValueError, match="q must be in"):
        percentile_nearest_rank(values, 0)


def test_shares_exact_split_passes() -> None:
    verdict = evaluate_shares({"blue": 100, "red": 100}, {"blue": 50, "red": 50}, alpha=0.001)
    assert verdict.ok, verdict.problems
    assert verdict.p_values == {"blue": 1.0, "red": 1.0}
    assert verdict.alpha_per_test == 0.001


def test_shares_two_colors_run_one_test_at_full_alpha() -> None:
    # Find a blue count whose p-value lies between alpha/2 and alpha: with one test at alpha it
    # must fail; a (wrong) Bonferroni over two colors would let it pass.
    alpha = 0.001
    k = next(k for k in range(100, 201) if alpha / 2 < binom_test_two_sided(k, 200, 0.5) < alpha)
    verdict = evaluate_shares({"blue": k, "red": 200 - k}, {"blue": 1, "red": 1}, alpha=alpha)
    assert not verdict.ok
    assert verdict.alpha_per_test == alpha
    assert len(verdict.problems) == 1


def test_shares_ninety_ten() -> None:
    weights = {"blue": 90, "red": 10}
    assert evaluate_shares({"blue": 180, "red": 20}, weights, alpha=0.001).ok
    wrong = evaluate_shares({"blue": 100, "red": 100}, weights, alpha=0.001)
    assert not wrong.ok
    assert "inconsistent with weight share 0.900" in wrong.problems[0]


def test_shares_three_colors_are_bonferroni_corrected_per_color() -> None:
    alpha = 0.001
    n = 300
    weights = {"blue": 1, "green": 1, "red": 1}
    # A blue count that is significant at alpha but not at alpha / 3.
    k = next(k for k in range(100, n) if alpha / 3 < binom_test_two_sided(k, n, 1 / 3) < alpha)
    rest = n - k
    counts = {"blue": k, "green": rest // 2, "red": rest - rest // 2}
    verdict = evaluate_shares(counts, weights, alpha=alpha)
    assert verdict.alpha_per_test == pytest.approx(alpha / 3)
    assert set(verdict.p_values) == {"blue", "green", "red"}
    assert all(value > alpha / 3 for value in verdict.p_values.values()), verdict.p_values
    assert verdict.ok, verdict.problems
    # One more blue answer beyond the corrected level fails.
    k2 = next(k for k in range(k, n) if binom_test_two_sided(k, n, 1 / 3) < alpha / 3)
    rest = n - k2
    failing = evaluate_shares({"blue": k2, "green": rest // 2, "red": rest - rest // 2}, weights, alpha=alpha)
    assert not failing.ok
    assert any(problem.startswith("blue share") for problem in failing.problems)


def test_shares_hard_rules() -> None:
    weights = {"blue": 50, "red": 50, "green": 0}
    missing = evaluate_shares({"blue": 200}, weights, alpha=0.001)
    assert "red (weight 50) never answered" in missing.problems
    zero = evaluate_shares({"blue": 100, "red": 99, "green": 1}, weights, alpha=0.001)
    assert zero.problems == ("green has weight 0 but answered 1 times",)
    unknown = evaluate_shares({"blue": 100, "red": 99, "purple": 1}, weights, alpha=0.001)
    assert unknown.problems == ("unknown color 'purple' answered 1 times",)
    nothing = evaluate_shares({}, weights, alpha=0.001)
    assert not nothing.ok
    single = evaluate_shares({"blue": 10}, {"blue": 100, "red": 0}, alpha=0.001)
    assert single.ok
    assert single.p_values == {}


def test_shares_rejects_bad_alpha_and_weights() -> None:
    with pytest.raises(ValueError, match="alpha must be in"):
        evaluate_shares({"blue": 1}, {"blue": 1}, alpha=0)
    with pytest.raises(ValueError, match="positive weight"):
        evaluate_shares({"blue": 1}, {"blue": 0}, alpha=0.01)
