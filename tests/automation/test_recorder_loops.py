"""The recording engine leaves no event loop open behind it.

The Pulumi SDK's mock monitor gives each engine thread an event loop of its own and never closes it.
Left open, those loops were closed by the garbage collector at interpreter exit, in whatever order
finalization ran, and one that found its file descriptors gone printed an "Exception ignored in
BaseEventLoop.__del__" traceback after a clean render (seen after a Ctrl-C in CI).
"""

from __future__ import annotations

import asyncio

import pulumi
import pulumi_aws as aws
import pytest

from automation.recorder import record


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
