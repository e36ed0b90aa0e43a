"""Preflight checks against moto (mock_aws) and botocore's Stubber: credentials, then App Mesh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation.environment import load_environment
from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.preflight import (
    PreflightClients,
    check_aws_credentials,
    check_mesh_backend,
    make_clients,
)
from automation.verify.backends.appmesh import check_appmesh
from infra.config import StackConfig
from tests.support import PROJECT_DIR, clear_aws_environment

REGION = "us-east-1"


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    clear_aws_environment(monkeypatch, tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    clear_aws_environment(monkeypatch, tmp_path)
    # moto would otherwise put fake keys into the environment for the duration of the mock.
    with mock_aws(config={"core": {"mock_credentials": False}}):
        yield


def dev() -> StackConfig:
    config, _ = load_environment(PROJECT_DIR, "appmesh")
    return config


def failure_of(excinfo: pytest.ExceptionInfo[CrossmeshError]) -> Any:
    return excinfo.value.failure


@pytest.mark.usefixtures("credentials")
def test_credentials_present_pass_and_name_the_account() -> None:
    identity = check_aws_credentials(make_clients(REGION).sts)
    assert identity.account == "123456789012"
    assert identity.arn.startswith("arn:aws:")


@pytest.mark.usefixtures("no_credentials")
def test_no_credentials_is_exit_5_with_what_to_do() -> None:
    with pytest.raises(CrossmeshError) as excinfo:
        check_aws_credentials(make_clients(REGION).sts)
    failure = failure_of(excinfo)
    assert failure.code is ExitCode.AWS_CREDENTIALS
    assert failure.kind == "aws_credentials_missing"
    assert "no AWS credentials found" in failure.message
    assert "aws sso login" in failure.hint
    assert "configure-aws-credentials" in failure.hint


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException"])
def test_expired_credentials_are_told_apart(code: str) -> None:
    sts = make_clients(REGION).sts
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity",
            service_error_code=code,
            service_message="The security token included in the request is expired",
            http_status_code=403,
        )
        with pytest.raises(CrossmeshError) as excinfo:
            check_aws_credentials(sts)
    failure = failure_of(excinfo)
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, "aws_credentials_expired")
    assert "expired" in failure.message
    assert code in failure.message


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("InvalidClientTokenId", "aws_credentials_rejected"),
        ("SignatureDoesNotMatch", "aws_credentials_rejected"),
        ("Throttling", "aws_credentials_error"),
    ],
)
def test_other_sts_errors(code: str, kind: str) -> None:
    sts = make_clients(REGION).sts
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code=code, http_status_code=403)
        with pytest.raises(CrossmeshError) as excinfo:
            check_aws_credentials(sts)
    failure = failure_of(excinfo)
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, kind)
    assert code in failure.message


@pytest.mark.usefixtures("credentials")
def test_app_mesh_available_passes_against_moto() -> None:
    clients = make_clients(REGION)
    assert check_appmesh(clients.appmesh, env="dev", region=REGION) == 0
    boto3.client("appmesh", region_name=REGION).create_mesh(meshName="global")
    assert check_appmesh(clients.appmesh, env="dev", region=REGION) == 1
    assert check_mesh_backend(dev(), clients) is True


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 403), ("ForbiddenException", 403)],
)
def test_app_mesh_after_end_of_support_is_exit_6_with_the_way_out(code: str, status: int) -> None:
    appmesh = make_clients(REGION).appmesh
    with Stubber(appmesh) as stub:
        stub.add_client_error(
            "list_meshes",
            service_error_code=code,
            service_message="AWS App Mesh is no longer available to this account",
            http_status_code=status,
        )
        with pytest.raises(CrossmeshError) as excinfo:
            check_appmesh(appmesh, env="dev", region=REGION, today=date(2026, 11, 26))
    failure = failure_of(excinfo)
    assert failure.code is ExitCode.MESH_UNAVAILABLE
    assert "support ended on 2026-09-30" in failure.message
    assert code in failure.message
    assert "crossmesh:mesh" in failure.hint
    assert "VPC Lattice" in failure.hint
    assert "docs/migration.md" in failure.hint
    # no hint suggests flipping the backend of a deployed stack
    assert "config set" not in failure.hint


@pytest.mark.usefixtures("credentials")
def test_before_the_end_date_the_message_says_ends() -> None:
    appmesh = make_clients(REGION).appmesh
    with Stubber(appmesh) as stub:
        stub.add_client_error(
            "list_meshes", service_error_code="ServiceUnavailableException", http_status_code=503
        )
        with pytest.raises(CrossmeshError) as excinfo:
            check_appmesh(appmesh, env="dev", region=REGION, today=date(2026, 1, 1))
    failure = failure_of(excinfo)
    assert failure.code is ExitCode.MESH_UNAVAILABLE
    assert "support ends on 2026-09-30" in failure.message
    assert "ServiceUnavailableException" in failure.message


class _Refuses:
    """A client that fails the test if anything is called on it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} must not be called")


def test_the_app_mesh_check_runs_only_for_the_appmesh_backend() -> None:
    config = dev()
    # Only `appmesh` exists in the model today; model_copy skips validation, standing in for the
    # VPC Lattice backend to come.
    other = config.model_copy(update={"mesh": config.mesh.model_copy(update={"backend": "vpc-lattice"})})
    clients = PreflightClients(sts=_Refuses(), appmesh=_Refuses())
    assert check_mesh_backend(other, clients) is False
    with pytest.raises(AssertionError, match="list_meshes must not be called"):
        check_mesh_backend(config, clients)


@pytest.mark.usefixtures("credentials")
def test_lattice_backend_checks_vpc_lattice_not_app_mesh() -> None:
    import yaml

    from automation.preflight import check_mesh_backend
    from infra.config_parse import parse_stack_file
    from tests.support import PROJECT_DIR

    config = parse_stack_file(yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text()), "dev")
    clients = make_clients(REGION)
    with (
        Stubber(clients.lattice) as lattice,
        Stubber(clients.appmesh) as appmesh,
        Stubber(clients.ec2) as ec2,
    ):
        lattice.add_response("list_service_networks", {"items": []}, {"maxResults": 1})
        assert check_mesh_backend(config, clients) is True
        appmesh.assert_no_pending_responses()  # App Mesh was never called
        # verify and shift run this check too: the prefix list is read for deploy and preview only
        ec2.assert_no_pending_responses()
    with Stubber(clients.lattice) as lattice:
        lattice.add_client_error(
            "list_service_networks", service_error_code="AccessDeniedException", service_message="denied"
        )
        with pytest.raises(CrossmeshError) as excinfo:
            check_mesh_backend(config, clients)
    failure = failure_of(excinfo)
    assert failure.code is ExitCode.MESH_UNAVAILABLE
    assert (
        "VPC Lattice ListServiceNetworks failed in us-east-1 (AccessDeniedException: denied)"
        in failure.message
    )


def _lattice_prefix_list(ec2: Stubber, cidrs: list[str]) -> None:
    """EC2's answers for the region's Lattice prefix list, with the exact requests the check makes."""
    name = f"com.amazonaws.{REGION}.vpc-lattice"
    ec2.add_response(
        "describe_managed_prefix_lists",
        {"PrefixLists": [{"PrefixListId": "pl-0123456789abcdef0", "PrefixListName": name}]},
        {"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
    )
    ec2.add_response(
        "get_managed_prefix_list_entries",
        {"Entries": [{"Cidr": c} for c in cidrs]},
        {"PrefixListId": "pl-0123456789abcdef0"},
    )


@pytest.mark.usefixtures("credentials")
def test_a_lattice_range_the_network_policies_do_not_admit_stops_the_deploy() -> None:
    # The security group follows the prefix list; the NetworkPolicies admit fixed CIDRs. A range only
    # the first admits would let health checks through the group and drop them at the pod.
    from automation.verify.backends.lattice import LatticeChecks, check_lattice_prefix_list

    clients = make_clients(REGION)
    ec2 = clients.ec2
    with Stubber(ec2) as stub:  # the deploy's own checks read it
        _lattice_prefix_list(stub, ["169.254.171.0/24", "fd00:ec2:80::/64"])
        LatticeChecks().check_for_deploy(clients, region=REGION)
        stub.assert_no_pending_responses()
    with Stubber(ec2) as stub:
        _lattice_prefix_list(stub, ["169.254.171.0/24", "129.224.0.0/17"])
        with pytest.raises(CrossmeshError) as excinfo:
            check_lattice_prefix_list(ec2, region=REGION)
    failure = failure_of(excinfo)
    assert failure.code is ExitCode.MESH_UNAVAILABLE
    assert "VPC Lattice in us-east-1 connects to targets from 129.224.0.0/17" in failure.message
    assert "(169.254.171.0/24)" in failure.message
    assert "LATTICE_DATA_PLANE_CIDRS" in failure.hint
    with Stubber(ec2) as stub:
        _lattice_prefix_list(stub, ["169.254.171.0/25"])  # within what is admitted
        check_lattice_prefix_list(ec2, region=REGION)
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_managed_prefix_lists", "UnauthorizedOperation", "denied")
        with pytest.raises(CrossmeshError, match=r"could not be read \(UnauthorizedOperation: denied\)"):
            check_lattice_prefix_list(ec2, region=REGION)
    with Stubber(ec2) as stub:
        stub.add_response("describe_managed_prefix_lists", {"PrefixLists": []})
        with pytest.raises(
            CrossmeshError, match=r"no managed prefix list com\.amazonaws\.us-east-1\.vpc-lattice"
        ):
            check_lattice_prefix_list(ec2, region=REGION)
