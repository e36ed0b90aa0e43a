"""The deploy session on its own: built over fakes, its steps called one by one (as `shift` will)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.preflight import PreflightClients
from automation.session import Dependencies, DeploySession, Output
from automation.stack import StackRequest, StackRunner
from automation.verify import HttpCheckSettings, VerifyPlan, VerifyReport
from tests.automation.test_cli_stack import OUTPUTS, PASSED, FakeAppMesh, FakeLattice, FakeRunner, FakeSts


def session_over(
    tmp_path: Path, runner: FakeRunner, journal: list[str], *, as_json: bool = False
) -> DeploySession:
    def factory(request: StackRequest) -> StackRunner:
        journal.append(f"stack {request.env} create={request.create}")
        return runner

    def verifier(plan: VerifyPlan, http: HttpCheckSettings, deadline_s: float) -> VerifyReport:
        journal.append(
            f"verify {plan.front_url} requests={http.requests} timeout={http.timeout_s} in {deadline_s}"
        )
        return PASSED

    deps = Dependencies(
        stack_factory=factory,
        preflight_clients=lambda region: PreflightClients(
            FakeSts(journal), FakeAppMesh(journal), FakeLattice(journal)
        ),
        verifier=verifier,
        leak_check=lambda config: journal.append("leak check"),
        machine_check=lambda config, install_cli: ["fake tools"],
        is_interactive=lambda: False,
        log_dir=tmp_path / "logs",
    )
    return DeploySession("dev", "deploy", deps=deps, output=Output(as_json=as_json))


def test_the_steps_one_by_one(tmp_path: Path) -> None:
    journal: list[str] = []
    runner = FakeRunner()
    session = session_over(tmp_path, runner, journal)
    config = session.load()
    assert session.config is config
    identity = session.preflight(config, mesh="require")
    assert identity.account == "123456789012"
    stack = session.open_stack(backend=None, install_cli=False, create=True)
    result = session.operate(stack, config, "deploy", parallel=2)
    assert dict(result.changes) == {"create": 1}
    assert runner.calls == ["up(parallel=2)"]
    assert session.changed is True
    assert session.log is not None
    records = [json.loads(line)["record"] for line in session.log.read_text().splitlines()]
    assert records[0] == "start"
    assert records[-1] == "end"
    report = session.verify_outputs(
        config, OUTPUTS, HttpCheckSettings(requests=30, timeout_s=2), deadline_s=None, after_deploy=True
    )
    assert report is PASSED
    assert journal == [
        "sts",
        "lattice",  # dev runs on VPC Lattice: its availability check, not App Mesh's
        "stack dev create=True",
        f"verify {OUTPUTS['frontUrl'].value} requests=30 timeout=2 in 600.0",
    ]


def test_run_turns_failures_into_exit_codes_and_one_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = session_over(tmp_path, FakeRunner(), [], as_json=True)

    def body() -> int:
        session.require_confirmation_possible(yes=False)  # stdin is "not a terminal" here
        return 0

    assert session.run(body) == ExitCode.BAD_INPUT
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["error"]["kind"] == "confirmation_required"


def test_a_step_raises_crossmesh_error_outside_run(tmp_path: Path) -> None:
    # Steps raise; only run() (the boundary a command goes through) prints and returns the code.
    session = session_over(tmp_path, FakeRunner(outputs_value={}), [])
    config = session.load()
    with pytest.raises(CrossmeshError) as raised:
        session.verify_outputs(config, {}, HttpCheckSettings(), deadline_s=1, after_deploy=False)
    assert raised.value.failure.code == ExitCode.NOT_DEPLOYED
