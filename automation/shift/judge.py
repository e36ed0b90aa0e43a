"""The verdict of one step, version by version, from front's own account of each answer (pure).

front answers ``GET /color`` with ``x-crossmesh-version`` (the version whose answer it relays)
and ``x-crossmesh-attempts`` (how many upstream calls that took). Each version is judged by the
answers it gave:

* **share**: its successful answers against its weight, with the exact binomial test ``verify`` uses
  (:func:`automation.verify.stats.evaluate_shares`); a version below its weight with a p-value under
  alpha fails (a version above it fails only when none is below: then the weights are not applied);
* **errors**: its failed answers (front's 502 naming it) over all its answers, at most ``max_error_rate``;
* **attempts**: the mean of ``x-crossmesh-attempts`` over its answers, at most ``max_attempts``;
* **latency**: p99 of its successful first-attempt answers under ``max_p99_ms`` and within
  ``p99_factor`` times its p99 at the previous step (plus ``p99_slack_ms``: a 3 ms p99 may become
  20 ms without failing).

Failures hidden behind front's retries: when an attempt fails, front calls again and the route may
send the retry to another version, whose answer then carries ``attempts > 1``. Those answers are not
that version's fault. So when the step needs retries (mean attempts above ``max_attempts``) or has
errors no version answered (``unattributed``), the blame goes to the versions answering below their
weight (their lost answers are the retried ones), and only when none is below, to the versions whose
own answers needed the retries. A version that fails only behind retries therefore still fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.verify.httpcheck import allowed_errors
from automation.verify.stats import evaluate_shares, percentile_nearest_rank

UNATTRIBUTED = "(no version)"
"""Where errors front answered without naming a version are counted."""


@dataclass(frozen=True)
class Answer:
    """One ``GET /color`` through front, as the shift saw it."""

    version: str | None
    """``x-crossmesh-version`` (or the body's color when front sent no header)."""
    attempts: int
    """``x-crossmesh-attempts`` (1 when absent)."""
    ok: bool
    latency_ms: float
    error: str = ""


@dataclass(frozen=True)
class Limits:
    max_error_rate: float = 0.01
    max_attempts: float = 1.1
    """Mean upstream attempts per answer (1.0 means no retries at all)."""
    max_p99_ms: float | None = None
    p99_factor: float = 2.0
    p99_slack_ms: float = 20.0
    alpha: float = 0.001


@dataclass
class VersionResult:
    version: str
    weight: int
    answers: int = 0
    successes: int = 0
    errors: int = 0
    share: float = 0.0
    expected_share: float = 0.0
    p_value: float | None = None
    attempts_per_request: float = 0.0
    retried: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    reasons: list[str] = field(default_factory=list[str])

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def error_rate(self) -> float:
        return self.errors / self.answers if self.answers else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "weight": self.weight,
            "answers": self.answers,
            "successes": self.successes,
            "share": round(self.share, 4),
            "expected_share": round(self.expected_share, 4),
            "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "attempts_per_request": round(self.attempts_per_request, 3),
            "retried": self.retried,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "ok": self.ok,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class StepVerdict:
    requests: int
    versions: tuple[VersionResult, ...]
    unattributed_errors: int
    attempts_per_request: float
    error_kinds: Mapping[str, int]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.versions)

    @property
    def failed(self) -> tuple[VersionResult, ...]:
        return tuple(v for v in self.versions if not v.ok)

    def p99_of(self) -> dict[str, float]:
        return {v.version: v.p99_ms for v in self.versions if v.p99_ms is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "requests": self.requests,
            "unattributed_errors": self.unattributed_errors,
            "attempts_per_request": round(self.attempts_per_request, 3),
            "error_kinds": dict(self.error_kinds),
            "versions": {v.version: v.to_dict() for v in self.versions},
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def judge_step(
    answers: Sequence[Answer],
    weights: Mapping[str, int],
    limits: Limits,
    previous_p99: Mapping[str, float] | None = None,
) -> StepVerdict:
    """Judge one step's answers against the weights it applied (see the module docstring)."""
    requests = len(answers)
    total_weight = sum(weights.values())
    names = list(weights) + sorted({a.version for a in answers if a.version and a.version not in weights})
    results = {
        name: VersionResult(
            name,
            weights.get(name, 0),
            expected_share=weights.get(name, 0) / total_weight if total_weight else 0,
        )
        for name in names
    }
    latencies: dict[str, list[float]] = {name: [] for name in names}
    attempts: Counter[str] = Counter()
    unattributed = 0
    kinds: Counter[str] = Counter()
    for answer in answers:
        if not answer.ok:
            kinds[answer.error or "error"] += 1
        if answer.version is None:
            unattributed += 0 if answer.ok else 1
            continue
        result = results[answer.version]
        result.answers += 1
        attempts[answer.version] += answer.attempts
        result.retried += answer.attempts > 1
        if answer.ok:
            result.successes += 1
            if answer.attempts == 1:
                # A retried answer's time includes another version's failed attempt: not this one's latency.
                latencies[answer.version].append(answer.latency_ms)
        else:
            result.errors += 1

    successes = {name: r.successes for name, r in results.items()}
    all_successes = sum(successes.values())
    verdict = evaluate_shares(successes, weights, alpha=limits.alpha) if all_successes else None
    per_test = verdict.alpha_per_test if verdict and verdict.alpha_per_test is not None else limits.alpha
    budget_rate = limits.max_error_rate
    for name, result in results.items():
        result.share = result.successes / all_successes if all_successes else 0.0
        result.attempts_per_request = attempts[name] / result.answers if result.answers else 0.0
        result.p50_ms = _rounded(percentile_nearest_rank(latencies[name], 50))
        result.p99_ms = _rounded(percentile_nearest_rank(latencies[name], 99))
        if verdict is not None:
            result.p_value = verdict.p_values.get(name)
        if name not in weights:
            result.reasons.append(f"is not a version of the route but answered {result.answers} times")
        elif result.weight == 0 and result.answers:
            result.reasons.append(f"has weight 0 but answered {result.answers} times")
        elif result.weight > 0 and result.successes == 0:
            result.reasons.append(f"(weight {result.weight}) never answered successfully")
        if result.answers and result.errors > allowed_errors(result.answers, budget_rate):
            result.reasons.append(
                f"error rate {result.error_rate:.1%} ({result.errors} of {result.answers}) "
                f"exceeds {budget_rate:.1%}"
            )
        _judge_latency(result, limits, (previous_p99 or {}).get(name))

    _judge_shares(results, per_test)
    requests_attempts = sum(attempts.values()) + sum(1 for a in answers if a.version is None)
    mean_attempts = requests_attempts / requests if requests else 0.0
    _judge_hidden(results, limits, requests, unattributed, mean_attempts)
    return StepVerdict(requests, tuple(results.values()), unattributed, mean_attempts, dict(kinds))


def _judge_latency(result: VersionResult, limits: Limits, previous: float | None) -> None:
    p99 = result.p99_ms
    if p99 is None:
        return
    if limits.max_p99_ms is not None and p99 > limits.max_p99_ms:
        result.reasons.append(f"p99 {p99:.1f} ms exceeds the limit of {limits.max_p99_ms:g} ms")
    if previous is not None:
        allowed = max(previous * limits.p99_factor, previous + limits.p99_slack_ms)
        if p99 > allowed:
            result.reasons.append(
                f"p99 {p99:.1f} ms is more than {limits.p99_factor:g}x the previous step's {previous:.1f} ms"
            )


def _judge_shares(results: Mapping[str, VersionResult], alpha_per_test: float) -> None:
    tested = [r for r in results.values() if r.p_value is not None and r.p_value < alpha_per_test]
    below = [r for r in tested if r.share < r.expected_share]
    for result in below or tested:
        result.reasons.append(
            f"answered {result.share:.1%} of successful requests against its weight's "
            f"{result.expected_share:.1%} (exact binomial p={result.p_value:.2g} < {alpha_per_test:.2g})"
        )


def _judge_hidden(
    results: Mapping[str, VersionResult],
    limits: Limits,
    requests: int,
    unattributed: int,
    mean_attempts: float,
) -> None:
    too_many_retries = mean_attempts > limits.max_attempts
    lost = unattributed > allowed_errors(requests, limits.max_error_rate) if requests else False
    if not (too_many_retries or lost):
        return
    what: list[str] = []
    if too_many_retries:
        what.append(f"{mean_attempts:.2f} upstream attempts per request exceed {limits.max_attempts:g}")
    if lost:
        what.append(f"{unattributed} of {requests} requests failed without any version answering")
    cause = " and ".join(what)
    below = [r for r in results.values() if r.weight > 0 and r.share < r.expected_share]
    if below:
        for result in below:
            result.reasons.append(
                f"failures hidden behind front's retries: {cause}, and it answered {result.share:.1%} "
                f"against its weight's {result.expected_share:.1%}"
            )
        return
    retried = [r for r in results.values() if r.attempts_per_request > limits.max_attempts]
    for result in retried:
        result.reasons.append(
            f"its answers needed {result.attempts_per_request:.2f} attempts per request "
            f"(limit {limits.max_attempts:g}): {cause}"
        )
    if not retried:
        for result in results.values():
            result.reasons.append(f"step failed with no version to blame: {cause}")
