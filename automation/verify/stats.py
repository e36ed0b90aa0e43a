"""Small exact statistics for the HTTP check, in pure Python (no scipy in the runtime image).

Everything here is a pure function so it can be tested against known values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Outcomes whose probability is within this relative distance of the observed one count as
# "equally likely" when summing the two-sided tail. Without it, floating-point noise in the
# log-pmf decides whether the mirror-image outcome of a symmetric distribution is included.
_RELATIVE_TIE_TOLERANCE = 1e-7


def binom_log_pmf(k: int, n: int, p: float) -> float:
    """Natural log of P(X = k) for X ~ Binomial(n, p); ``-inf`` where the probability is zero."""
    if n < 0 or not 0 <= k <= n:
        return -math.inf
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    # Degenerate distributions: all mass on k == 0 (p == 0) or k == n (p == 1).
    if p == 0.0:
        return 0.0 if k == 0 else -math.inf
    if p == 1.0:
        return 0.0 if k == n else -math.inf
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_choose + k * math.log(p) + (n - k) * math.log1p(-p)


def _log_sum_exp(values: Sequence[float]) -> float:
    finite = [v for v in values if v != -math.inf]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log(math.fsum(math.exp(v - top) for v in finite))


def binom_test_two_sided(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial test p-value for ``k`` successes in ``n`` trials under H0: P = ``p``.

    Method ("minimum likelihood", the definition used by R's ``binom.test`` and SciPy's
    ``binomtest``): the p-value is the total probability, under H0, of every outcome ``i`` in
    ``0..n`` that is no more likely than the observed one, i.e. the sum of P(X = i) over all ``i``
    with P(X = i) <= P(X = k) (with a 1e-7 relative tolerance for ties). Probabilities are computed
    as log-pmf values via ``math.lgamma`` and summed in log space (log-sum-exp), so large ``n`` does
    not underflow or overflow; the tail is divided by the summed mass of all outcomes (which is 1
    up to rounding), so an observation at the mode gives exactly 1.0.

    Examples: k=100, n=200, p=0.5 gives 1.0 (the observation is the mode); k=200, n=200, p=0.5
    gives 2 * 0.5**200, about 1.2e-60.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if n == 0:
        return 1.0
    observed = binom_log_pmf(k, n, p)
    if observed == -math.inf:
        # Impossible under H0 (e.g. any success when p == 0): nothing is less likely than this.
        return 0.0
    threshold = observed + math.log1p(_RELATIVE_TIE_TOLERANCE)
    log_pmf = [binom_log_pmf(i, n, p) for i in range(n + 1)]
    tail = [lp for lp in log_pmf if lp <= threshold]
    # Divide by the computed total mass rather than assuming it is 1: this cancels the rounding in
    # lgamma, so a tail that covers every outcome is exactly 1.0.
    return min(1.0, math.exp(_log_sum_exp(tail) - _log_sum_exp(log_pmf)))


def percentile_nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 < q <= 100) by the nearest-rank method; ``None`` for no values.

    Nearest rank returns an observed value (the ceil(q/100 * n)-th smallest), which is what an
    operator expects from "p99 latency" over a few hundred requests; no interpolation.
    """
    if not 0 < q <= 100:
        raise ValueError(f"q must be in (0, 100], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class ShareVerdict:
    """Whether observed color counts are consistent with the configured weights, and why not."""

    ok: bool
    problems: tuple[str, ...]
    p_values: Mapping[str, float] = field(default_factory=dict[str, float])
    """color -> exact two-sided binomial p-value (only for colors that were tested)."""
    alpha_per_test: float | None = None
    """The significance level each per-color test used (alpha after Bonferroni), if any test ran."""


def _presence_problems(counts: Mapping[str, int], weights: Mapping[str, int]) -> list[str]:
    """The exact rules: positive weights must appear, zero-weight and unknown colors must not."""
    problems: list[str] = []
    for color, weight in sorted(weights.items()):
        if weight > 0 and counts.get(color, 0) == 0:
            problems.append(f"{color} (weight {weight}) never answered")
    for color, count in sorted(counts.items()):
        if count <= 0:
            continue
        if color not in weights:
            problems.append(f"unknown color {color!r} answered {count} times")
        elif weights[color] == 0:
            problems.append(f"{color} has weight 0 but answered {count} times")
    return problems


def evaluate_shares(counts: Mapping[str, int], weights: Mapping[str, int], *, alpha: float) -> ShareVerdict:
    """Judge observed answer ``counts`` (color -> count) against route ``weights`` (color -> weight).

    Hard rules, checked first:

    * at least one answer was observed;
    * every color with a positive weight appears at least once;
    * no color with weight zero appears, and no color absent from ``weights`` appears.

    Then the statistical rule: with ``n`` answers in total and expected share
    ``p_c = weight_c / sum(weights)``, each color's count is tested with the exact two-sided
    binomial test (:func:`binom_test_two_sided`) and the check fails when a p-value is below the
    per-test level.

    * One positive-weight color: the hard rules already demand that every answer is that color.
    * Two positive-weight colors: one count determines the other and the two tests give the same
      p-value, so a single test runs at ``alpha`` (reported for both colors).
    * Three or more: this is a per-color test (each color's count against its own share, not a joint
      multinomial test), Bonferroni-corrected across colors: each runs at ``alpha / m`` for ``m``
      positive-weight colors, so the chance of any false failure stays at most ``alpha``.

    Note the "must appear" rule is exact, not statistical: with a small weight ``p`` and ``n``
    answers a correct mesh still misses that color with probability ``(1 - p) ** n`` (e.g. 13% for
    a 1% weight over 200 requests); raise the request count for such splits.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    total_weight = sum(weights.values())
    if total_weight <= 0:
        raise ValueError("weights must include a positive weight")
    n = sum(counts.values())
    if n == 0:
        return ShareVerdict(ok=False, problems=("no successful answers to judge",))

    problems = _presence_problems(counts, weights)
    positive = sorted(color for color, weight in weights.items() if weight > 0)

    p_values: dict[str, float] = {}
    alpha_per_test: float | None = None
    if len(positive) >= 2:
        # With two colors the second count is n minus the first: testing both would be one test twice.
        tested = positive[:1] if len(positive) == 2 else positive
        alpha_per_test = alpha / len(tested)
        for color in tested:
            expected = weights[color] / total_weight
            p_value = binom_test_two_sided(counts.get(color, 0), n, expected)
            p_values[color] = p_value
            if p_value < alpha_per_test:
                observed = counts.get(color, 0) / n
                problems.append(
                    f"{color} share {observed:.3f} is inconsistent with weight share {expected:.3f} "
                    f"(exact binomial p={p_value:.2g} < {alpha_per_test:.2g})"
                )
        if len(positive) == 2:
            p_values[positive[1]] = p_values[positive[0]]
    return ShareVerdict(
        ok=not problems, problems=tuple(problems), p_values=p_values, alpha_per_test=alpha_per_test
    )
