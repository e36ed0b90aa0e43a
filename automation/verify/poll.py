"""Deadline-and-backoff polling for eventually consistent things.

Cloud Map registration lags pod start-up, the App Mesh controller reconciles custom resources
asynchronously, and pods take a while to pass their readiness gates. Verification therefore asks
repeatedly until a deadline instead of sleeping a fixed time and hoping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from automation.verify.model import CheckResult

T = TypeVar("T")


@dataclass(frozen=True)
class PollResult(Generic[T]):
    """The last value seen, how many attempts it took and whether the deadline cut polling short."""

    value: T
    attempts: int
    elapsed_s: float
    done: bool
    """``done(value)`` held on the last attempt."""
    gave_up: bool
    """``give_up(value)`` held: retrying could not help, so polling stopped before the deadline."""

    @property
    def timed_out(self) -> bool:
        """Polling stopped because the deadline passed, not because of success or a terminal answer."""
        return not self.done and not self.gave_up


def poll_until(
    check_fn: Callable[[], T],
    *,
    done: Callable[[T], bool],
    deadline_s: float,
    initial_backoff_s: float = 0.5,
    max_backoff_s: float = 8.0,
    factor: float = 2.0,
    give_up: Callable[[T], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PollResult[T]:
    """Call ``check_fn`` until ``done(value)``, ``give_up(value)``, or ``deadline_s`` seconds have passed.

    ``check_fn`` always runs at least once, even with a zero or negative deadline, so a caller that
    shares one overall deadline across several checks still gets a verdict from each of them.

    Between attempts it sleeps ``initial_backoff_s``, then multiplies the pause by ``factor`` up to
    ``max_backoff_s``. The last pause is shortened so that one final attempt lands on the deadline
    rather than after it; polling never overshoots the deadline by more than one ``check_fn`` call.
    There is no jitter: a handful of verifiers poll, not a fleet, and determinism keeps tests exact.

    ``clock`` and ``sleep`` are injectable so tests can drive time without waiting.
    Exceptions from ``check_fn`` propagate: checks turn expected failures into values themselves.
    """
    if initial_backoff_s <= 0 or max_backoff_s < initial_backoff_s or factor < 1:
        raise ValueError("need 0 < initial_backoff_s <= max_backoff_s and factor >= 1")
    start = clock()
    end = start + deadline_s
    backoff = initial_backoff_s
    attempts = 0
    while True:
        value = check_fn()
        attempts += 1
        if done(value):
            return PollResult(value, attempts, clock() - start, done=True, gave_up=False)
        if give_up is not None and give_up(value):
            return PollResult(value, attempts, clock() - start, done=False, gave_up=True)
        remaining = end - clock()
        if remaining <= 0:
            return PollResult(value, attempts, clock() - start, done=False, gave_up=False)
        sleep(min(backoff, remaining))
        backoff = min(backoff * factor, max_backoff_s)


@dataclass(frozen=True)
class Probe:
    """One attempt's verdict. ``terminal`` means retrying cannot change it (stop polling early)."""

    ok: bool
    detail: str
    terminal: bool = False


@dataclass(frozen=True)
class PollSettings:
    """Timing for :func:`polled_check`: an absolute deadline on ``clock`` plus the backoff curve."""

    deadline: float
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def starting_now(
        cls,
        deadline_s: float,
        *,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> PollSettings:
        """Settings whose deadline is ``deadline_s`` seconds from now on ``clock``."""
        return cls(clock() + deadline_s, initial_backoff_s, max_backoff_s, clock, sleep)

    def remaining_s(self) -> float:
        """Seconds left until the deadline (negative once past it)."""
        return self.deadline - self.clock()


def polled_check(name: str, probe: Callable[[], Probe], settings: PollSettings) -> CheckResult:
    """Retry ``probe`` until it passes, turns terminal, or the shared deadline passes.

    Every check gets at least one attempt even after the deadline, so one slow failure does not
    hide the state of the others. Unexpected exceptions become a failed check, never a crash.
    """

    def guarded() -> Probe:
        try:
            return probe()
        except Exception as exc:  # a verifier must report, not die, on surprises
            return Probe(False, f"unexpected {type(exc).__name__}: {exc}", terminal=True)

    result = poll_until(
        guarded,
        done=lambda p: p.ok,
        give_up=lambda p: p.terminal,
        deadline_s=settings.remaining_s(),
        initial_backoff_s=settings.initial_backoff_s,
        max_backoff_s=settings.max_backoff_s,
        clock=settings.clock,
        sleep=settings.sleep,
    )
    detail = result.value.detail
    if not result.done:
        why = "not retried" if result.gave_up else "deadline passed"
        detail += f" ({why}; {result.attempts} attempt(s) over {result.elapsed_s:.1f}s)"
    return CheckResult(name=name, ok=result.done, detail=detail)
