"""Stopping the serving processes: no SIGKILL for a process that has exited, one for a process that hangs.

granian's supervisor runs a watcher thread per serving process that waits on the same child as the
stop does. When the watcher reaps a process first, granian's own stop cannot see that it exited:
it logs "Killing worker-N after it refused to gracefully stop" and sends SIGKILL to a process that is
gone (seen once in CI, on a pod that stopped cleanly). ``serve.Server`` reads the exit from the
process's sentinel instead. The reaping watcher is played here by ``os.waitpid``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

import pytest
from granian.server.mp import MPServer

from workloads.runtime.common.serve import Server

pytestmark = pytest.mark.slow

_FORK = multiprocessing.get_context("fork")  # as granian starts its serving processes on Linux


class _Worker:
    """What a stop uses of granian's worker: ``terminate``, ``kill``, ``join``, ``is_alive``, ``inner``."""

    def __init__(self, process: BaseProcess) -> None:
        self.inner = process
        self.idx = 0
        self.killed = False

    def terminate(self) -> None:
        self.inner.terminate()

    def kill(self) -> None:
        self.killed = True
        self.inner.kill()

    def join(self, timeout: float | None = None) -> None:
        self.inner.join(timeout)

    def is_alive(self) -> bool:
        return self.inner.is_alive()


def _exit_at_once() -> None:
    pass


def _ignore_sigterm(ready: Event) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(30)


def _reaped_elsewhere() -> _Worker:
    """A serving process that has exited and was reaped by another waiter, as granian's watcher does."""
    process = _FORK.Process(target=_exit_at_once)
    process.start()
    os.waitpid(process.pid or 0, 0)
    worker = _Worker(process)
    # What granian's own check then sees: the exit status went to the other waiter.
    assert worker.is_alive()
    return worker


def _stop(server_type: type[MPServer], workers: list[_Worker], timeout: int) -> None:
    server = server_type.__new__(server_type)  # the stop reads these two only
    server.wrks = workers  # pyright: ignore[reportAttributeAccessIssue] - stand-ins for granian's workers
    server.workers_kill_timeout = timeout
    server._stop_workers()  # pyright: ignore[reportPrivateUsage] - the method under test


def test_a_serving_process_another_thread_reaped_is_not_killed(caplog: pytest.LogCaptureFixture) -> None:
    worker = _reaped_elsewhere()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        _stop(Server, [worker], timeout=5)
    assert not worker.killed
    assert time.monotonic() - started < 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_granians_own_stop_kills_it_which_is_why_server_has_its_own(caplog: pytest.LogCaptureFixture) -> None:
    # If this fails, granian no longer has the race, and ``Server._stop_workers`` can go.
    worker = _reaped_elsewhere()
    with caplog.at_level(logging.WARNING):
        _stop(MPServer, [worker], timeout=5)
    assert worker.killed
    assert any("refused to gracefully stop" in r.getMessage() for r in caplog.records)


def test_a_serving_process_that_ignores_sigterm_is_killed_at_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = _FORK.Event()
    process = _FORK.Process(target=_ignore_sigterm, args=(ready,))
    process.start()
    assert ready.wait(10)
    worker = _Worker(process)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        _stop(Server, [worker], timeout=1)
    waited = time.monotonic() - started
    assert worker.killed
    assert 1 <= waited < 5
    assert process.exitcode == -signal.SIGKILL
    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.getMessage() == "serving process did not stop after SIGTERM; killing it"
    assert warning.__dict__["pid"] == process.pid
