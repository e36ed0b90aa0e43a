"""The CLI's preflight against moto (mock_aws) and botocore's Stubber: exit codes 5 and 6, and that
nothing reaches Pulumi after a failed check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

import automation.cli as cli
import infra.config
from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.preflight import PreflightClients, make_clients
from automation.session import Dependencies
from automation.stack import StackRequest
from tests.support import clear_aws_environment

# Stands in for Pulumi: reaching it proves every preflight check passed.
REACHED_PULUMI = Failure(ExitCode.NOT_DEPLOYED, "reached_pulumi", "the stack factory was reached")


@dataclass
class Opened:
    """The session's dependencies: the real preflight clients (boto3, under moto), and a stack factory
    that records each request and stops there."""

    tmp_path: Path
    requests: list[StackRequest] = field(default_factory=list[StackRequest])
    preflight_clients: Callable[[str], PreflightClients] = make_clients
    today: date = date(2026, 12, 8)

    def factory(self, request: StackRequest) -> Any:
        self.requests.append(request)
        raise CrossmeshError(REACHED_PULUMI)

    def run(self, *args: str) -> tuple[int, dict[str, object], str]:
        deps = Dependencies(
            stack_factory=self.factory,
            preflight_clients=self.preflight_clients,
            leak_check=lambda config: None,
            machine_check=lambda config, install_cli: [],
            log_dir=self.tmp_path / "logs",
            today=lambda: self.today,
        )
        outcome = CliRunner().invoke(cli.app, [*args, "--json"], obj=deps)
        return outcome.exit_code, json.loads(outcome.stdout.strip().splitlines()[-1]), outcome.stderr


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Opened:

    clear_aws_environment(monkeypatch, tmp_path)
    return Opened(tmp_path)


@pytest.fixture
def with_credentials(monkeypatch: pytest.MonkeyPatch, opened: Opened) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


@pytest.mark.usefixtures("with_credentials")
def test_credentials_present_and_app_mesh_answering_pass_on_to_pulumi(opened: Opened) -> None:
    code, document, stderr = opened.run("preview", "dev")
    assert code == ExitCode.NOT_DEPLOYED
    assert document["error"] == REACHED_PULUMI.to_dict() | {"exit_code": 9}
    assert [r.env for r in opened.requests] == ["dev"]
    assert "AWS account 123456789012" in stderr


# EKS bills extended support from the end-of-standard-support date of the release calendar
# (kubernetes-versions.html#kubernetes-release-calendar); dev runs 1.35, whose standard support ends on
# 2027-03-27.
@pytest.mark.usefixtures("with_credentials")
@pytest.mark.parametrize("command", [("preview", "dev"), ("deploy", "dev", "--yes")])
def test_deploy_and_preview_warn_of_the_extended_support_charge(
    opened: Opened, command: tuple[str, ...]
) -> None:
    opened.today = date(2027, 3, 26)
    _, _, before = opened.run(*command)
    assert "extended support" not in before
    opened.today = date(2027, 3, 27)
    _, _, stderr = opened.run(*command)
    flat = " ".join(stderr.split())
    assert "warning: Kubernetes 1.35 left EKS standard support on 2027-03-27: clusters eksc1, eksc2" in flat
    assert "billed per cluster hour" in flat


# "On the end of extended support date, you can no longer create new Amazon EKS clusters with the
# unsupported version" (kubernetes-versions.html): dev's 1.35 leaves EKS on 2028-03-27.
@pytest.mark.parametrize("command", [("preview", "dev"), ("deploy", "dev", "--yes")])
def test_deploy_and_preview_refuse_a_version_that_has_left_eks_before_any_aws_call(
    opened: Opened, command: tuple[str, ...]
) -> None:
    opened.today = date(2028, 3, 27)
    # No credentials and no moto: an AWS call would fail differently (exit 5).
    code, document, _ = opened.run(*command)
    assert code == ExitCode.BAD_INPUT
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "bad_input"
    assert "crossmesh:kubernetesVersion: got '1.35'; Kubernetes 1.35 left Amazon EKS on 2028-03-27" in str(
        error["message"]
    )
    assert opened.requests == []


def test_destroy_of_a_stack_whose_version_has_left_eks_goes_on_to_its_checks(
    opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack file is read, and the run goes on to the AWS checks (here: no credentials, exit 5).
    opened.today = date(2028, 3, 27)
    monkeypatch.setattr(infra.config, "utc_today", lambda: date(2028, 3, 27))
    code, document, _ = opened.run("destroy", "dev", "--yes")
    assert code == ExitCode.AWS_CREDENTIALS, document


def test_no_credentials_is_exit_5_and_pulumi_is_never_reached(opened: Opened) -> None:
    with mock_aws(config={"core": {"mock_credentials": False}}):
        code, document, stderr = opened.run("deploy", "dev", "--yes")
    assert code == ExitCode.AWS_CREDENTIALS == 5
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "aws_credentials_missing"
    assert "no AWS credentials found" in stderr
    assert opened.requests == []


@pytest.mark.usefixtures("with_credentials")
def test_app_mesh_refused_after_end_of_support_is_exit_6(
    opened: Opened,
) -> None:
    clients = make_clients("us-east-1")
    opened.preflight_clients = lambda region: PreflightClients(clients.sts, clients.appmesh)
    with Stubber(clients.appmesh) as stub:
        stub.add_client_error(
            "list_meshes",
            service_error_code="AccessDeniedException",
            service_message="App Mesh is not available to this account",
            http_status_code=403,
        )
        code, document, stderr = opened.run("deploy", "appmesh", "--yes")
        # refused before any AWS call: the stubbed answer is never asked for
        assert stub._queue  # pyright: ignore[reportPrivateUsage]  # Stubber keeps unused responses here
    assert code == ExitCode.MESH_UNAVAILABLE == 6
    assert "AWS App Mesh ended on 2026-09-30" in stderr
    assert "docs/migration.md" in stderr
    assert "VPC Lattice" in stderr
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "mesh_unavailable"
    assert opened.requests == []


@pytest.mark.usefixtures("with_credentials")
def test_app_mesh_refused_does_not_block_destroy(
    opened: Opened,
) -> None:
    clients = make_clients("us-east-1")
    opened.preflight_clients = lambda region: PreflightClients(clients.sts, clients.appmesh)
    with Stubber(clients.appmesh) as stub:
        stub.add_client_error("list_meshes", service_error_code="ForbiddenException", http_status_code=403)
        code, _, stderr = opened.run("destroy", "appmesh", "--yes")
    assert code == ExitCode.NOT_DEPLOYED  # went on to Pulumi
    assert "warning: App Mesh is not available" in stderr
    assert [r.create for r in opened.requests] == [False]
