"""The real Automation API path (LocalWorkspace, Stack, event log, CommandError) with a fake `pulumi`.

No Pulumi CLI can be installed here, so a small script named `pulumi` on PATH plays it: it answers
`pulumi version`, `stack select/init`, `up`/`preview`/`destroy`/`refresh` (writing engine events to
the `--event-log` file, as CLI versions up to 3.205 do), `stack output`, `stack history`,
`stack export` and `cancel`, and records every call. Everything between the CLI and that binary -
the SDK's argument building, event watching and error classes, and this project's wrapper - runs
for real.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import automation.cli as cli
from automation.exit_codes import ExitCode
from automation.preflight import PreflightClients
from automation.session import Dependencies
from automation.verify import CheckResult, HttpCheckSettings, VerifyPlan, VerifyReport
from tests.support import PROJECT_DIR

FAKE_PULUMI = r"""
import json, os, sys, time

argv = sys.argv[1:]
scenario = os.environ.get("FAKE_PULUMI_SCENARIO", "ok")
with open(os.environ["FAKE_PULUMI_CALLS"], "a") as calls:
    calls.write(json.dumps({"argv": argv, "backend": os.environ.get("PULUMI_BACKEND_URL")}) + "\n")

args = [a for a in argv if a != "--non-interactive"]
VPC = "urn:pulumi:dev::crossmesh::crossmesh:infra:SharedVpc$aws:ec2/vpc:Vpc::network-vpc"
RELEASE = ("urn:pulumi:dev::crossmesh::crossmesh:infra:AppMeshController$kubernetes:helm.sh/v3:Release"
           "::eksc1-mesh-controller-release")


def events(path, items):
    with open(path, "a") as log:
        for n, item in enumerate(items + [{"cancelEvent": {}}], 1):
            log.write(json.dumps({"sequence": n, "timestamp": int(time.time()), **item}) + "\n")


def meta(op, urn):
    return {"op": op, "urn": urn, "type": urn.split("::")[2].rsplit("$", 1)[-1], "provider": ""}


if args[:1] == ["version"]:
    if scenario == "broken":
        sys.exit(1)
    print({"old": "v3.0.0", "next-major": "v4.0.0"}.get(scenario, "v3.200.0"))
elif args[:2] == ["stack", "select"]:
    if scenario == "no-stack":
        print("error: no stack named 'dev' found", file=sys.stderr)
        sys.exit(255)
elif args[:2] == ["stack", "init"]:
    pass
elif args[:1] in (["up"], ["preview"], ["destroy"], ["refresh"]):
    log = args[args.index("--event-log") + 1]
    if scenario == "locked":
        events(log, [])  # just the closing cancelEvent: without it the Automation API waits 5 s for one
        print("error: [409] Conflict: Another update is currently in progress.", file=sys.stderr)
        sys.exit(255)
    if scenario == "helm-timeout":
        events(log, [
            {"resourcePreEvent": {"metadata": meta("create", RELEASE)}},
            {"diagnosticEvent": {"urn": RELEASE, "severity": "error", "color": "never",
                                 "message": "release appmesh-controller failed, and has been uninstalled due to "
                                            "atomic being set: context deadline exceeded"}},
            {"resOpFailedEvent": {"metadata": meta("create", RELEASE), "status": 1, "steps": 1}},
        ])
        print("Updating (dev):\n\nDiagnostics:\n  pulumi:pulumi:Stack (crossmesh-dev):\n    error: update failed")
        sys.exit(255)
    events(log, [
        {"preludeEvent": {"config": {"aws:region": "us-east-1"}}},
        {"resourcePreEvent": {"metadata": meta("create", VPC)}},
        {"resOutputsEvent": {"metadata": meta("create", VPC)}},
        {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {"create": 1}}},
    ])
    print("Updating (dev):\n + aws:ec2/vpc:Vpc network-vpc created\nResources:\n    + 1 created")
elif args[:2] == ["stack", "output"]:
    secret = "--show-secrets" in args
    kubeconfig = lambda name: json.dumps({"kind": "Config", "current-context": name}) if secret else "[secret]"
    print(json.dumps({
        "region": "us-east-1",
        "frontUrl": "http://a1b2.us-east-1.elb.amazonaws.com/color",
        "clusters": {n: {"eksName": f"{n}-dev", "kubeconfig": kubeconfig(n)} for n in ("eksc1", "eksc2")}
                    if secret else "[secret]",
    }))
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{
        "kind": "update", "startTime": "2026-11-26T06:00:00.000Z", "endTime": "2026-11-26T06:20:00.000Z",
        "message": "", "environment": {}, "config": {}, "result": "succeeded",
        "resourceChanges": {"create": 1},
    }]))
elif args[:2] == ["stack", "export"]:
    print(json.dumps({"version": 3, "deployment": {"resources": [{"urn": VPC}, {"urn": "x"}]}}))
elif args[:1] == ["cancel"]:
    pass
else:
    print(f"fake pulumi: unexpected {argv}", file=sys.stderr)
    sys.exit(2)
"""


class Sts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ci"}


class AppMesh:
    def list_meshes(self, **_: Any) -> dict[str, Any]:
        return {"meshes": []}


@pytest.fixture
def deps(tmp_path: Path) -> Dependencies:
    """The real stack factory (the Automation API over the fake `pulumi`), fake AWS and verifier."""
    return Dependencies(
        preflight_clients=lambda region: PreflightClients(Sts(), AppMesh()),
        verifier=lambda plan, http, deadline_s: VerifyReport(checks=()),
        leak_check=lambda config: None,
        machine_check=lambda config, install_cli: [],
        log_dir=tmp_path / "logs",
    )


@pytest.fixture
def fake_pulumi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Puts the fake `pulumi` first on PATH; returns the file its calls are recorded in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "pulumi"
    binary.write_text(f"#!{sys.executable}\n{FAKE_PULUMI}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FAKE_PULUMI_CALLS", str(calls))
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    return calls


def calls_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def commands(path: Path) -> list[str]:
    return [next(a for a in c["argv"] if a != "--non-interactive") for c in calls_of(path)]


def invoke(deps: Dependencies, *args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args), obj=deps)


def test_deploy_through_the_automation_api(fake_pulumi: Path, deps: Dependencies) -> None:
    plans: list[VerifyPlan] = []

    def verify(plan: VerifyPlan, http: HttpCheckSettings, deadline_s: float) -> VerifyReport:
        plans.append(plan)
        return VerifyReport(checks=(CheckResult("appmesh mesh global", True, "ACTIVE"),))

    outcome = invoke(
        dataclasses.replace(deps, verifier=verify),
        "deploy",
        "dev",
        "--yes",
        "--json",
        "--parallel",
        "3",
        "--backend",
        "file:///state",
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["changes"] == {"create": 1}
    assert document["outputs"]["clusters"] == "[secret]"
    calls = calls_of(fake_pulumi)
    up = next(c["argv"] for c in calls if "up" in c["argv"])
    # the SDK ran the project's program: a local (not inline) workspace, this stack, our options
    assert up[up.index("--exec-kind") + 1] == "auto.local"
    assert up[up.index("--parallel") + 1] == "3"
    assert up[up.index("--color") + 1] == "never"
    assert up[up.index("--stack") + 1] == "dev"
    assert all(c["backend"] == "file:///state" for c in calls if c["argv"] != ["version"])
    # engine events from the CLI's event log reached the progress display and our log file
    assert "created aws:ec2/vpc:Vpc network-vpc" in outcome.stderr
    records = [json.loads(line) for line in Path(document["log"]).read_text().splitlines()]
    assert any(r["record"] == "event" and "resource_pre_event" in r["event"] for r in records)
    assert any(r["record"] == "stdout" and "Resources:" in r["line"] for r in records)
    # the plain-text outputs (with secrets) went to the verification plan, never to stdout
    (plan,) = plans
    assert json.loads(plan.kubeconfigs["eksc2"])["current-context"] == "eksc2"
    assert "current-context" not in outcome.stdout


def test_a_locked_stack_is_exit_7(
    fake_pulumi: Path, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_SCENARIO", "locked")
    outcome = invoke(deps, "deploy", "dev", "--yes", "--skip-verify")
    assert outcome.exit_code == ExitCode.STACK_LOCKED
    assert "pulumi cancel --stack dev --yes" in outcome.stderr
    assert "cancel" not in commands(fake_pulumi)  # someone else's update: never cancelled by us


def test_a_helm_timeout_is_exit_8_naming_the_release(
    fake_pulumi: Path, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_SCENARIO", "helm-timeout")
    outcome = invoke(deps, "deploy", "dev", "--yes", "--json")
    assert outcome.exit_code == ExitCode.DEPLOY_FAILED
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "helm_timeout"
    assert "eksc1-mesh-controller-release" in error["message"]
    assert "in cluster eksc1" in error["message"]


def test_verify_of_a_stack_that_does_not_exist_is_exit_9_and_creates_nothing(
    fake_pulumi: Path, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_SCENARIO", "no-stack")
    outcome = invoke(deps, "verify", "dev")
    assert outcome.exit_code == ExitCode.NOT_DEPLOYED
    assert "stack" in commands(fake_pulumi)
    assert not any(c["argv"][1:3] == ["stack", "init"] for c in calls_of(fake_pulumi))


def test_deploy_creates_a_missing_stack(
    fake_pulumi: Path, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_SCENARIO", "no-stack")
    outcome = invoke(deps, "preview", "dev", "--json")
    assert outcome.exit_code == 0, outcome.output
    assert any("init" in c["argv"] for c in calls_of(fake_pulumi))


def test_outputs_and_resource_count_through_the_sdk(fake_pulumi: Path, deps: Dependencies) -> None:
    outcome = invoke(deps, "outputs", "dev", "--json", "--show-secrets")
    assert outcome.exit_code == 0, outcome.output
    outputs = json.loads(outcome.stdout)["outputs"]
    assert json.loads(outputs["clusters"]["eksc1"]["kubeconfig"])["current-context"] == "eksc1"
    from automation.stack import StackRequest, open_stack

    runner = open_stack(StackRequest(env="dev", project_dir=PROJECT_DIR))
    assert runner.resource_count() == 2


@pytest.mark.parametrize(
    ("scenario", "message", "kind"),
    [
        ("broken", "the Pulumi CLI on PATH does not run", "pulumi_cli_broken"),
        ("old", "the installed Pulumi CLI is not supported by this SDK", "pulumi_cli_too_old"),
        # A newer major version than the SDK's: the SDK refuses it (pulumi/automation/_cmd.py).
        ("next-major", "Major version mismatch", "pulumi_cli_broken"),
    ],
)
def test_a_broken_or_too_old_cli_is_exit_4_with_the_kind_docs_cli_md_names(
    fake_pulumi: Path,
    deps: Dependencies,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str,
    message: str,
    kind: str,
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_SCENARIO", scenario)
    outcome = invoke(deps, "outputs", "dev")
    assert outcome.exit_code == ExitCode.PULUMI_CLI_MISSING
    assert message in outcome.stderr
    assert "get.pulumi.com" in outcome.stderr
    # The same kinds deploy's machine check reports (automation/machine.py), for every command.
    error = json.loads(invoke(deps, "outputs", "dev", "--json").stdout)["error"]
    assert (error["exit_code"], error["kind"]) == (int(ExitCode.PULUMI_CLI_MISSING), kind)


@pytest.mark.parametrize("what", ["not executable", "a folder"])
def test_a_pulumi_on_path_that_cannot_be_run_is_exit_4_not_a_traceback(
    fake_pulumi: Path, deps: Dependencies, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, what: str
) -> None:
    # A download never made executable (or a folder named pulumi) first on PATH: starting it raised
    # PermissionError out of the SDK's `pulumi version`, a traceback and exit 1 for every command.
    bin_dir = tmp_path / "unusable"
    bin_dir.mkdir()
    if what == "a folder":
        (bin_dir / "pulumi").mkdir()
    else:
        (bin_dir / "pulumi").write_text("#!/bin/sh\necho v3.200.0\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    outcome = invoke(deps, "outputs", "dev", "--json")
    assert outcome.exit_code == ExitCode.PULUMI_CLI_MISSING, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "pulumi_cli_broken"
    assert "Permission denied" in error["message"]
    assert "chmod +x" in error["hint"]
