"""Verification with the VPC Lattice backend: Lattice checks against moto (and a botocore Stubber for
GetServiceNetworkVpcAssociation, which moto 5.2.5 lacks; each test says which), pods without sidecars."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation.verify.backends.lattice import CHECKS, lattice_checks, probe_service, probe_vpc_association
from automation.verify.kube import evaluate_pods
from automation.verify.poll import PollSettings
from infra.config_parse import parse_stack_file
from tests.automation.verify.backends.lattice_stubs import Split, stubbed_lattice
from tests.support import stack_document

REGION = "us-east-1"
NETWORK = "crossmesh-lattice"
HOST = "colorapp.appmesh-demo.pvt.aws.local"


@pytest.fixture
def lattice() -> Iterator[Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("vpc-lattice", region_name=REGION)


def build(client: Any, *, associate_vpc: bool = True, domain: str = HOST, join: bool = True) -> str | None:
    """The network, a VPC associated with it, and the service joined to it, in moto; returns the
    association's id."""
    network = client.create_service_network(name=NETWORK)
    association: str | None = None
    if associate_vpc:
        association = client.create_service_network_vpc_association(
            serviceNetworkIdentifier=network["id"], vpcIdentifier=new_vpc()
        )["id"]
    service = client.create_service(name="colorapp-appmesh-demo", customDomainName=domain)
    if join:
        client.create_service_network_service_association(
            serviceNetworkIdentifier=network["id"], serviceIdentifier=service["id"]
        )
    return association


def new_vpc(cidr: str = "172.17.0.0/16") -> str:
    return boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def with_get_association(moto: Any, *answers: tuple[str, dict[str, Any] | str]) -> tuple[Any, Stubber]:
    """moto's client, with GetServiceNetworkVpcAssociation answered by a Stubber: per association id,
    its answer (a dict) or an error code (a str), in the order the probe asks."""
    client, stub = stubbed_lattice()
    for association, answer in answers:
        params = {"serviceNetworkVpcAssociationIdentifier": association}
        if isinstance(answer, str):
            stub.add_client_error(
                "get_service_network_vpc_association", answer, "not allowed", 403, expected_params=params
            )
        else:
            stub.add_response("get_service_network_vpc_association", {"id": association, **answer}, params)
    return Split(moto, client, {"get_service_network_vpc_association"}), stub


def test_healthy_lattice_setup_passes(lattice: Any) -> None:
    """moto (network, VPC, association, service, ListServiceNetworkVpcAssociations) + Stubber
    (GetServiceNetworkVpcAssociation answers ACTIVE)."""
    association = build(lattice)
    assert association is not None
    network = lattice.list_service_networks()["items"][0]["id"]
    vpc = lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=network)["items"][0]["vpcId"]
    client, stub = with_get_association(lattice, (association, {"status": "ACTIVE", "vpcId": vpc}))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK, vpc_id=vpc)
    assert probe.ok, probe.detail
    assert probe.detail == f"service network {NETWORK} is associated with {vpc} (ACTIVE)"
    stub.assert_no_pending_responses()
    service = probe_service(lattice, network=NETWORK, host=HOST)
    assert service.ok, service.detail
    assert service.detail == f"Lattice service colorapp-appmesh-demo serves {HOST} in {NETWORK}"


def test_missing_network_fails(lattice: Any) -> None:
    """moto only: ListServiceNetworks finds no network."""
    probe = probe_vpc_association(lattice, network=NETWORK)
    assert not probe.ok
    assert probe.detail == f"service network {NETWORK} not found"


def test_network_without_vpc_association_fails(lattice: Any) -> None:
    """moto only: ListServiceNetworkVpcAssociations answers none; no Get is made."""
    build(lattice, associate_vpc=False)
    probe = probe_vpc_association(lattice, network=NETWORK)
    assert not probe.ok
    assert probe.detail == f"service network {NETWORK} has no VPC association"


def test_only_the_association_of_the_stacks_vpc_is_read_and_judged(lattice: Any) -> None:
    """moto (network, two VPCs both associated, ListServiceNetworkVpcAssociations with vpcIdentifier) +
    Stubber (GetServiceNetworkVpcAssociation, expecting exactly the stack VPC's association id)."""
    ours = build(lattice)
    network = lattice.list_service_networks()["items"][0]["id"]
    other = lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=network, vpcIdentifier=new_vpc("10.9.0.0/16")
    )["id"]
    items = lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=network)["items"]
    vpc = next(i["vpcId"] for i in items if i["id"] == ours)
    assert ours is not None
    assert other != ours
    client, stub = with_get_association(lattice, (ours, {"status": "ACTIVE", "vpcId": vpc}))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK, vpc_id=vpc)
    assert probe.ok, probe.detail
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"])
def test_an_association_in_progress_is_waited_for(lattice: Any, status: str) -> None:
    """moto (network, VPC, association, List) + Stubber (GetServiceNetworkVpcAssociation: in progress)."""
    association = build(lattice)
    client, stub = with_get_association(lattice, (str(association), {"status": status, "vpcId": "vpc-1"}))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK)
    assert not probe.ok
    assert not probe.terminal
    assert probe.detail == f"service network {NETWORK} association with vpc-1 is {status}"


@pytest.mark.parametrize("status", ["CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "DELETE_IN_PROGRESS"])
def test_a_failed_or_leaving_association_is_terminal_with_aws_reason(lattice: Any, status: str) -> None:
    """moto (network, VPC, association, List) + Stubber (GetServiceNetworkVpcAssociation answers a
    failure with failureCode/failureMessage, the fields its API reference names)."""
    association = build(lattice)
    answer = {
        "status": status,
        "vpcId": "vpc-1",
        "failureCode": "ExampleFailureCode",
        "failureMessage": "the VPC is associated with another service network",
    }
    client, stub = with_get_association(lattice, (str(association), answer))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK)
    assert not probe.ok
    assert probe.terminal
    assert probe.detail == (
        f"service network {NETWORK} association with vpc-1 is {status} (ExampleFailureCode: "
        "the VPC is associated with another service network)"
    )


def test_get_association_access_denied_is_not_retried(lattice: Any) -> None:
    """moto (network, VPC, association, List) + Stubber (GetServiceNetworkVpcAssociation: AccessDenied)."""
    association = build(lattice)
    client, stub = with_get_association(lattice, (str(association), "AccessDeniedException"))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK)
    assert not probe.ok
    assert probe.terminal
    assert probe.detail == "GetServiceNetworkVpcAssociation failed: AccessDeniedException: not allowed"


def test_without_a_vpc_id_every_association_is_judged(lattice: Any) -> None:
    """moto (network, two VPCs associated, List) + Stubber (GetServiceNetworkVpcAssociation: one ACTIVE,
    one UPDATE_FAILED without a failure code): the failed one fails the check."""
    first = build(lattice)
    network = lattice.list_service_networks()["items"][0]["id"]
    second = lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=network, vpcIdentifier=new_vpc("10.9.0.0/16")
    )["id"]
    order = [
        i["id"]
        for i in lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=network)["items"]
    ]
    answers = {
        str(first): {"status": "ACTIVE", "vpcId": "vpc-1"},
        second: {"status": "UPDATE_FAILED", "vpcId": "vpc-2"},
    }
    client, stub = with_get_association(lattice, *((a, answers[a]) for a in order))
    with stub:
        probe = probe_vpc_association(client, network=NETWORK)
    assert not probe.ok
    assert probe.terminal
    assert probe.detail == f"service network {NETWORK} association with vpc-2 is UPDATE_FAILED"
    stub.assert_no_pending_responses()


def test_no_association_with_the_stacks_vpc_fails(lattice: Any) -> None:
    """moto only: the network is associated with another VPC; no Get is made."""
    build(lattice)
    probe = probe_vpc_association(lattice, network=NETWORK, vpc_id="vpc-0123456789abcdef0")
    assert not probe.ok
    assert not probe.terminal
    assert probe.detail == f"service network {NETWORK} has no VPC association with vpc-0123456789abcdef0"


def test_service_with_another_domain_is_not_ours(lattice: Any) -> None:
    build(lattice, domain="other.example.local")
    probe = probe_service(lattice, network=NETWORK, host=HOST)
    assert not probe.ok
    assert "no Lattice service has the custom domain" in probe.detail


def test_service_outside_the_network_fails(lattice: Any) -> None:
    build(lattice, join=False)
    probe = probe_service(lattice, network=NETWORK, host=HOST)
    assert not probe.ok
    assert probe.detail == f"Lattice service colorapp-appmesh-demo is not ACTIVE in service network {NETWORK}"


def test_checks_are_named_and_polled_until_the_deadline(lattice: Any) -> None:
    now = [0.0]
    settings = PollSettings.starting_now(
        3,
        initial_backoff_s=1,
        max_backoff_s=1,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    results = lattice_checks(client=lattice, network=NETWORK, host=HOST, settings=settings)
    assert [r.name for r in results] == [f"lattice service network {NETWORK}", f"lattice service {HOST}"]
    assert not any(r.ok for r in results)
    assert now[0] >= 3  # it waited for the controllers, within the deadline


def _pod(containers: list[str], *, gate: bool) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True"}]
    if gate:
        conditions.append({"type": "conditions.appmesh.k8s.aws/aws-cloudmap-healthy", "status": "True"})
    return {
        "metadata": {"name": "colorapp-blue-1"},
        "spec": {"containers": [{"name": c} for c in containers]},
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "container_statuses": [{"name": c, "ready": True} for c in containers],
        },
    }


def test_pods_without_sidecars_pass_only_when_sidecars_are_not_expected() -> None:
    pods = [_pod(["colorapp"], gate=False)]
    assert evaluate_pods(pods, selector="app=colorapp", require_xray=False, sidecars=False).ok
    app_mesh = evaluate_pods(pods, selector="app=colorapp", require_xray=False)
    assert not app_mesh.ok
    assert "no envoy container (sidecar not injected)" in app_mesh.detail


def test_not_ready_pod_still_fails_without_sidecars() -> None:
    pod = _pod(["colorapp"], gate=False)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    probe = evaluate_pods([pod], selector="app=colorapp", require_xray=False, sidecars=False)
    assert not probe.ok
    assert "Ready=False" in probe.detail


def test_the_name_check_reads_every_page_of_service_networks() -> None:
    """ListServiceNetworks pages (nextToken); a network of the stack's name on page two is as taken."""
    config = parse_stack_file(stack_document("dev"), "dev")
    arn = "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn-2"
    pages = {
        None: {"items": [{"name": f"other-{i}", "arn": f"arn-{i}"} for i in range(10)], "nextToken": "t2"},
        "t2": {"items": [{"name": config.service_network_name, "arn": arn}]},
    }
    asked: list[str | None] = []

    class Lattice:
        def list_service_networks(self, **kwargs: Any) -> dict[str, Any]:
            asked.append(kwargs.get("nextToken"))
            return pages[kwargs.get("nextToken")]

        def list_tags_for_resource(self, *, resourceArn: str) -> dict[str, Any]:
            assert resourceArn == arn
            return {"tags": {"project": "crossmesh", "environment": "old"}}

    found = CHECKS.existing_names(config, SimpleNamespace(lattice=Lattice()))
    assert asked == [None, "t2"]
    assert found == [
        (
            "VPC Lattice service network",
            config.service_network_name,
            {"project": "crossmesh", "environment": "old"},
        )
    ]
