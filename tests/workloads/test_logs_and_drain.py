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

from workloads.runtime.common import drain, logs, serve, web
from workloads.runtime.common.settings import ServerSettings

# --- LineBatches ------------------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    yield read, write
    for fd in (read, write):
        os.close(fd)


def read_available(fd: int) -> bytes:
    """What reached the pipe so far."""
    chunks: list[bytes] = []
    while select.select([fd], [], [], 0)[0]:
        try:
            chunks.append(os.read(fd, 1 << 20))
        except BlockingIOError:
            break
    return b"".join(chunks)


def batching_logger(fd: int, name: str, interval: float = 60) -> tuple[logs.LineBatches, logging.Logger]:
    """A LineBatches handler on ``fd`` (lines as the bare message) and a logger that uses only it."""
    handler = logs.LineBatches(fd, interval=interval)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"test.linebatches.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return handler, logger


def test_info_lines_wait_for_the_interval_then_go_in_one_write(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler, log = batching_logger(write, "interval", interval=0.3)
    log.info("one")
    log.info("two")
    assert read_available(read) == b""  # nothing yet: both lines wait for company
    deadline = time.monotonic() + 5
    written = b""
    while not written and time.monotonic() < deadline:
        time.sleep(0.05)
        written = read_available(read)
    assert written == b"one\ntwo\n"
    handler.close()


def test_a_warning_writes_at_once_with_what_waited_before_it(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler, log = batching_logger(write, "warning")
    log.info("waiting")
    log.warning("urgent")
    assert read_available(read) == b"waiting\nurgent\n"
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
    handler, log = batching_logger(write, "chunks")
    lines = [f"line {n:04d} " + "x" * 90 for n in range(120)]
    for line in lines:
        log.info(line)
    handler.flush()
    assert read_available(read).decode().splitlines() == lines
    assert len(writes) > 1
    assert all(len(chunk) <= logs.PIPE_BUF and chunk.endswith(b"\n") for chunk in writes)
    handler.close()


def test_close_writes_what_waits_and_later_lines_go_at_once(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler, log = batching_logger(write, "close")
    log.info("before close")
    handler.close()
    assert read_available(read) == b"before close\n"
    log.info("after close")
    assert read_available(read) == b"after close\n"


def test_a_forked_child_does_not_write_its_parents_waiting_lines(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler, log = batching_logger(write, "fork")
    log.info("parent's")
    pid = os.fork()
    if pid == 0:  # the child: its own line only, then out without exit handlers (as a worker ends)
        log.info("child's")
        handler.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert read_available(read) == b"child's\n"
    handler.flush()
    assert read_available(read) == b"parent's\n"
    handler.close()


def _json_handler(write: int, name: str) -> tuple[logs.LineBatches, logging.Logger]:
    config = logs.logging_config("colorapp", "info")
    formatter_spec = dict(config["formatters"]["json"])
    factory = formatter_spec.pop("()")
    handler, log = batching_logger(write, name)
    handler.setFormatter(factory(**formatter_spec))
    return handler, log


def test_a_line_longer_than_pipe_buf_is_shortened_to_one_atomic_write(pipe: tuple[int, int]) -> None:
    # Written whole, a 60 KB line was split by another process's line in the pod's stdout.
    read, write = pipe
    handler, log = _json_handler(write, "long")
    log.warning("upstream %s", "x" * 9000, extra={"path": "/" + "a" * 60_000, "status": 404, "short": "ok"})
    (line,) = read_available(read).splitlines()
    assert len(line) + 1 <= logs.PIPE_BUF
    record = json.loads(line)
    assert record["path"] == "/" + "a" * (logs.SHORTENED_CHARS - 1) + "... (60001 characters)"
    assert record["msg"].endswith("... (9009 characters)")
    assert (record["status"], record["short"], record["level"]) == (404, "ok", "warning")
    handler.close()


def test_a_traceback_is_kept_whole_however_long(pipe: tuple[int, int]) -> None:
    read, write = pipe
    handler, log = _json_handler(write, "traceback")
    try:
        raise RuntimeError("y" * 6000)
    except RuntimeError:
        log.exception("unhandled error")
    (line,) = read_available(read).splitlines()
    assert len(line) > logs.PIPE_BUF
    assert "y" * 6000 in json.loads(line)["exc_info"]
    handler.close()


def test_the_app_format_is_one_json_object_per_line(pipe: tuple[int, int]) -> None:
    read, write = pipe
    config = logs.logging_config("colorapp", "info")
    formatter_spec = dict(config["formatters"]["json"])
    factory = formatter_spec.pop("()")
    assert config["handlers"]["stdout"]["()"] is logs.LineBatches
    handler, log = batching_logger(write, "format")
    handler.setFormatter(factory(**formatter_spec))
    log.info("request", extra={"status": 200, "path": "/color", "note": "é"})
    handler.flush()
    (line,) = read_available(read).decode().splitlines()
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


def test_the_drain_key_is_fresh_private_and_replaces_a_stale_one(tmp_path: Path) -> None:
    stale = tmp_path / drain.KEY_FILE.format(port=8080)
    stale.write_text("left by an earlier run")
    key, path = drain.write_key(8080, tmp_path)
    assert path == stale
    assert path.read_text() == key
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert drain.write_key(8080, tmp_path)[0] != key
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


def test_a_drain_call_must_present_the_key_when_the_supervisor_made_one() -> None:
    keyed = drain.DrainState(key="k" * 32)
    assert keyed.admits("k" * 32)
    assert not keyed.admits(None)
    assert not keyed.admits("k" * 31)
    assert not keyed.admits("é" * 32)
    assert drain.DrainState().admits(None)  # no key made (no /dev/shm): loopback decides alone


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
        (None, False),
    ],
)
def test_loopback_includes_ipv4_mapped_addresses(client: str | None, expected: bool) -> None:
    assert web.is_loopback(client) is expected


def test_more_than_one_worker_without_a_state_file_exits_1_saying_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two processes that cannot share the drain state would each drain alone: refused before serving.
    def no_state_file(directory: Path | None = None) -> Path:
        raise PermissionError(13, "Permission denied", "/dev/shm")

    monkeypatch.setattr(drain, "create", no_state_file)
    monkeypatch.setattr(logs, "configure", lambda service, level: None)

    def must_not_serve(*args: object) -> None:
        raise AssertionError("started serving without a shared drain state")

    monkeypatch.setattr(serve, "server", must_not_serve)
    status = serve.main("colorapp", "unused:create_app", lambda: ServerSettings(workers=2))
    assert status == 1
    assert capsys.readouterr().err == (
        "colorapp: WORKERS=2 needs a drain state file the processes share: "
        "[Errno 13] Permission denied: '/dev/shm'\n"
    )
