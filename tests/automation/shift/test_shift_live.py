"""`python -m automation shift` for real on 127.0.0.1: the Automation API over a fake `pulumi`, a weighted
router whose weights the targeted `up` writes, real colorapp processes and a front with retries.

This machine's CPU is shared, so localhost latency swings by tens of milliseconds between steps: the
tests allow p99 to grow 50x per step (the growth rule itself is tested in test_shift_units.py).
Bounded: 100-200 requests per step, hold 0 s except where a test needs a step to last (then it is ended
by Ctrl-C or by the test); every test finishes in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import automation.cli as cli
from automation.exit_codes import ExitCode
from automation.interrupt import InterruptTiming
from automation.preflight import PreflightClients
from automation.session import Dependencies
from automation.shift.observe import WeightsObserver
from automation.shift.run import ObserverFactory, ShiftDeps
from automation.shift.state import LEASE_TAG, STATE_TAG, Lease
from automation.stack import StackOutput
from infra.config import StackConfig
from tests.automation.shift.support import (
    Mesh,
    calls,
    file_observer,
    install_fake_pulumi,
    local_mesh,
    read_weights,
    wait_for,
)
from tests.support import PROJECT_DIR
from tests.workloads.servers import REPO, Launcher

pytestmark = pytest.mark.slow

ROUTE = (
    "urn:pulumi:dev::crossmesh::crossmesh:infra:LatticeRouting$"
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::eksc1-httproute-colorapp"
)
STACK = "urn:pulumi:dev::crossmesh::pulumi:pulumi:Stack::crossmesh-dev"
START = {"blue": 100, "red": 0}
# Steps that do not hold, 100 requests each, p99 allowed to grow 50x (this shared CPU's jitter).
QUICK_STEPS = ("--hold", "0", "--requests", "100", "--max-p99-growth", "50", "--yes", "--json")


class Sts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:role/deploy"}


class Lattice:
    def list_service_networks(self, **_: Any) -> dict[str, Any]:
        return {"items": []}


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture
def mesh(tmp_path: Path, launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mesh]:
    """colorapp blue and red, router and front; the fake backend starts with blue=100, red=0 applied."""
    with local_mesh(tmp_path, launcher, START) as running:
        env = install_fake_pulumi(
            tmp_path,
            {"FAKE_ROUTER_WEIGHTS": str(running.weights_file), "FAKE_FRONT_URL": running.front_url},
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
        backend = {"config": {}, "tags": {}, "applied": START}
        (tmp_path / "backend.json").write_text(json.dumps(backend))
        yield running


def backend(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "backend.json").read_text())


def fixed_targets(project: Path, env: str, flat: Mapping[str, str]) -> list[str]:
    return [ROUTE, STACK]


def observing(path: Path, hook: Callable[[dict[str, int]], None] | None = None) -> ObserverFactory:
    def factory(config: StackConfig, outputs: Mapping[str, StackOutput]) -> WeightsObserver:
        return file_observer(path, hook)

    return factory


def deps_for(tmp_path: Path, mesh: Mesh, **overrides: Any) -> ShiftDeps:
    fields: dict[str, Any] = {
        "session": Dependencies(
            preflight_clients=lambda region: PreflightClients(Sts(), None, Lattice()),
            log_dir=tmp_path / "logs",
            is_interactive=lambda: False,
            interrupt=InterruptTiming(grace_s=5, after_cancel_wait_s=1),
        ),
        "targets": fixed_targets,
        "observer_factory": observing(mesh.weights_file),
        "state_dir": tmp_path / "shift",
    }
    return ShiftDeps(**(fields | overrides))


def shift(deps: ShiftDeps, *args: str) -> Result:
    return CliRunner().invoke(cli.app, ["shift", "dev", *args], obj=deps)


def test_a_healthy_shift_reaches_the_target_step_by_step(tmp_path: Path, mesh: Mesh) -> None:
    deps = deps_for(tmp_path, mesh)
    outcome = shift(
        deps,
        "--to",
        "red=100",
        "--steps",
        "25,100",
        "--hold",
        "0s",
        "--requests",
        "100",
        "--max-p99-growth",
        "50",
        "--yes",
        "--json",
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert [s["weights"] for s in document["steps"]] == [{"blue": 75, "red": 25}, {"blue": 0, "red": 100}]
    first = document["steps"][0]
    assert first["verdict"] == "passed"
    assert first["requests"] == 100
    red = first["versions"]["red"]
    assert red["answers"] > 0
    assert red["p_value"] is not None
    assert red["p99_ms"] is not None
    assert red["attempts_per_request"] == 1.0
    assert red["error_rate"] == 0
    assert read_weights(mesh.weights_file) == {"blue": 0, "red": 100}
    # every step: the weights into the stack's configuration, then `up` targeted at the route (and stack)
    state = backend(tmp_path)
    assert json.loads(state["config"]["crossmesh:trafficWeights"]) == {"blue": 0, "red": 100}
    assert state["applied"] == {"blue": 0, "red": 100}
    assert [sorted(u["targets"]) for u in state["ups"]] == [sorted([STACK, ROUTE])] * 2
    assert LEASE_TAG not in state["tags"]
    assert STATE_TAG not in state["tags"]
    ups = [c["argv"] for c in calls(tmp_path / "calls.jsonl") if c["argv"][:1] == ["up"]]
    assert all(argv[argv.index("--stack") + 1] == "dev" for argv in ups)


def test_a_version_failing_at_step_2_is_rolled_back_with_exit_3(tmp_path: Path, mesh: Mesh) -> None:
    def break_red(weights: dict[str, int]) -> None:
        # The new version starts failing once it gets its step-2 share: its process is gone, the router
        # answers 502 for it, and front retries those on the other version.
        red = mesh.colors["red"].proc
        if weights.get("red") == 25 and red.poll() is None:
            os.killpg(red.pid, signal.SIGKILL)  # the group: the server may serve from a worker process
            red.wait(5)

    deps = deps_for(tmp_path, mesh, observer_factory=observing(mesh.weights_file, break_red))
    outcome = shift(deps, "--to", "red=100", *QUICK_STEPS)
    assert outcome.exit_code == ExitCode.VERIFY_FAILED, outcome.output
    document = json.loads(outcome.stdout)
    error = document["error"]
    assert error["kind"] == "shift_failed"
    assert "step 2" in error["message"]
    assert "version red" in error["message"]
    assert "never answered" in error["message"] or "retries" in error["message"]
    steps = [s for s in document["steps"] if "step" in s]
    assert [s["verdict"] for s in steps] == ["passed", "failed"]
    assert steps[1]["versions"]["red"]["ok"] is False
    assert steps[1]["versions"]["blue"]["ok"] is True  # blue only answered the retries
    assert steps[1]["attempts_per_request"] > 1.0  # the failures were behind front's retries
    # the last good weights (step 1) are back, in the router and in the stack
    assert read_weights(mesh.weights_file) == {"blue": 90, "red": 10}
    assert backend(tmp_path)["applied"] == {"blue": 90, "red": 10}
    assert document["weights"] == {"blue": 90, "red": 10}


def _child(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHIFT_TEST_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("child.py")), "shift", "dev", *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_ctrl_c_mid_step_restores_the_last_good_weights_and_resume_finishes(
    tmp_path: Path, mesh: Mesh
) -> None:
    child = _child(
        tmp_path,
        "--to",
        "red=100",
        "--steps",
        "50,100",
        "--hold",
        "60s",
        "--max-p99-growth",
        "50",
        "--yes",
        "--json",
    )
    try:
        wait_for(lambda: read_weights(mesh.weights_file) == {"blue": 50, "red": 50}, 30, "step 1's weights")
        wait_for((tmp_path / "shift" / "dev.lock").exists, 5, "the lock")
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == ExitCode.INTERRUPTED, stderr.decode()
    document = json.loads(stdout)
    assert document["error"]["kind"] == "interrupted"
    assert "step 1" in document["error"]["message"]
    # the step was undone: the weights before it (the start) are back
    assert read_weights(mesh.weights_file) == START
    state = backend(tmp_path)
    assert state["applied"] == START
    assert json.loads(state["tags"][STATE_TAG])["status"] == "interrupted"
    assert LEASE_TAG not in state["tags"]

    # --resume takes the saved target and steps (giving --steps again is refused)
    outcome = shift(deps_for(tmp_path, mesh), "--resume", *QUICK_STEPS)
    assert outcome.exit_code == 0, outcome.output
    assert read_weights(mesh.weights_file) == {"blue": 0, "red": 100}
    assert [s["weights"]["red"] for s in json.loads(outcome.stdout)["steps"]] == [50, 100]


def test_a_second_shift_of_the_same_stack_is_refused(tmp_path: Path, mesh: Mesh) -> None:
    child = _child(
        tmp_path, "--to", "red=100", "--steps", "50,100", "--hold", "60s", "--max-p99-growth", "50", "--yes"
    )
    try:
        wait_for(lambda: read_weights(mesh.weights_file) == {"blue": 50, "red": 50}, 30, "step 1's weights")
        second = shift(
            deps_for(tmp_path, mesh),
            "--to",
            "red=50",
            *QUICK_STEPS,
        )
        assert second.exit_code == ExitCode.STACK_LOCKED, second.output
        assert (
            "another shift of dev is running on this machine" in json.loads(second.stdout)["error"]["message"]
        )
        assert read_weights(mesh.weights_file) == {"blue": 50, "red": 50}  # the second changed nothing
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=30)


def test_a_live_lease_from_another_machine_refuses_the_shift(tmp_path: Path, mesh: Mesh) -> None:
    import time

    lease = Lease("abc123", "ci-runner-7", 4242, time.time() + 600)
    state = backend(tmp_path)
    state["tags"][LEASE_TAG] = lease.to_tag()
    (tmp_path / "backend.json").write_text(json.dumps(state))
    outcome = shift(deps_for(tmp_path, mesh), "--to", "red=100", *QUICK_STEPS)
    assert outcome.exit_code == ExitCode.STACK_LOCKED, outcome.output
    assert "ci-runner-7" in json.loads(outcome.stdout)["error"]["message"]
    assert read_weights(mesh.weights_file) == START
    assert "ups" not in backend(tmp_path)
