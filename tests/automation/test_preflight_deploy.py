"""Account-side preflight of deploy and preview, against moto (EKS, IAM, ECR, Logs, Cloud Map have the
calls used here); the endpoint probe is injected (tests/infra/test_endpoint.py runs the real one)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.retries import standard
from botocore.stub import Stubber
from moto import mock_aws

from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.preflight import (
    THROTTLING_CODES,
    CallerIdentity,
    PreflightClients,
    check_for_deploy,
    describe_clusters,
)
from infra.config_parse import parse_stack_file
from infra.endpoint import Endpoint
from tests.support import stack_document, variant

REGION = "us-east-1"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})
CALLER = CallerIdentity(account="123456789012", arn="arn:aws:sts::123456789012:assumed-role/ci-deploy/run-1")


def _tags(env: str) -> list[dict[str, str]]:
    return [{"Key": "project", "Value": "crossmesh"}, {"Key": "environment", "Value": env}]


@pytest.fixture
def clients() -> Iterator[PreflightClients]:
    with mock_aws():
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        yield PreflightClients(
            sts=session.client("sts"),
            appmesh=None,
            eks=session.client("eks"),
            iam=session.client("iam"),
            ecr=session.client("ecr"),
            logs=session.client("logs"),
            servicediscovery=session.client("servicediscovery"),
        )


def _never(_: Endpoint) -> str | None:
    raise AssertionError("no endpoint should be probed")


def _config(env: str = "dev", change: object = None):
    document = variant(env, change) if callable(change) else stack_document(env)
    return parse_stack_file(document, env)


def _cluster(clients: PreflightClients, name: str, env: str, version: str = "1.34") -> None:
    role = clients.iam.create_role(RoleName=f"cluster-{name}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    clients.eks.create_cluster(
        name=name,
        version=version,
        roleArn=role,
        resourcesVpcConfig={"subnetIds": []},
        tags={t["Key"]: t["Value"] for t in _tags(env)},
    )


def test_a_first_deploy_in_an_empty_account_passes_without_probing(clients: PreflightClients) -> None:
    assert check_for_deploy(_config(), CALLER, clients, probe=_never) == []


def test_a_name_another_stack_owns_is_refused_naming_it_and_its_owner(clients: PreflightClients) -> None:
    clients.iam.create_role(
        RoleName="crossmesh-dev-eksc1-nodes", AssumeRolePolicyDocument=TRUST, Tags=_tags("dev-old")
    )
    clients.ecr.create_repository(repositoryName="crossmesh-dev/front")  # no crossmesh tags at all
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config(), CALLER, clients, probe=_never)
    failure = caught.value.failure
    assert failure.code is ExitCode.NAME_TAKEN
    assert "IAM role crossmesh-dev-eksc1-nodes: owned by stack dev-old" in failure.message
    assert "ECR repository crossmesh-dev/front: owned by something not made by crossmesh" in failure.message


def test_an_eks_cluster_of_another_stack_and_a_log_group_are_found(clients: PreflightClients) -> None:
    _cluster(clients, "eksc2-dev", "lattice")
    clients.logs.create_log_group(logGroupName="/aws/eks/eksc1-dev/cluster", tags={"environment": "other"})
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config(), CALLER, clients, probe=_never)
    assert "EKS cluster eksc2-dev: owned by stack lattice" in caught.value.failure.message
    assert "log group /aws/eks/eksc1-dev/cluster: owned by something not made by crossmesh" in (
        caught.value.failure.message
    )


def test_an_update_probes_each_of_its_clusters_and_refuses_when_one_does_not_answer(
    clients: PreflightClients,
) -> None:
    _cluster(clients, "eksc1-dev", "dev")
    _cluster(clients, "eksc2-dev", "dev")
    existing = describe_clusters(clients.eks, ["eksc1-dev", "eksc2-dev", "eksc3-dev"])
    assert sorted(existing) == ["eksc1-dev", "eksc2-dev"]
    probed: list[str] = []

    def probe(endpoint: Endpoint) -> str | None:
        # moto gives every cluster the same endpoint: the second probe (eksc2-dev, sorted) fails.
        probed.append(endpoint.url)
        return None if len(probed) == 1 else "did not answer within 5 s"

    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config(), CALLER, clients, probe=probe)
    assert len(probed) == 2
    failure = caught.value.failure
    assert failure.code is ExitCode.ENDPOINT_UNREACHABLE
    assert "eksc2-dev" in failure.message
    assert "eksc1-dev" not in failure.message
    assert "VPN" in failure.hint
    assert check_for_deploy(_config(), CALLER, clients, probe=lambda _: None) == []


def _stack_version(version: str) -> Callable[[dict[str, Any]], None]:
    """Sets the stack-wide version, so a test does not depend on the one dev's file holds."""
    return lambda c: c.__setitem__("crossmesh:kubernetesVersion", version)


# The EKS user guide, update-cluster.html: "you can update only one minor version at a time", and
# "Once you upgrade a cluster, you can't downgrade to a previous version".
@pytest.mark.parametrize(
    ("running", "expected"),
    [
        ("1.32", "EKS updates a cluster one minor version at a time; expected 1.33 first"),
        ("1.35", "EKS cannot downgrade a cluster; expected 1.35 or later"),
    ],
)
def test_an_update_eks_cannot_make_to_a_clusters_version_is_refused_before_pulumi(
    clients: PreflightClients, running: str, expected: str
) -> None:
    _cluster(clients, "eksc1-dev", "dev", version="1.34")
    _cluster(clients, "eksc2-dev", "dev", version=running)
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config("dev", _stack_version("1.34")), CALLER, clients, probe=_never)
    failure = caught.value.failure
    assert (failure.code, failure.kind) == (ExitCode.BAD_INPUT, "version_step_refused")
    assert (
        failure.message
        == f"crossmesh:kubernetesVersion: got '1.34'; cluster eksc2-dev runs Kubernetes {running} and {expected}"
        + (" (deploy it, then 1.34)" if running == "1.32" else "")
    )
    assert "eksc1-dev" not in failure.message


def test_a_clusters_own_version_one_minor_ahead_passes_and_two_ahead_is_refused_on_its_key(
    clients: PreflightClients,
) -> None:
    _cluster(clients, "eksc1-dev", "dev", version="1.33")
    _cluster(clients, "eksc2-dev", "dev", version="1.33")

    def first_cluster_at(version: str) -> object:
        def change(c: dict[str, Any]) -> None:
            _stack_version("1.34")(c)
            c["crossmesh:clusters"][0].update(kubernetesVersion=version)

        return change

    assert (
        check_for_deploy(_config("dev", first_cluster_at("1.33")), CALLER, clients, probe=lambda _: None)
        == []
    )
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config("dev", first_cluster_at("1.35")), CALLER, clients, probe=_never)
    assert caught.value.failure.message.startswith(
        "crossmesh:clusters[0].kubernetesVersion: got '1.35'; cluster eksc1-dev runs Kubernetes 1.33"
    )


def test_the_creating_role_listed_as_an_operator_is_refused_on_a_first_deploy(
    clients: PreflightClients,
) -> None:
    arn = clients.iam.create_role(RoleName="ci-deploy", Path="/automation/", AssumeRolePolicyDocument=TRUST)[
        "Role"
    ]["Arn"]
    assert arn == "arn:aws:iam::123456789012:role/automation/ci-deploy"
    # Listed without its path, as people copy it from the assumed-role ARN: still the same role.
    config = _config(
        "dev", lambda c: c.__setitem__("crossmesh:operators", ["arn:aws:iam::123456789012:role/ci-deploy"])
    )
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(config, CALLER, clients, probe=_never)
    assert caught.value.failure.code is ExitCode.BAD_INPUT
    assert caught.value.failure.kind == "creator_is_operator"
    laptop = CallerIdentity("123456789012", "arn:aws:sts::123456789012:assumed-role/laptop/me")
    clients.iam.create_role(RoleName="laptop", AssumeRolePolicyDocument=TRUST)
    assert check_for_deploy(config, laptop, clients, probe=_never) == []


def test_a_cloud_map_namespace_of_the_same_name_refused_for_appmesh_noted_for_lattice(
    clients: PreflightClients,
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="172.17.0.0/16")["Vpc"]["VpcId"]
    clients.servicediscovery.create_private_dns_namespace(
        Name="appmesh-demo.pvt.aws.local", Vpc=vpc, Tags=_tags("other")
    )
    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config("appmesh"), CALLER, clients, probe=_never)
    assert caught.value.failure.code is ExitCode.NAME_TAKEN
    assert "Cloud Map namespace appmesh-demo.pvt.aws.local" in caught.value.failure.message
    notes = check_for_deploy(_config("dev"), CALLER, clients, probe=_never)
    assert notes == [
        "Cloud Map namespace appmesh-demo.pvt.aws.local also exists for stack other (allowed: another VPC, DNS only)"
    ]


def test_a_read_the_role_may_not_make_stops_with_exit_5_naming_the_call(clients: PreflightClients) -> None:
    # A deploying role without iam:ListRoleTags: IAM refuses the first role the names check reads.
    with Stubber(clients.iam) as iam:
        iam.add_client_error(
            "list_role_tags",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:sts::123456789012:assumed-role/ci-deploy/run-1 is not "
            "authorized to perform: iam:ListRoleTags",
            http_status_code=403,
            expected_params={"RoleName": "crossmesh-dev-vpc-flow-logs"},
        )
        with pytest.raises(CrossmeshError) as caught:
            check_for_deploy(_config(), CALLER, clients, probe=_never)
    failure = caught.value.failure
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, "aws_check_failed")
    assert failure.message == (
        "the checks before deploying could not read the account: ListRoleTags failed (AccessDenied: User: "
        "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-1 is not authorized to perform: "
        "iam:ListRoleTags)"
    )
    assert "iam:ListRoleTags" in failure.hint
    assert failure.hint.endswith("Nothing was changed.")


def test_throttling_past_botocores_retries_says_to_wait_not_to_check_the_network(
    clients: PreflightClients,
) -> None:
    with Stubber(clients.iam) as iam:
        iam.add_client_error(
            "list_role_tags",
            service_error_code="Throttling",
            service_message="Rate exceeded",
            http_status_code=400,
        )
        with pytest.raises(CrossmeshError) as caught:
            check_for_deploy(_config(), CALLER, clients, probe=_never)
    failure = caught.value.failure
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, "aws_check_failed")
    assert "ListRoleTags failed (Throttling: Rate exceeded)" in failure.message
    assert failure.hint.startswith("AWS throttled the account's API calls")
    assert "HTTPS_PROXY" not in failure.hint


def test_the_throttling_codes_are_botocores() -> None:
    assert set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == THROTTLING_CODES


def test_an_aws_endpoint_that_does_not_answer_stops_with_exit_5(clients: PreflightClients) -> None:
    class Unreachable:
        def describe_cluster(self, name: str) -> object:
            raise EndpointConnectionError(endpoint_url="https://eks.us-east-1.amazonaws.com/")

    with pytest.raises(CrossmeshError) as caught:
        check_for_deploy(_config(), CALLER, replace(clients, eks=Unreachable()), probe=_never)
    failure = caught.value.failure
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, "aws_check_failed")
    assert failure.message == (
        "the checks before deploying could not read the account: an AWS call did not complete "
        '(EndpointConnectionError: Could not connect to the endpoint URL: "https://eks.us-east-1.amazonaws.com/")'
    )
    assert "HTTPS_PROXY" in failure.hint
