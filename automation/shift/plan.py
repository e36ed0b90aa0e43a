"""The steps of a shift and the weights at each: pure functions over the command's options.

Weights are whole percentages summing to 100, as ``crossmesh:workloads.colorapp.versions[].weight``
and the HTTPRoute's ``backendRefs[].weight`` take them. A step at ``p`` percent of the way moves each
version's weight ``p`` percent of the distance from where the shift started to the target, and the
rounding keeps the sum at exactly 100 (largest remainder).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_STEPS = "10,25,50,100"
"""``--steps`` when it is not given: percent of the way from the start to the target at each step."""
TOTAL = 100

Weights = Mapping[str, int]


class PlanError(ValueError):
    """Bad ``--to``, ``--steps`` or ``--hold``: the message names the option and what was expected."""


def parse_target(text: str, current: Weights) -> dict[str, int]:
    """``red=100`` or ``blue=20,red=80`` against the current weights -> the full target weights.

    Versions not named share what is left in proportion to their current weights (equally when they
    all have none), so ``--to red=100`` with blue and red means blue 0, red 100.
    """
    named: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"([a-z0-9][a-z0-9-]*)=(\d{1,3})", part)
        if not match:
            raise PlanError(f"--to: got {part!r}; expected VERSION=PERCENT, e.g. red=100")
        color, weight = match.group(1), int(match.group(2))
        if color not in current:
            raise PlanError(f"--to: unknown version {color!r}; expected one of {', '.join(sorted(current))}")
        if color in named:
            raise PlanError(f"--to: {color} is named twice")
        if weight > TOTAL:
            raise PlanError(f"--to: {color}={weight}; expected a percentage from 0 to 100")
        named[color] = weight
    left = TOTAL - sum(named.values())
    rest = [c for c in current if c not in named]
    if left < 0 or (left > 0 and not rest):
        raise PlanError(f"--to: weights {text!r} sum to {sum(named.values())}; expected 100 in total")
    shares = {c: current[c] for c in rest} if any(current[c] for c in rest) else dict.fromkeys(rest, 1)
    return {c: named.get(c, 0) for c in current} | split(left, shares)


def split(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """``total`` in whole parts proportional to ``shares`` (largest remainder; ties by name)."""
    whole = sum(shares.values())
    if total == 0 or whole <= 0:
        return dict.fromkeys(shares, 0)
    exact = {c: total * s / whole for c, s in shares.items()}
    parts = {c: math.floor(v) for c, v in exact.items()}
    by_remainder = sorted(exact, key=lambda c: (-(exact[c] - parts[c]), c))
    for color in by_remainder[: total - sum(parts.values())]:
        parts[color] += 1
    return parts


def parse_steps(text: str) -> tuple[int, ...]:
    """``10,25,50,100`` -> increasing percentages of the way, ending at 100."""
    try:
        steps = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise PlanError(
            f"--steps: got {text!r}; expected increasing percentages, e.g. 10,25,50,100"
        ) from None
    if not steps or any(not 0 < s <= TOTAL for s in steps):
        raise PlanError(f"--steps: got {text!r}; expected percentages between 1 and 100")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise PlanError(f"--steps: got {text!r}; expected strictly increasing percentages")
    if steps[-1] != TOTAL:
        raise PlanError(f"--steps: got {text!r}; expected the last step to be 100 (the target itself)")
    return steps


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


MAX_HOLD_SECONDS = 24 * 3600.0
"""A step holds at most a day: a longer wait outlives the credentials a pipeline runs with, and a
number like ``99999999999999999999h`` would overflow the sleep that waits for it."""


def parse_duration(text: str, option: str = "--hold") -> float:
    """``60s``, ``2m``, ``500ms`` or a bare number of seconds -> seconds, at most a day."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise PlanError(f"{option}: got {text!r}; expected a duration like 60s, 2m or 500ms")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds > MAX_HOLD_SECONDS:
        raise PlanError(f"{option}: got {text!r}; expected at most 24h")
    return seconds


def weights_at(start: Weights, target: Weights, percent: int) -> dict[str, int]:
    """The weights ``percent`` of the way from ``start`` to ``target``, summing to 100."""
    exact = {c: start[c] + (target[c] - start[c]) * percent / TOTAL for c in start}
    return split(TOTAL, exact)


@dataclass(frozen=True)
class Step:
    number: int
    """1-based, as messages and the report name it."""
    percent: int
    weights: dict[str, int]


def plan_steps(start: Weights, target: Weights, steps: Sequence[int]) -> tuple[Step, ...]:
    """The steps from ``start`` to ``target``; a step that would not change the weights is dropped."""
    if set(start) != set(target):
        raise PlanError(f"--to names versions {sorted(target)}; the stack has {sorted(start)}")
    planned: list[Step] = []
    previous = dict(start)
    for percent in steps:
        weights = weights_at(start, target, percent)
        if weights != previous:
            planned.append(Step(len(planned) + 1, percent, weights))
            previous = weights
    return tuple(planned)


def format_weights(weights: Weights) -> str:
    return ",".join(f"{c}={w}" for c, w in weights.items())
