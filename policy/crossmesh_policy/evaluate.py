"""Run every rule over a resource graph and say, per rule, how the environment stands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .model import Level, Resource, Rule, Settings, Violation


class Status(StrEnum):
    PASSED = "passed"
    VIOLATED = "violated"
    RELAXED = "relaxed"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Result:
    rule: Rule
    status: Status
    violations: tuple[Violation, ...] = ()
    relaxation: str | None = None
    """The reason the environment gives for relaxing this (advisory) rule, when it does."""


@dataclass(frozen=True)
class PolicyReport:
    results: tuple[Result, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [
            v
            for r in self.results
            if r.status is Status.VIOLATED and r.rule.level is Level.MANDATORY
            for v in r.violations
        ]

    @property
    def advisory_violations(self) -> list[Violation]:
        return [
            v
            for r in self.results
            if r.status is Status.VIOLATED and r.rule.level is Level.ADVISORY
            for v in r.violations
        ]

    @property
    def ok(self) -> bool:
        """No mandatory rule is violated (advisory violations and relaxations are reported, not fatal)."""
        return not self.mandatory_violations

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in Status if self.count(s)]
        return f"{len(self.results)} policies: " + ", ".join(parts)

    def result(self, rule_id: str) -> Result:
        return next(r for r in self.results if r.rule.id == rule_id)


def evaluate(
    rules: Sequence[Rule],
    resources: Sequence[Resource],
    settings: Settings | None = None,
    relaxations: Mapping[str, str] | None = None,
) -> PolicyReport:
    """Every rule over ``resources``. ``relaxations`` maps advisory rule ids to the reason given.

    A relaxed rule still runs: its violations are kept and shown, but it counts as relaxed, not
    violated. Callers validate relaxations first (only existing advisory rules may be relaxed).
    """
    settings = settings or Settings()
    relaxations = relaxations or {}
    results: list[Result] = []
    notes: list[str] = []
    for rule in rules:
        applicable = any(rule.applies_to(r.type) for r in resources)
        # By resource, not by the order resources were registered in (which varies from run to run:
        # the program registers from several threads), so two reports of one stack read the same.
        found = rule.validate_stack(resources, settings) if applicable else ()
        violations = tuple(sorted(found, key=lambda v: (v.resource_type, v.resource_name, v.message)))
        reason = relaxations.get(rule.id)
        if not applicable:
            status = Status.NOT_APPLICABLE
        elif violations and reason is not None:
            status = Status.RELAXED
        elif violations:
            status = Status.VIOLATED
        else:
            status = Status.PASSED
        if reason is not None and status is not Status.RELAXED:
            notes.append(f"{rule.id} is relaxed but has nothing to relax ({status}); the relaxation can go")
        results.append(Result(rule, status, violations, reason))
    return PolicyReport(tuple(results), tuple(notes))
