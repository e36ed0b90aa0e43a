"""The stack commands through typer's CliRunner, with a fake StackRunner in place of Pulumi.

Every dependency of the deploy session (``stack_factory``, ``preflight_clients``, ``verifier``,
``is_interactive``) is a fake passed in as :class:`automation.session.Dependencies`; the CLI's and the
session's own logic (config validation, order of checks, confirmation, progress, error
classification, JSON shapes, exit codes, Ctrl-C) runs for real.
"""

from __future__ import annotations

import _thread
import json
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pulumi.automation import CommandResult, EngineEvent
from pulumi.automation.errors import create_command_error
from typer.testing import CliRunner, Result

import automation.cli as cli
import automation.stack as stack_module
from automation.exit_codes import ExitCode
from automation.interrupt import DEFAULT_TIMING, InterruptTiming
from automation.preflight import PreflightClients
from automation.progress import EventSink
from automation.session import Dependencies, open_pulumi_stack
from automation.stack import OperationResult, StackOutput, StackRequest, StackRunner
from automation.verify import CheckResult, HttpCheckSettings, HttpStats, VerifyPlan, VerifyReport
from infra.config import StackConfig
from tests.support import PROJECT_DIR, exported_state, record_env

RELEASE_URN = (
    "urn:pulumi:dev::crossmesh::crossmesh:infra:AppMeshController$kubernetes:helm.sh/v3:Release"
    "::eksc1-mesh-controller-release"
)
VPC_URN = "urn:pulumi:dev::crossmesh::crossmesh:infra:SharedVpc$aws:ec2/vpc:Vpc::network-vpc"
FRONT_URL = "http://a1b2.us-east-1.elb.amazonaws.com/color"
KUBECONFIGS = {name: json.dumps({"kind": "Config", "current-context": name}) for name in ("eksc1", "eksc2")}
OUTPUTS = {
    "region": StackOutput("us-east-1", False),
    "frontUrl": StackOutput(FRONT_URL, False),
    "cloudMapNamespace": StackOutput({"name": "appmesh-demo.pvt.aws.local", "id": "ns-1"}, False),
    "clusters": StackOutput(
        {name: {"eksName": f"{name}-dev", "kubeconfig": text} for name, text in KUBECONFIGS.items()}, True
    ),
}
PASSED = VerifyReport(
    checks=(CheckResult("appmesh mesh global", True, "mesh global is ACTIVE"),),
    http=HttpStats(requests=200, errors=0, p50_ms=3.0, p99_ms=9.0, shares={"blue": 0.5, "red": 0.5}),
)
FAILED = VerifyReport(
    checks=(
        CheckResult("appmesh mesh global", True, "mesh global is ACTIVE"),
        CheckResult(f"http {FRONT_URL}", False, "no red answers"),
    ),
    http=HttpStats(requests=200, errors=0, p50_ms=3.0, p99_ms=9.0, shares={"blue": 1.0, "red": 0.0}),
)


def engine_event(**body: Any) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 1, "timestamp": 1_764_133_200, **body})


def _metadata(op: str, urn: str) -> dict[str, str]:
    return {"op": op, "urn": urn, "type": urn.split("::")[2].rsplit("$", 1)[-1], "provider": ""}


DEPLOY_EVENTS = [
    engine_event(resourcePreEvent={"metadata": _metadata("create", VPC_URN)}),
    engine_event(resOutputsEvent={"metadata": _metadata("create", VPC_URN)}),
    engine_event(summaryEvent={"resourceChanges": {"create": 1}}),
]


def command_error(stdout: str = "", stderr: str = "") -> Exception:
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=255))


@dataclass
class FakeRunner:
    """A StackRunner that replays engine events and records what the CLI asked of it."""

    outputs_value: dict[str, StackOutput] = field(default_factory=lambda: dict(OUTPUTS))
    events: list[EngineEvent] = field(default_factory=lambda: list(DEPLOY_EVENTS))
    errors: dict[str, BaseException] = field(default_factory=dict[str, BaseException])
    during: dict[str, Callable[[FakeRunner], None]] = field(
        default_factory=dict[str, Callable[["FakeRunner"], None]]
    )
    cancel_error: BaseException | None = None
    state: list[dict[str, Any]] | None = None
    """The stack's state resources, as exported (for the backend-switch and fixed-settings refusals)."""
    calls: list[str] = field(default_factory=list[str])
    cancelled: threading.Event = field(default_factory=threading.Event)

    def _operation(self, name: str, sink: EventSink, parallel: int | None) -> OperationResult:
        self.calls.append(name if parallel is None else f"{name}(parallel={parallel})")
        for item in self.events:
            sink.on_event(item)
        sink.on_output(f"{name} output line")
        if name in self.during:
            self.during[name](self)
        if name in self.errors:
            raise self.errors[name]
        return OperationResult({"create": 1})

    def up(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        return self._operation("up", sink, parallel)

    def preview(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        return self._operation("preview", sink, parallel)

    def destroy(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        return self._operation("destroy", sink, parallel)

    def refresh(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        return self._operation("refresh", sink, parallel)

    def outputs(self) -> dict[str, StackOutput]:
        self.calls.append("outputs")
        return self.outputs_value

    def cancel(self) -> None:
        self.calls.append("cancel")
        if self.cancel_error is not None:
            raise self.cancel_error
        self.cancelled.set()

    def resource_count(self) -> int | None:
        return 1

    def state_resources(self) -> list[Mapping[str, Any]] | None:
        return list(self.state) if self.state is not None else None


class FakeSts:
    def __init__(self, journal: list[str], error: BaseException | None = None) -> None:
        self.journal = journal
        self.error = error

    def get_caller_identity(self) -> dict[str, str]:
        self.journal.append("sts")
        if self.error is not None:
            raise self.error
        return {"Account": "123456789012", "Arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci"}


class FakeAppMesh:
    def __init__(self, journal: list[str], error: BaseException | None = None) -> None:
        self.journal = journal
        self.error = error

    def list_meshes(self, **_: Any) -> dict[str, Any]:
        self.journal.append("appmesh")
        if self.error is not None:
            raise self.error
        return {"meshes": []}


class FakeLattice:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def list_service_networks(self, **_: Any) -> dict[str, Any]:
        self.journal.append("lattice")
        return {"items": []}


@dataclass
class World:
    """The fakes a session gets, and what they saw."""

    runner: FakeRunner
    journal: list[str]
    requests: list[StackRequest]
    plans: list[VerifyPlan]
    log_dir: Path
    report: VerifyReport = PASSED
    sts_error: BaseException | None = None
    appmesh_error: BaseException | None = None
    factory_error: BaseException | None = None
    eks: Any = None
    """The EKS client of the deploy checks (``None`` skips them)."""
    interactive: bool = False
    project_dir: Path = PROJECT_DIR
    interrupt: InterruptTiming = DEFAULT_TIMING
    real_stack_factory: bool = False
    """Use the real Automation API stack factory instead of the fake runner."""
    machine_checks: list[bool] = field(default_factory=list[bool])
    """The --install-cli flag each machine check was given."""

    def factory(self, request: StackRequest) -> StackRunner:
        if self.real_stack_factory:
            return open_pulumi_stack(request)
        self.journal.append("stack")
        self.requests.append(request)
        if self.factory_error is not None:
            raise self.factory_error
        return self.runner

    def clients(self, region: str) -> PreflightClients:
        return PreflightClients(
            sts=FakeSts(self.journal, self.sts_error),
            appmesh=FakeAppMesh(self.journal, self.appmesh_error),
            lattice=FakeLattice(self.journal),
            eks=self.eks,
        )

    def machine_check(self, config: StackConfig, install_cli: bool) -> list[str]:
        self.machine_checks.append(install_cli)
        return ["fake tools"]

    def verify(self, plan: VerifyPlan, http: HttpCheckSettings, deadline_s: float) -> VerifyReport:
        self.journal.append(f"verify requests={http.requests} deadline={deadline_s}")
        self.plans.append(plan)
        return self.report

    def deps(self) -> Dependencies:
        return Dependencies(
            stack_factory=self.factory,
            preflight_clients=self.clients,
            verifier=self.verify,
            leak_check=lambda config: self.journal.append(f"leak check {config.stack}"),
            machine_check=self.machine_check,
            is_interactive=lambda: self.interactive,
            project_dir=self.project_dir,
            log_dir=self.log_dir,
            interrupt=self.interrupt,
        )

    def invoke(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli.app, list(args), input=stdin, obj=self.deps())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(FakeRunner(), [], [], [], tmp_path / "logs")


def json_result(outcome: Result) -> dict[str, Any]:
    lines = outcome.stdout.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line on stdout, got {outcome.stdout!r}"
    return json.loads(lines[0])


# --- deploy ------------------------------------------------------------------------------------------


def test_deploy_yes_json_runs_checks_in_order_and_reports_one_document(world: World) -> None:
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == 0, outcome.output
    assert world.journal == ["sts", "lattice", "stack", "verify requests=200 deadline=600.0"]
    assert world.requests == [
        StackRequest(
            env="dev",
            project_dir=PROJECT_DIR,
            backend_url=None,
            install_cli=False,
            create=True,
            # the guardrails pack goes with every deploy, configured for this environment
            policy_packs=(str(PROJECT_DIR / "policy"),),
            policy_pack_configs=(str(PROJECT_DIR / "build" / "guardrails" / "guardrails-dev.json"),),
        )
    ]
    assert world.runner.calls == [
        "outputs",
        "up",
        "outputs",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    document = json_result(outcome)
    assert set(document) == {
        "ok",
        "env",
        "operation",
        "exit_code",
        "log",
        "changes",
        "outputs",
        "verification",
        "error",
    }
    assert (document["ok"], document["env"], document["operation"], document["exit_code"]) == (
        True,
        "dev",
        "deploy",
        0,
    )
    assert document["changes"] == {"create": 1}
    assert document["outputs"]["frontUrl"] == FRONT_URL
    assert document["outputs"]["clusters"] == "[secret]"  # kubeconfigs never reach stdout
    assert document["verification"] == {
        "ok": True,
        "checks": [{"name": "appmesh mesh global", "ok": True, "detail": "mesh global is ACTIVE"}],
        "http": {
            "requests": 200,
            "errors": 0,
            "p50_ms": 3.0,
            "p99_ms": 9.0,
            "shares": {"blue": 0.5, "red": 0.5},
        },
    }
    assert document["error"] is None
    # the plan verification got: config names plus the stack's outputs
    (plan,) = world.plans
    assert plan.front_url == FRONT_URL
    assert dict(plan.kubeconfigs) == KUBECONFIGS
    assert (plan.backend, plan.service_network) == ("lattice", "crossmesh-dev")
    # progress and logs on stderr; the event log is complete JSON lines
    assert "created aws:ec2/vpc:Vpc network-vpc" in outcome.stderr
    log = Path(document["log"])
    assert log.parent == world.log_dir
    assert log.name.startswith("dev-deploy-")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["record"] for r in records] == ["start", "event", "event", "event", "stdout", "end"]


def test_deploy_passes_backend_and_parallel_and_can_skip_verification(world: World) -> None:
    outcome = world.invoke(
        "deploy",
        "dev",
        "--yes",
        "--json",
        "--backend",
        "s3://state/crossmesh",
        "--parallel",
        "4",
        "--skip-verify",
    )
    assert outcome.exit_code == 0, outcome.output
    assert world.requests[0].backend_url == "s3://state/crossmesh"
    assert world.runner.calls == [
        "outputs",
        "up(parallel=4)",
        "outputs",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    assert world.plans == []
    document = json_result(outcome)
    # A success without verification has both keys, null, like one with it (docs/cli.md).
    assert (document["verification"], document["error"]) == (None, None)


@pytest.mark.parametrize("command", [["deploy", "dev", "--yes"], ["preview", "dev"]])
def test_install_cli_reaches_the_machine_check(world: World, command: list[str]) -> None:
    # An older CLI on PATH must not stop a run that installs the right one (automation/machine.py).
    assert world.invoke(*command, "--json").exit_code == 0
    assert world.invoke(*command, "--install-cli", "--json").exit_code == 0
    assert world.machine_checks == [False, True]


def test_deploy_verification_options_reach_the_verifier(world: World) -> None:
    outcome = world.invoke("deploy", "dev", "--yes", "--requests", "50", "--deadline", "30")
    assert outcome.exit_code == 0, outcome.output
    assert world.journal[-1] == "verify requests=50 deadline=30.0"
    assert "verification passed" in outcome.stdout


def test_deploy_with_failed_verification_exits_3(world: World) -> None:
    world.report = FAILED
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.VERIFY_FAILED == 3
    document = json_result(outcome)
    assert (document["ok"], document["exit_code"]) == (False, 3)
    assert document["verification"]["ok"] is False
    assert document["error"]["kind"] == "verify_failed"
    assert f"http {FRONT_URL}" in document["error"]["message"]
    assert "verification failed (1 of 2 checks)" in outcome.stderr


def test_deploy_without_yes_off_a_terminal_is_refused_before_anything(world: World) -> None:
    outcome = world.invoke("deploy", "dev")
    assert outcome.exit_code == ExitCode.BAD_INPUT
    assert "pass --yes" in outcome.stderr.lower()
    assert world.journal == []


def test_interactive_deploy_previews_then_asks(world: World) -> None:
    world.interactive = True
    outcome = world.invoke("deploy", "dev", "--skip-verify", stdin="y\n")
    assert outcome.exit_code == 0, outcome.output
    assert world.runner.calls == [
        "outputs",
        "preview",
        "up",
        "outputs",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    assert "Deploy these changes to dev?" in outcome.stderr


def test_interactive_deploy_declined_changes_nothing(world: World) -> None:
    world.interactive = True
    outcome = world.invoke("deploy", "dev", "--json", stdin="n\n")
    assert outcome.exit_code == 0
    assert world.runner.calls == [
        "outputs",
        "preview",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    # CliRunner echoes the typed answer to stdout (a terminal would show it on the tty): skip it.
    document = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert document["declined"] is True
    assert document["changes"] == {}


def test_ctrl_c_at_the_confirmation_prompt_is_exit_130_and_changes_nothing(world: World) -> None:
    world.interactive = True
    outcome = world.invoke(
        "deploy", "dev", stdin=""
    )  # end of input: what click reports for Ctrl-C at a prompt
    assert outcome.exit_code == ExitCode.INTERRUPTED
    assert world.runner.calls == [
        "outputs",
        "preview",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    assert "nothing was changed" in outcome.stderr


def test_unknown_environment_is_exit_2_listing_known_ones(world: World) -> None:
    outcome = world.invoke("deploy", "qa", "--yes", "--json")
    assert outcome.exit_code == 2
    assert "expected one of appmesh, dev, prod, staging" in outcome.stderr
    assert json_result(outcome)["error"]["kind"] == "bad_input"
    assert world.journal == []


def test_bad_config_is_exit_2_and_nothing_is_called(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    document["config"]["crossmesh:clusters"][0]["nodes"]["min"] = 9
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    world.project_dir = project
    for command in (
        ["deploy", "dev", "--yes"],
        ["verify", "dev"],
        ["destroy", "dev", "--yes"],
        ["outputs", "dev"],
    ):
        outcome = world.invoke(*command)
        assert outcome.exit_code == 2, command
        assert "crossmesh:clusters[0].nodes.min: got 9; expected min <= max (3)" in outcome.stderr
    assert world.journal == []


def test_stack_locked_is_exit_7_and_says_how_to_cancel(world: World) -> None:
    world.runner.errors["up"] = command_error(
        stderr="error: [409] Conflict: Another update is currently in progress."
    )
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.STACK_LOCKED == 7
    assert "this deploy changed nothing" in outcome.stderr
    assert "pulumi cancel --stack dev --yes" in outcome.stderr
    document = json_result(outcome)
    assert document["error"]["kind"] == "stack_locked"
    assert document["log"].endswith(".jsonl")
    assert world.plans == []


def test_helm_timeout_from_the_event_stream_names_release_and_what_to_check(world: World) -> None:
    world.runner.events = [
        engine_event(resourcePreEvent={"metadata": _metadata("create", RELEASE_URN)}),
        engine_event(
            resOpFailedEvent={"metadata": _metadata("create", RELEASE_URN), "status": 1, "steps": 1}
        ),
        engine_event(
            diagnosticEvent={
                "urn": RELEASE_URN,
                "severity": "error",
                "color": "never",
                "message": '1 error occurred:\n\t* Helm release "appmesh-system/appmesh-controller" was created '
                "but has a failed status. Reason: context deadline exceeded\n",
            }
        ),
    ]
    world.runner.errors["up"] = command_error(stdout="error: update failed")
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.DEPLOY_FAILED == 8
    error = json_result(outcome)["error"]
    assert error["kind"] == "helm_timeout"
    assert "appmesh-system/appmesh-controller" in error["message"]
    assert "eksc1-mesh-controller-release" in error["message"]
    assert "kubectl -n appmesh-system get pods,events" in error["hint"]
    assert "aws eks update-kubeconfig --name eksc1-dev --region us-east-1" in error["hint"]
    assert "FAILED create kubernetes:helm.sh/v3:Release eksc1-mesh-controller-release" in outcome.stderr


def test_other_engine_errors_are_exit_8_with_the_engine_lines(world: World) -> None:
    world.runner.errors["up"] = command_error(
        stdout="Diagnostics:\n  aws:iam/role:Role (x):\n    error: creating IAM Role: EntityAlreadyExists\n"
    )
    outcome = world.invoke("deploy", "dev", "--yes")
    assert outcome.exit_code == 8
    assert "error: creating IAM Role: EntityAlreadyExists" in outcome.stderr


def test_missing_passphrase_is_exit_2(world: World) -> None:
    world.runner.errors["up"] = command_error(
        stderr="error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"
    )
    outcome = world.invoke("deploy", "dev", "--yes")
    assert outcome.exit_code == 2
    assert "PULUMI_CONFIG_PASSPHRASE" in outcome.stderr


def test_credentials_failure_stops_before_the_mesh_and_pulumi(world: World) -> None:
    from botocore.exceptions import NoCredentialsError

    world.sts_error = NoCredentialsError()
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == 5
    assert world.journal == ["sts"]
    assert json_result(outcome)["error"]["kind"] == "aws_credentials_missing"


def test_a_deploy_check_aws_refuses_is_exit_5_and_one_json_document(world: World) -> None:
    from botocore.exceptions import ClientError

    class RefusingEks:
        def describe_cluster(self, name: str) -> dict[str, Any]:
            world.journal.append(f"eks {name}")
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDeniedException",
                        "Message": "not authorized: eks:DescribeCluster",
                    }
                },
                "DescribeCluster",
            )

    world.eks = RefusingEks()
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.AWS_CREDENTIALS == 5, outcome.output
    error = json_result(outcome)["error"]
    assert error["kind"] == "aws_check_failed"
    assert error["message"] == (
        "the checks before deploying could not read the account: DescribeCluster failed "
        "(AccessDeniedException: not authorized: eks:DescribeCluster)"
    )
    assert world.journal == ["sts", "lattice", "eks eksc1-dev"]  # Pulumi was never reached
    assert "error: the checks before deploying could not read the account" in outcome.stderr


def test_mesh_unavailable_stops_deploy_but_only_warns_on_destroy(world: World) -> None:
    from botocore.exceptions import ClientError

    world.appmesh_error = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "App Mesh is no longer available"}},
        "ListMeshes",
    )
    outcome = world.invoke("deploy", "appmesh", "--yes")
    assert outcome.exit_code == 6
    # refused before anything: no AWS call, no stack
    assert world.journal == []
    assert "AWS App Mesh ended on 2026-09-30" in outcome.stderr
    assert "docs/migration.md" in outcome.stderr
    outcome = world.invoke("preview", "appmesh")
    assert outcome.exit_code == 6
    assert world.journal == []
    outcome = world.invoke("destroy", "appmesh", "--yes")
    assert outcome.exit_code == 0, outcome.output
    assert "warning: App Mesh is not available" in outcome.stderr
    assert world.runner.calls == ["destroy"]


# --- Pulumi CLI missing (the real Automation API; no CLI is installed here) -------------------------


@pytest.fixture
def no_pulumi_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))  # nothing called `pulumi` on PATH
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # and no earlier --install-cli download


@pytest.mark.usefixtures("no_pulumi_cli")
def test_missing_pulumi_cli_is_exit_4_with_install_hint(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.real_stack_factory = True
    outcome = world.invoke("outputs", "dev", "--json")
    assert outcome.exit_code == ExitCode.PULUMI_CLI_MISSING == 4
    error = json_result(outcome)["error"]
    assert error["message"] == "the Pulumi CLI (`pulumi`) is not installed or not on PATH"
    assert "curl -fsSL https://get.pulumi.com | sh" in error["hint"]
    assert "--install-cli" in error["hint"]


@pytest.mark.usefixtures("no_pulumi_cli")
def test_install_cli_that_cannot_download_is_exit_4(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.error import URLError

    def offline(**_: Any) -> Any:
        raise URLError("[Errno -2] Name or service not known")

    world.real_stack_factory = True
    monkeypatch.setattr(stack_module.PulumiCommand, "install", offline)
    outcome = world.invoke("deploy", "dev", "--yes", "--install-cli")
    assert outcome.exit_code == 4
    assert "--install-cli could not download the Pulumi CLI from get.pulumi.com" in outcome.stderr
    assert "Name or service not known" in outcome.stderr
    assert world.journal == ["sts", "lattice"]  # the checks before Pulumi ran, then nothing else


# --- Ctrl-C ------------------------------------------------------------------------------------------


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    # Test runners may ignore SIGINT in worker processes; the CLI relies on Python's default handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_and_wait_for_cancel(runner: FakeRunner) -> None:
    """An engine that never hears the Ctrl-C: it runs until `pulumi cancel` arrives."""
    _thread.interrupt_main()
    assert runner.cancelled.wait(10), "the CLI never cancelled"
    raise command_error(stderr="error: update canceled")


def interrupt_and_stop(runner: FakeRunner) -> None:
    """An engine that got the terminal's Ctrl-C too: it finishes in-flight work and stops."""
    _thread.interrupt_main()
    threading.Event().wait(0.3)
    raise command_error(stderr="error: update canceled")


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_cancels_an_update_that_does_not_stop_by_itself(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.interrupt = InterruptTiming(grace_s=0.2)
    world.runner.during["up"] = interrupt_and_wait_for_cancel
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.INTERRUPTED == 130
    assert world.runner.calls == [
        "outputs",
        "up",
        "cancel",
    ]  # deploy reads the applied weights first (automation/shift/guard.py)
    error = json_result(outcome)["error"]
    assert error["kind"] == "interrupted"
    assert "cancelled with `pulumi cancel`" in error["message"]
    assert "refresh dev --yes" in error["hint"]
    assert world.plans == []


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_waits_for_an_engine_that_stops_and_does_not_cancel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.interrupt = InterruptTiming(grace_s=10.0)
    world.runner.during["destroy"] = interrupt_and_stop
    outcome = world.invoke("destroy", "dev", "--yes")
    assert outcome.exit_code == 130
    assert world.runner.calls == ["destroy"]
    assert "Pulumi stopped and released the stack" in outcome.stderr


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_when_cancel_fails_says_how_to_unlock(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.interrupt = InterruptTiming(grace_s=0.2, after_cancel_wait_s=0.2)

    def interrupt_and_hang(runner: FakeRunner) -> None:
        _thread.interrupt_main()
        threading.Event().wait(1.0)

    world.runner.during["refresh"] = interrupt_and_hang
    world.runner.cancel_error = command_error(stderr="error: failed to cancel: 403 Forbidden")
    outcome = world.invoke("refresh", "dev", "--yes")
    assert outcome.exit_code == 130
    assert "cancelling it failed" in outcome.stderr
    assert "403 Forbidden" in outcome.stderr
    assert "pulumi cancel --stack dev --yes" in outcome.stderr


def test_ctrl_c_before_pulumi_changed_nothing(world: World) -> None:
    world.sts_error = KeyboardInterrupt()
    outcome = world.invoke("deploy", "dev", "--yes")
    assert outcome.exit_code == 130
    assert "nothing was changed" in outcome.stderr
    assert world.journal == ["sts"]


# --- preview, destroy, refresh, outputs ----------------------------------------------------------------


def test_preview_json(world: World) -> None:
    outcome = world.invoke("preview", "dev", "--json", "--parallel", "2")
    assert outcome.exit_code == 0, outcome.output
    assert world.runner.calls == ["preview(parallel=2)"]
    assert world.requests[0].create is True
    document = json_result(outcome)
    assert (document["operation"], document["changes"]) == ("preview", {"create": 1})


def test_destroy_and_refresh_require_an_existing_stack_and_yes(world: World) -> None:
    for command in ("destroy", "refresh"):
        assert world.invoke(command, "dev").exit_code == 2
        outcome = world.invoke(command, "dev", "--yes", "--json")
        assert outcome.exit_code == 0, outcome.output
        assert json_result(outcome)["operation"] == command
    assert [r.create for r in world.requests] == [False, False]
    assert world.runner.calls == ["destroy", "refresh"]


def test_destroy_ends_with_the_leak_check_and_exits_10_on_leftovers(world: World) -> None:
    from automation.errors import CrossmeshError, Failure

    def leaky(config: StackConfig) -> None:
        world.journal.append(f"leak check {config.stack}")
        raise CrossmeshError(Failure(ExitCode.LEAKED, "destroy_left_resources", "ecr: crossmesh-dev/front"))

    outcome = CliRunner().invoke(
        cli.app, ["destroy", "dev", "--yes", "--json"], obj=replace(world.deps(), leak_check=leaky)
    )
    assert outcome.exit_code == 10
    assert json_result(outcome)["error"]["kind"] == "destroy_left_resources"
    assert world.runner.calls == ["destroy"]
    assert world.journal[-1] == "leak check dev"
    world.journal.clear()
    assert world.invoke("refresh", "dev", "--yes").exit_code == 0
    assert "leak check dev" not in world.journal  # refresh has no leak check


def test_interactive_destroy_declined(world: World) -> None:
    world.interactive = True
    outcome = world.invoke("destroy", "dev", stdin="n\n")
    assert outcome.exit_code == 0
    assert world.runner.calls == []
    assert "This cannot be undone" in outcome.stderr


def test_outputs_mask_secrets_unless_asked_and_need_no_aws(world: World) -> None:
    outcome = world.invoke("outputs", "dev", "--json")
    assert outcome.exit_code == 0, outcome.output
    document = json_result(outcome)
    assert set(document) == {"ok", "env", "operation", "exit_code", "outputs", "error"}
    assert document["error"] is None
    assert document["outputs"]["clusters"] == "[secret]"
    assert document["outputs"]["frontUrl"] == FRONT_URL
    assert world.journal == ["stack"]  # no STS, no App Mesh
    shown = json_result(world.invoke("outputs", "dev", "--json", "--show-secrets"))
    assert shown["outputs"]["clusters"]["eksc2"]["kubeconfig"] == KUBECONFIGS["eksc2"]
    table = world.invoke("outputs", "dev")
    assert "frontUrl" in table.stdout
    assert "[secret]" in table.stdout
    assert "current-context" not in table.stdout


# --- verify ------------------------------------------------------------------------------------------


def test_verify_prints_exactly_the_report_shape(world: World) -> None:
    outcome = world.invoke("verify", "dev", "--json", "--requests", "40")
    assert outcome.exit_code == 0, outcome.output
    assert world.journal == ["sts", "lattice", "stack", "verify requests=40 deadline=600.0"]
    assert world.requests[0].create is False
    assert json_result(outcome) == PASSED.to_dict()
    assert set(json_result(outcome)) == {"ok", "checks", "http"}


def test_verify_failure_is_exit_3_with_a_table(world: World) -> None:
    world.report = FAILED
    outcome = world.invoke("verify", "dev")
    assert outcome.exit_code == 3
    assert "crossmesh verification" in outcome.stdout
    assert "no red answers" in outcome.stdout


def test_verify_of_a_stack_without_outputs_is_exit_9(world: World) -> None:
    world.runner.outputs_value = {}
    outcome = world.invoke("verify", "dev", "--json")
    assert outcome.exit_code == ExitCode.NOT_DEPLOYED == 9
    assert "has no outputs" in json_result(outcome)["error"]["message"]
    world.runner.outputs_value = {"region": StackOutput("us-east-1", False)}
    outcome = world.invoke("verify", "dev")
    assert outcome.exit_code == 9
    assert "stack output clusters is missing" in outcome.stderr


def test_verify_of_a_stack_the_backend_does_not_have_is_exit_9(world: World) -> None:
    world.factory_error = command_error(stderr="error: no stack named 'dev' found")
    outcome = world.invoke("verify", "dev")
    assert outcome.exit_code == 9
    assert "there is no stack 'dev' in this Pulumi backend" in outcome.stderr


def test_verify_and_destroy_do_not_carry_the_policy_pack(world: World) -> None:
    world.invoke("destroy", "dev", "--yes")
    world.invoke("verify", "dev")
    assert [r.policy_packs for r in world.requests] == [(), ()]


def test_the_real_runner_passes_the_pack_to_up_and_preview_only() -> None:
    calls: dict[str, dict[str, Any]] = {}

    class Summary:
        resource_changes: ClassVar[dict[str, int]] = {"create": 1}

    class Result:
        summary = Summary()
        change_summary: ClassVar[dict[str, int]] = {"create": 1}

    class FakeStack:
        def up(self, **kwargs: Any) -> Result:
            calls["up"] = kwargs
            return Result()

        def preview(self, **kwargs: Any) -> Result:
            calls["preview"] = kwargs
            return Result()

        def destroy(self, **kwargs: Any) -> Result:
            calls["destroy"] = kwargs
            return Result()

    policy = {"policy_packs": ["/p/policy"], "policy_pack_configs": ["/p/guardrails-dev.json"]}
    runner = stack_module.PulumiStackRunner(FakeStack(), policy)
    sink = EventSink.__new__(EventSink)
    runner.up(sink=sink)
    runner.preview(sink=sink)
    runner.destroy(sink=sink)
    assert calls["up"]["policy_packs"] == ["/p/policy"]
    assert calls["up"]["policy_pack_configs"] == ["/p/guardrails-dev.json"]
    assert calls["preview"]["policy_packs"] == ["/p/policy"]
    assert "policy_packs" not in calls["destroy"]


def test_deploy_refuses_a_stack_file_that_would_undo_a_shift(world: World) -> None:
    # A shift left red at 100 (the trafficWeights output); Pulumi.dev.yaml still says 50/50.
    world.runner.outputs_value["trafficWeights"] = StackOutput({"blue": 0, "red": 100}, secret=False)
    outcome = world.invoke("deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.BAD_INPUT, outcome.output
    error = json_result(outcome)["error"]
    assert error["kind"] == "stale_weights"
    assert "holds colorapp weights blue=50,red=50, but the stack runs blue=0,red=100" in error["message"]
    assert "crossmesh:trafficWeights" in error["hint"]
    assert world.runner.calls == ["outputs"]  # nothing was updated


def test_deploy_refuses_to_turn_an_app_mesh_stack_into_lattice_in_place(world: World) -> None:
    world.runner.state = [{"type": "pulumi:pulumi:Stack"}, {"type": "crossmesh:infra:AppMeshController"}]
    outcome = world.invoke("deploy", "dev", "--yes")
    assert outcome.exit_code == 2, outcome.output
    assert "holds appmesh resources (crossmesh:infra:AppMeshController)" in outcome.stderr
    assert "docs/migration.md" in outcome.stderr
    assert world.runner.calls == ["outputs"]  # neither up nor preview ran
    world.runner.state = [{"type": "pulumi:pulumi:Stack"}, {"type": "crossmesh:infra:LatticeController"}]
    assert world.invoke("deploy", "dev", "--yes").exit_code == 0


def _state_with_service_cidr(cidr: str) -> list[dict[str, Any]]:
    """dev's state after an up, its EKS clusters created with ``cidr`` as their service range."""
    state = exported_state(record_env("dev"))
    for resource in state:
        if resource["type"] == "aws:eks/cluster:Cluster":
            for side in ("inputs", "outputs"):
                resource[side] = {**resource[side], "kubernetesNetworkConfig": {"serviceIpv4Cidr": cidr}}
    return state


@pytest.mark.parametrize("command", ["deploy", "preview"])
def test_a_setting_the_stack_cannot_change_in_place_is_refused_before_pulumi_runs(
    world: World, command: str
) -> None:
    # dev's clusters run 10.100.0.0/16; Pulumi.dev.yaml asks for 172.20.0.0/16 (the default).
    confirmed = ("--yes",) if command == "deploy" else ()
    world.runner.state = _state_with_service_cidr("10.100.0.0/16")
    outcome = world.invoke(command, "dev", *confirmed, "--json")
    assert outcome.exit_code == ExitCode.BAD_INPUT, outcome.output
    error = json_result(outcome)["error"]
    assert error["kind"] == "fixed_setting_changed"
    assert "crossmesh:network.serviceCidr: got '172.20.0.0/16'; expected 10.100.0.0/16" in error["message"]
    assert "docs/migration.md" in error["hint"]
    assert world.runner.calls == (["outputs"] if command == "deploy" else [])  # neither up nor preview
    # The same state with the range the stack file says: nothing to refuse.
    world.runner.state = _state_with_service_cidr("172.20.0.0/16")
    assert world.invoke(command, "dev", *confirmed).exit_code == 0


# --- destroy and refresh reach every existing cluster first ---------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ClustersEks:
    """EKS DescribeCluster over a fixed set of clusters: name -> (owner stack, endpoint URL)."""

    journal: list[str]
    clusters: dict[str, tuple[str, str]]

    def describe_cluster(self, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.journal.append(f"eks {name}")
        if name not in self.clusters:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ResourceNotFoundException",
                        "Message": f"No cluster found for name: {name}.",
                    }
                },
                "DescribeCluster",
            )
        owner, endpoint = self.clusters[name]
        tags = {"project": "crossmesh", "environment": owner}
        return {"cluster": {"name": name, "endpoint": endpoint, "tags": tags, "version": "1.33"}}


@pytest.mark.parametrize("command", ["destroy", "refresh"])
def test_destroy_and_refresh_refuse_a_cluster_whose_endpoint_does_not_answer_from_here(
    world: World, command: str
) -> None:
    # The clusters' Kubernetes provider has deleteUnreachable: run from where an existing cluster does
    # not answer, Pulumi would drop its objects (front's load balancer, the Lattice routes) from the
    # state undeleted. So Pulumi is never started.
    unreachable = f"https://127.0.0.1:{_closed_port()}"
    world.eks = ClustersEks(
        world.journal, {"eksc1-dev": ("dev", unreachable), "eksc2-dev": ("dev", unreachable)}
    )
    outcome = world.invoke(command, "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.ENDPOINT_UNREACHABLE == 12, outcome.output
    error = json_result(outcome)["error"]
    assert error["kind"] == "endpoint_unreachable"
    assert f"eksc1-dev ({unreachable})" in error["message"]
    assert f"eksc2-dev ({unreachable})" in error["message"]
    assert "Nothing was changed" in error["hint"]
    assert world.runner.calls == []
    assert "stack" not in world.journal


def test_destroy_goes_ahead_when_the_clusters_are_gone_or_another_stacks(world: World) -> None:
    # A cluster EKS no longer has is what deleteUnreachable is for; another stack's is not ours to probe.
    world.eks = ClustersEks(world.journal, {"eksc2-dev": ("other", f"https://127.0.0.1:{_closed_port()}")})
    outcome = world.invoke("destroy", "dev", "--yes", "--json")
    assert outcome.exit_code == 0, outcome.output
    assert world.journal[:4] == ["sts", "lattice", "eks eksc1-dev", "eks eksc2-dev"]
    assert world.runner.calls == ["destroy"]


def test_destroy_names_the_refused_cluster_read(world: World) -> None:
    from botocore.exceptions import ClientError

    class RefusingEks:
        def describe_cluster(self, name: str) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeCluster"
            )

    world.eks = RefusingEks()
    outcome = world.invoke("destroy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.AWS_CREDENTIALS, outcome.output
    assert json_result(outcome)["error"]["message"].startswith(
        "the checks before destroy could not read the account: DescribeCluster failed (AccessDeniedException"
    )
    assert world.runner.calls == []


# --- destroy of a protected stack ----------------------------------------------------------------


def test_destroy_refuses_a_stack_whose_state_holds_protected_resources_before_deleting_anything(
    world: World,
) -> None:
    # The engine deletes what depends on a protected resource first and fails only at the protected one
    # (pulumi/pulumi#782, #15896): the apps, controllers and node groups would be gone, the cluster left.
    # The state says what is protected, whatever the stack file says now.
    prefix = "urn:pulumi:dev::crossmesh::"
    world.runner.state = [
        {
            "urn": prefix + "crossmesh:infra:EksCluster$eks:index:Cluster::eksc1-eks",
            "type": "eks:index:Cluster",
            "protect": True,
        },
        {
            "urn": prefix + "crossmesh:infra:SharedVpc$aws:ec2/vpc:Vpc::network-vpc",
            "type": "aws:ec2/vpc:Vpc",
            "protect": True,
        },
        {
            "urn": prefix + "crossmesh:infra:EksCluster$eks:index:ManagedNodeGroup::eksc1-nodes",
            "type": "eks:index:ManagedNodeGroup",
        },
    ]
    outcome = world.invoke("destroy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.BAD_INPUT, outcome.output
    error = json_result(outcome)["error"]
    assert error["kind"] == "deletion_protected"
    assert error["message"].startswith(
        "dev has 2 protected resource(s) in its state (eksc1-eks, network-vpc)"
    )
    assert "crossmesh:deletionProtection to false" in error["hint"]
    assert "Nothing was changed" in error["hint"]
    assert world.runner.calls == []
    # Refresh deletes nothing: it is not refused.
    assert world.invoke("refresh", "dev", "--yes").exit_code == 0
    # Once a deploy lifted the protection, destroy goes ahead.
    world.runner.state = [{**r, "protect": False} for r in world.runner.state]
    assert world.invoke("destroy", "dev", "--yes").exit_code == 0
    assert world.runner.calls == ["refresh", "destroy"]
