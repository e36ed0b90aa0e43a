"""The recording engine leaves no event loop open behind it.

The Pulumi SDK's mock monitor gives each engine thread an event loop of its own and never closes it.
Left open, those loops were closed by the garbage collector at interpreter exit, in whatever order
finalization ran, and one that found its file descriptors gone printed an "Exception ignored in
BaseEventLoop.__del__" traceback after a clean render (seen after a Ctrl-C in CI).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pulumi
import pulumi_aws as aws
import pytest

from automation.recorder import record
from tests.support import PROJECT_DIR


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """Every event loop made while the test runs (the SDK and the recorder make them this way)."""
    loops: list[asyncio.AbstractEventLoop] = []
    new_event_loop = asyncio.new_event_loop

    def recorded() -> asyncio.AbstractEventLoop:
        loop = new_event_loop()
        loops.append(loop)
        return loop

    monkeypatch.setattr(asyncio, "new_event_loop", recorded)
    return loops


def _program() -> None:
    # A registration, an invoke and a stack output: the monitor calls the engine's threads make.
    aws.get_availability_zones(state="available")
    bucket = aws.s3.Bucket("logs")
    pulumi.export("bucket", bucket.id)


def test_every_event_loop_the_engine_threads_were_given_is_closed_when_a_recording_ends(
    made: list[asyncio.AbstractEventLoop],
) -> None:
    recording = record(_program, project="crossmesh", stack="loops")
    assert [r.type for r in recording.resources if r.custom] == ["aws:s3/bucket:Bucket"]
    assert recording.invokes, "the program's invoke was not recorded"
    # The recorder's own loop and at least one engine thread's (or this test checks nothing).
    assert len(made) >= 2, made
    assert [loop for loop in made if not loop.is_closed()] == []


def test_a_failing_program_leaves_no_event_loop_open_either(made: list[asyncio.AbstractEventLoop]) -> None:
    def failing() -> None:
        aws.s3.Bucket("logs")
        raise ValueError("the program failed")

    with pytest.raises(ValueError, match=r"^the program failed$"):
        record(failing, project="crossmesh", stack="loops")
    assert len(made) >= 2, made
    assert [loop for loop in made if not loop.is_closed()] == []


_INTERRUPTED_RECORDING = """
import asyncio, atexit, os, signal, sys, threading, time
import pulumi_aws as aws
from automation.cloud_mocks import CloudMocks
from automation.recorder import record

signal.signal(signal.SIGINT, signal.default_int_handler)
made = []
new_event_loop = asyncio.new_event_loop
def recorded():
    made.append(new_event_loop())
    return made[-1]
asyncio.new_event_loop = recorded
atexit.register(lambda: print("open at exit:", sum(not loop.is_closed() for loop in made), "of", len(made)))

class Slow(CloudMocks):
    def new_resource(self, args):
        time.sleep(1.0)
        return super().new_resource(args)

def program():
    for i in range(3):
        aws.s3.Bucket(f"b{i}")

threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    record(program, project="crossmesh", stack="interrupted", mocks=Slow(region="us-east-1"))
except KeyboardInterrupt:
    print("interrupted")
"""


def test_ctrl_c_during_a_recording_still_closes_every_event_loop_before_exit() -> None:
    # Ctrl-C lands while the program runs (each registration takes a second). The recording gets to
    # finish and close its loops before KeyboardInterrupt reaches the caller; with Thread.join(), the
    # interpreter went on to exit while the recording still ran, its loops open.
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_RECORDING],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines()[0] == "interrupted", done.stdout + done.stderr
    opened = done.stdout.splitlines()[-1]
    assert opened.startswith("open at exit: 0 of "), done.stdout
    assert int(opened.rsplit(" ", 1)[1]) >= 2
    assert "Exception ignored" not in done.stderr
    assert "Traceback" not in done.stderr
