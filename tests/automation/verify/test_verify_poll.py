"""poll_until and polled_check, driven by a fake clock so no test waits for real."""

from __future__ import annotations

from typing import Any

import pytest

from automation.verify.poll import PollSettings, Probe, poll_until, polled_check


def test_returns_on_first_success_without_sleeping(fake_clock: Any) -> None:
    result = poll_until(
        lambda: 42, done=lambda v: v == 42, deadline_s=10, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert (result.value, result.attempts, result.done, result.timed_out) == (42, 1, True, False)
    assert fake_clock.sleeps == []


def test_backs_off_exponentially_until_success(fake_clock: Any) -> None:
    answers = iter([False, False, False, True])
    result = poll_until(
        lambda: next(answers),
        done=bool,
        deadline_s=60,
        initial_backoff_s=0.5,
        max_backoff_s=30,
        clock=fake_clock,
        sleep=fake_clock.sleep,
    )
    assert result.done
    assert result.attempts == 4
    assert fake_clock.sleeps == [0.5, 1.0, 2.0]
    assert result.elapsed_s == 3.5


def test_backoff_is_capped_and_last_sleep_lands_on_the_deadline(fake_clock: Any) -> None:
    result = poll_until(
        lambda: False,
        done=bool,
        deadline_s=10,
        initial_backoff_s=1,
        max_backoff_s=4,
        clock=fake_clock,
        sleep=fake_clock.sleep,
    )
    # 1, 2, 4 (capped), then only the 3 s left; one last attempt exactly at the deadline.
    assert fake_clock.sleeps == [1, 2, 4, 3]
    assert result.attempts == 5
    assert result.timed_out
    assert result.elapsed_s == 10


def test_slow_checks_count_against_the_deadline(fake_clock: Any) -> None:
    def slow_check() -> bool:
        fake_clock.advance(4)
        return False

    result = poll_until(
        slow_check, done=bool, deadline_s=10, initial_backoff_s=1, clock=fake_clock, sleep=fake_clock.sleep
    )
    # t=4 check, sleep 1, t=9 check, sleep 1 (capped by remaining), t=14 check -> past deadline.
    assert result.attempts == 3
    assert result.elapsed_s <= 10 + 4  # never more than one check past the deadline


def test_give_up_stops_without_sleeping(fake_clock: Any) -> None:
    result = poll_until(
        lambda: "fatal",
        done=lambda v: v == "ok",
        give_up=lambda v: v == "fatal",
        deadline_s=100,
        clock=fake_clock,
        sleep=fake_clock.sleep,
    )
    assert result.gave_up
    assert not result.timed_out
    assert result.attempts == 1
    assert fake_clock.sleeps == []


def test_zero_or_past_deadline_still_tries_once(fake_clock: Any) -> None:
    calls: list[int] = []
    result = poll_until(
        lambda: calls.append(1) or False, done=bool, deadline_s=-5, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert calls == [1]
    assert result.timed_out


def test_exceptions_propagate(fake_clock: Any) -> None:
    def boom() -> bool:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        poll_until(boom, done=bool, deadline_s=5, clock=fake_clock, sleep=fake_clock.sleep)


@pytest.mark.parametrize(("initial", "maximum", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_rejects_bad_backoff(initial: float, maximum: float, factor: float) -> None:
    with pytest.raises(ValueError, match="initial_backoff_s"):
        poll_until(
            lambda: True,
            done=bool,
            deadline_s=1,
            initial_backoff_s=initial,
            max_backoff_s=maximum,
            factor=factor,
        )


def test_polled_check_reports_attempts_when_deadline_passes(fake_clock: Any) -> None:
    settings = PollSettings.starting_now(
        5, initial_backoff_s=1, max_backoff_s=2, clock=fake_clock, sleep=fake_clock.sleep
    )
    result = polled_check("thing", lambda: Probe(False, "not yet"), settings)
    assert not result.ok
    assert result.name == "thing"
    assert result.detail.startswith("not yet (deadline passed; 4 attempt(s) over 5.0s)")


def test_polled_check_shares_one_deadline_across_checks(fake_clock: Any) -> None:
    settings = PollSettings.starting_now(
        5, initial_backoff_s=1, max_backoff_s=2, clock=fake_clock, sleep=fake_clock.sleep
    )
    polled_check("first", lambda: Probe(False, "never"), settings)
    sleeps_before = len(fake_clock.sleeps)
    second = polled_check("second", lambda: Probe(False, "also never"), settings)
    # The budget is spent: the second check gets exactly one attempt and no more waiting.
    assert len(fake_clock.sleeps) == sleeps_before
    assert "1 attempt(s)" in second.detail


def test_polled_check_turns_exceptions_and_terminal_probes_into_failures(fake_clock: Any) -> None:
    settings = PollSettings.starting_now(30, clock=fake_clock, sleep=fake_clock.sleep)

    def broken() -> Probe:
        raise KeyError("status")

    crashed = polled_check("crashy", broken, settings)
    assert not crashed.ok
    assert "unexpected KeyError" in crashed.detail
    terminal = polled_check("denied", lambda: Probe(False, "AccessDenied", terminal=True), settings)
    assert "not retried; 1 attempt(s)" in terminal.detail
    assert fake_clock.sleeps == []
    passing = polled_check("fine", lambda: Probe(True, "all good"), settings)
    assert passing.ok
    assert passing.detail == "all good"
