"""The apps' log handler (whole lines, in batches) and the drain state their serving processes share."""

from __future__ import annotations

import json
import logging
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workloads.runtime.common import drain, logs

# --- LineBatches ------------------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    yield read, write
    for fd in (read, write):
        os.close(fd)


def read_writes(fd: int) -> list[bytes]:
    """What reached the pipe so far (a read may join several writes)."""
    chunks: list[bytes] = []
    while select.select([fd], [], [], 0)[0]:
        try:
            chunks.append(os.read(fd, 1 << 20))
        except BlockingIOError:
            break
    return chunks


def logger_to(handler: logging.Handler, name: str) -> logging.Logger:
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"test.linebatches.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_info_lines_wait_for_the_interval_then_go_in_one_write(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler = logs.LineBatches(write, interval=0.3)
    log = logger_to(handler, "interval")
    log.info("one")
    log.info("two")
    assert read_writes(read) == []  # nothing yet: both lines wait for company
    deadline = time.monotonic() + 5
    chunks: list[bytes] = []
    while not chunks and time.monotonic() < deadline:
        time.sleep(0.05)
        chunks = read_writes(read)
    assert chunks == [b"one\ntwo\n"]
    handler.close()


def test_a_warning_writes_at_once_with_what_waited_before_it(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler = logs.LineBatches(write, interval=60)
    log = logger_to(handler, "warning")
    log.info("waiting")
    log.warning("urgent")
    assert b"".join(read_writes(read)) == b"waiting\nurgent\n"
    handler.close()


def test_batches_are_whole_lines_of_at_most_pipe_buf_bytes(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pipe writes up to PIPE_BUF bytes atomically: the pod's processes share stdout, and a longer
    # write could be split by another process's line.
    read, write = pipe
    writes: list[bytes] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes | memoryview) -> int:
        if fd == write:
            writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    handler = logs.LineBatches(write, interval=60)
    log = logger_to(handler, "chunks")
    lines = [f"line {n:04d} " + "x" * 90 for n in range(120)]
    for line in lines:
        log.info(line)
    handler.flush()
    assert b"".join(read_writes(read)).decode().splitlines() == lines
    assert len(writes) > 1
    assert all(len(chunk) <= logs.PIPE_BUF and chunk.endswith(b"\n") for chunk in writes)
    handler.close()


def test_close_writes_what_waits_and_later_lines_go_at_once(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler = logs.LineBatches(write, interval=60)
    log = logger_to(handler, "close")
    log.info("before close")
    handler.close()
    assert b"".join(read_writes(read)) == b"before close\n"
    log.info("after close")
    assert b"".join(read_writes(read)) == b"after close\n"


def test_a_forked_child_does_not_write_its_parents_waiting_lines(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler = logs.LineBatches(write, interval=60)
    log = logger_to(handler, "fork")
    log.info("parent's")
    pid = os.fork()
    if pid == 0:  # the child: its own line only, then out without exit handlers (as a worker ends)
        log.info("child's")
        handler.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"".join(read_writes(read)) == b"child's\n"
    handler.flush()
    assert b"".join(read_writes(read)) == b"parent's\n"
    handler.close()


def test_the_app_format_is_one_json_object_per_line(pipe: tuple[int, int]) -> None:
    read, write = pipe
    config = logs.logging_config("colorapp", "info")
    formatter_spec = dict(config["formatters"]["json"])
    factory = formatter_spec.pop("()")
    assert config["handlers"]["stdout"]["()"] is logs.LineBatches
    handler = logs.LineBatches(write, interval=60)
    log = logger_to(handler, "format")
    handler.setFormatter(factory(**formatter_spec))
    log.info("request", extra={"status": 200, "path": "/color", "note": "é"})
    handler.flush()
    (line,) = b"".join(read_writes(read)).decode().splitlines()
    record = json.loads(line)
    assert record.keys() == {"ts", "level", "msg", "service", "status", "path", "note"}
    assert {k: v for k, v in record.items() if k != "ts"} == {
        "level": "info",
        "msg": "request",
        "service": "colorapp",
        "status": 200,
        "path": "/color",
        "note": "é",
    }
    handler.close()


# --- DrainState -------------------------------------------------------------------------------------


def test_drain_state_is_shared_through_its_file(tmp_path: Path) -> None:
    path = drain.create(tmp_path)
    assert path.read_bytes() == b"\0"
    assert path.stat().st_mode & 0o777 == 0o600
    first, second = drain.DrainState(path), drain.DrainState(path)
    assert first.shared
    assert second.shared
    assert not first.draining
    assert not second.draining
    assert second.drain() is True
    assert first.draining
    assert second.draining
    assert first.drain() is False  # already draining: said once, not twice


def test_drain_state_crosses_a_fork(tmp_path: Path) -> None:
    path = drain.create(tmp_path)
    state = drain.DrainState(path)
    pid = os.fork()
    if pid == 0:
        drain.DrainState(path).drain()
        os._exit(0)
    os.waitpid(pid, 0)
    assert state.draining


def test_without_a_file_the_state_is_the_process_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(drain.DRAIN_STATE_VARIABLE, raising=False)
    state = drain.DrainState.from_environment()
    assert not state.shared
    assert state.drain() is True
    assert state.draining


def test_from_environment_maps_the_named_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = drain.create(tmp_path)
    monkeypatch.setenv(drain.DRAIN_STATE_VARIABLE, str(path))
    state = drain.DrainState.from_environment()
    assert state.shared
    drain.DrainState(path).drain()
    assert state.draining
