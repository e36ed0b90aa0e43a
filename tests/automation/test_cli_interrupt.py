"""Ctrl-C as a real SIGINT to a real `python -m automation`-style process.

The process runs the CLI's own main() with a deploy session over an in-process fake engine (a script
written here, passing its fakes as the session's dependencies), so the signal arrives exactly as a user's Ctrl-C would: asynchronously, in the main
thread, while the operation runs in the CLI's worker thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import PROJECT_DIR

# Real processes and the grace period's real seconds: a live test.
pytestmark = pytest.mark.slow

SCRIPT = """
import signal, sys, threading
from pathlib import Path

# A test run started from a non-interactive shell's background job inherits SIGINT as ignored, and
# Python then never raises KeyboardInterrupt; a user's terminal always delivers it. Restore that.
signal.signal(signal.SIGINT, signal.default_int_handler)

import automation.cli as cli
from automation.interrupt import InterruptTiming
from automation.preflight import PreflightClients
from automation.session import Dependencies



class Sts:
    def get_caller_identity(self):
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ci"}


class AppMesh:
    def list_meshes(self, **_):
        return {"meshes": []}


class Engine:
    # An engine that does not hear the Ctrl-C itself: it runs until `pulumi cancel` arrives.
    def __init__(self):
        self.cancelled = threading.Event()

    def up(self, *, sink, parallel=None):
        print("ENGINE RUNNING", file=sys.stderr, flush=True)
        self.cancelled.wait(60)
        raise RuntimeError("update canceled")

    preview = destroy = refresh = up

    def outputs(self):
        return {}

    def cancel(self):
        print("PULUMI CANCEL CALLED", file=sys.stderr, flush=True)
        self.cancelled.set()

    def resource_count(self):
        return None


    def state_resources(self):
        return None


deps = Dependencies(
    stack_factory=lambda request: Engine(),
    preflight_clients=lambda region: PreflightClients(Sts(), AppMesh()),
    leak_check=lambda config: None,
    machine_check=lambda config, install_cli: [],
    log_dir=Path(sys.argv[2]),
    interrupt=InterruptTiming(grace_s=float(sys.argv[1])),
)
sys.argv = ["crossmesh", *sys.argv[3:]]
cli.main(deps)
"""


def start(tmp_path: Path, grace_s: float, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    script = tmp_path / "fake_engine_cli.py"
    script.write_text(SCRIPT)
    stderr = tmp_path / "stderr.txt"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": str(tmp_path),
    }
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(grace_s), str(tmp_path / "logs"), *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return proc, stderr


def wait_for(stderr: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in stderr.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before {text!r}: {stderr.read_text()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {text!r} within {timeout_s}s: {stderr.read_text()}")


def test_sigint_waits_the_grace_period_then_cancels_and_exits_130(tmp_path: Path) -> None:
    proc, stderr = start(tmp_path, 0.5, "deploy", "dev", "--yes")
    wait_for(stderr, "ENGINE RUNNING", proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    text = stderr.read_text()
    assert "interrupted: waiting up to 0.5s" in text
    assert "PULUMI CANCEL CALLED" in text
    assert "the update was cancelled with `pulumi cancel`" in text
    assert "refresh dev --yes" in text


def test_a_second_sigint_cancels_at_once(tmp_path: Path) -> None:
    proc, stderr = start(tmp_path, 60.0, "destroy", "dev", "--yes")
    wait_for(stderr, "ENGINE RUNNING", proc)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    wait_for(stderr, "waiting up to 60s", proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    assert time.monotonic() - started < 15  # far less than the 60 s grace period
    assert "PULUMI CANCEL CALLED" in stderr.read_text()
