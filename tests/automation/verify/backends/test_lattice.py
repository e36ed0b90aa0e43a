"""Verification with the VPC Lattice backend: Lattice checks against moto, pods without sidecars."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automation.verify.backends.lattice import lattice_checks, probe_service, probe_vpc_association
from automation.verify.kube import evaluate_pods
from automation.verify.poll import PollSettings

REGION = "us-east-1"
NETWORK = "crossmesh-lattice"
HOST = "colorapp.appmesh-demo.pvt.aws.local"


@pytest.fixture
def lattice() -> Iterator[Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("vpc-lattice", region_name=REGION)


def build(client: Any, *, associate_vpc: bool = True, domain: str = HOST, join: bool = True) -> None:
    network = client.create_service_network(name=NETWORK)
    if associate_vpc:
        vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="172.17.0.0/16")["Vpc"]["VpcId"]
        client.create_service_network_vpc_association(
            serviceNetworkIdentifier=network["id"], vpcIdentifier=vpc
        )
    service = client.create_service(name="colorapp-appmesh-demo", customDomainName=domain)
    if join:
        client.create_service_network_service_association(
            serviceNetworkIdentifier=network["id"], serviceIdentifier=service["id"]
        )


def test_healthy_lattice_setup_passes(lattice: Any) -> None:
    build(lattice)
    assert probe_vpc_association(lattice, network=NETWORK).ok
    service = probe_service(lattice, network=NETWORK, host=HOST)
    assert service.ok, service.detail
    assert service.detail == f"Lattice service colorapp-appmesh-demo serves {HOST} in {NETWORK}"


def test_missing_network_fails(lattice: Any) -> None:
    probe = probe_vpc_association(lattice, network=NETWORK)
    assert not probe.ok
    assert probe.detail == f"service network {NETWORK} not found"


def test_network_without_vpc_association_fails(lattice: Any) -> None:
    build(lattice, associate_vpc=False)
    probe = probe_vpc_association(lattice, network=NETWORK)
    assert not probe.ok
    assert probe.detail == f"service network {NETWORK} has no VPC association"


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
