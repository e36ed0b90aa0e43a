"""Ctrl-C: a Pulumi operation stopped cleanly, and every interrupt turned into its message and exit 130.

Pulumi operations run in a worker thread (:func:`run_interruptible`) so the main thread can handle
the interrupt while the SDK keeps reading the Pulumi CLI's pipes; the rest are the messages the
user sees for an interrupt at any other moment (before Pulumi ran, after it changed things, during
an offline render). Only the standard library and the exit-code table are imported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from automation.errors import Failure
from automation.exit_codes import ExitCode


@dataclass(frozen=True)
class InterruptTiming:
    """How long Ctrl-C waits at each step (the deploy session carries one; tests pass short ones)."""

    grace_s: float = 30.0
    """How long to wait for the engine to finish the operations in flight before cancelling."""
    after_cancel_wait_s: float = 10.0
    """After `pulumi cancel`, how long to wait for the running CLI to notice and exit."""


DEFAULT_TIMING = InterruptTiming()


class Interrupted(Exception):
    """The user pressed Ctrl-C while an operation ran; what was done about it.

    A plain class, not a frozen dataclass: the interpreter and contextlib assign ``__traceback__``
    on exceptions, which a frozen dataclass would refuse.
    """

    def __init__(self, *, stopped_by_engine: bool, cancelled: bool, cancel_error: str = "") -> None:
        super().__init__("interrupted")
        self.stopped_by_engine = stopped_by_engine
        """The engine finished (or stopped) within the grace period: no cancel was needed."""
        self.cancelled = cancelled
        """``pulumi cancel`` ran and succeeded."""
        self.cancel_error = cancel_error


T = TypeVar("T")


def run_interruptible(
    operation: Callable[[], T],
    *,
    cancel: Callable[[], None],
    notify: Callable[[str], None],
    timing: InterruptTiming = DEFAULT_TIMING,
) -> T:
    """Run ``operation`` (a Pulumi call) in a worker thread and turn Ctrl-C into a clean stop.

    Why a thread: the Automation API runs the CLI as a child process and reads its pipes. Were the
    KeyboardInterrupt raised inside that call, the SDK would close the pipes and return while the
    CLI is still winding down; its next write would kill it with SIGPIPE, leaving the stack locked
    and operations pending. Here the worker keeps reading while the main thread handles Ctrl-C:

    1. wait up to ``timing.grace_s`` for the engine to stop by itself (a terminal's Ctrl-C reaches the
       CLI too, and it then finishes the operations in flight and releases its lock);
    2. otherwise, or on a second Ctrl-C, run ``cancel`` (``pulumi cancel``: the update is marked
       cancelled in Pulumi Cloud, or the lock file is removed on a self-managed backend);
    3. raise :class:`Interrupted` saying which of these happened.
    """
    outcome: dict[str, Any] = {}
    started = threading.Event()
    done = threading.Event()

    def work() -> None:
        started.set()
        try:
            outcome["value"] = operation()
        except BaseException as exc:  # handed to the main thread below, whatever it is
            outcome["error"] = exc
        finally:
            done.set()

    # A daemon thread: if the user insists on leaving (third Ctrl-C), the process may exit.
    worker = threading.Thread(target=work, name="pulumi-operation", daemon=True)
    try:
        # start() is inside the try: Ctrl-C can land while start() waits for the thread to run.
        worker.start()
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        if not _wait(started, 1.0):
            raise  # the operation never began: nothing to stop
        raise _stop(done, cancel=cancel, notify=notify, timing=timing) from None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _wait(done: threading.Event, seconds: float) -> bool:
    try:
        return done.wait(seconds)
    except KeyboardInterrupt:
        return done.is_set()


def _stop(
    done: threading.Event,
    *,
    cancel: Callable[[], None],
    notify: Callable[[str], None],
    timing: InterruptTiming,
) -> Interrupted:
    grace_s = timing.grace_s
    notify(
        f"interrupted: waiting up to {grace_s:g}s for Pulumi to finish the operations in flight "
        "(press Ctrl-C again to cancel the update now)"
    )
    if _wait(done, grace_s):
        return Interrupted(stopped_by_engine=True, cancelled=False)
    notify("cancelling the update (`pulumi cancel`) so the stack is not left locked")
    try:
        cancel()
    except KeyboardInterrupt:
        return Interrupted(
            stopped_by_engine=False, cancelled=False, cancel_error="`pulumi cancel` was interrupted"
        )
    except Exception as exc:  # CommandError and anything else: report, the user must act
        if done.is_set():
            # The update ended while cancel ran ("no update in progress"): the lock is gone anyway.
            return Interrupted(stopped_by_engine=True, cancelled=False)
        return Interrupted(stopped_by_engine=False, cancelled=False, cancel_error=str(exc).strip()[-500:])
    _wait(done, timing.after_cancel_wait_s)
    return Interrupted(stopped_by_engine=False, cancelled=True)


def interrupted_failure(env: str, interrupted: Interrupted, operation: str) -> Failure:
    if interrupted.stopped_by_engine:
        message = f"{operation} of {env!r} interrupted; Pulumi stopped and released the stack"
    elif interrupted.cancelled:
        message = f"{operation} of {env!r} interrupted; the update was cancelled with `pulumi cancel`"
    else:
        message = f"{operation} of {env!r} interrupted, and cancelling it failed: {interrupted.cancel_error}"
    if interrupted.cancelled or interrupted.stopped_by_engine:
        hint = (
            "Resources that were being changed at that moment may be pending in the state: run "
            f"`python -m automation refresh {env} --yes`, then deploy again."
            if operation != "preview"
            else "A preview changes nothing."
        )
    else:
        hint = (
            "If the stack stays locked, release it from the project directory with "
            f"`pulumi cancel --stack {env} --yes`, then run `python -m automation refresh {env} --yes`."
        )
    return Failure(ExitCode.INTERRUPTED, "interrupted", message, hint)


def interrupted_outside_pulumi(operation: str, *, changed: bool) -> Failure:
    """Ctrl-C outside a Pulumi operation: before anything changed, or after the changes completed."""
    message = (
        f"{operation} interrupted after its changes completed"
        if changed
        else f"{operation} interrupted before Pulumi changed anything; nothing was changed"
    )
    return Failure(ExitCode.INTERRUPTED, "interrupted", message)


def render_interrupted(env: str, out_dir: str) -> Failure:
    """Ctrl-C during an offline render: nothing outside the output folder was touched."""
    return Failure(
        ExitCode.INTERRUPTED,
        "interrupted",
        f"render of {env!r} interrupted; nothing was called or deployed",
        f"{out_dir} may be incomplete: run `python -m automation render {env}` again.",
    )
