"""SharedVpc as AWS will receive it: subnets, tags, routes, NAT and flow logs."""

from __future__ import annotations

import json

from automation.recorder import Recording
from tests.support import inputs, record_document, record_env, variant

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
NAT = "aws:ec2/natGateway:NatGateway"


def subnets(recording: Recording) -> dict[str, dict[str, object]]:
    return {r.name: dict(r.inputs) for r in recording.of_type(SUBNET)}


def test_vpc_has_dns_for_eks_and_cloud_map() -> None:
    vpc = inputs(record_env("dev"), "aws:ec2/vpc:Vpc", "network-vpc")
    assert vpc["cidrBlock"] == "172.16.0.0/16"
    assert vpc["enableDnsSupport"] is True
    assert vpc["enableDnsHostnames"] is True


def test_dev_subnets_cidrs_azs_and_tags() -> None:
    found = subnets(record_env("dev"))
    assert {name: (s["cidrBlock"], s["availabilityZone"]) for name, s in found.items()} == {
        "network-private-us-east-1a": ("172.16.0.0/19", "us-east-1a"),
        "network-private-us-east-1b": ("172.16.32.0/19", "us-east-1b"),
        "network-public-us-east-1a": ("172.16.64.0/24", "us-east-1a"),
        "network-public-us-east-1b": ("172.16.65.0/24", "us-east-1b"),
    }
    for name, subnet in found.items():
        tags = subnet["tags"]
        assert isinstance(tags, dict)
        assert tags["kubernetes.io/cluster/eksc1-dev"] == "shared"
        assert tags["kubernetes.io/cluster/eksc2-dev"] == "shared"
        role = "kubernetes.io/role/elb" if "public" in name else "kubernetes.io/role/internal-elb"
        assert tags[role] == "1"
        assert subnet["mapPublicIpOnLaunch"] is False


def test_private_subnets_route_through_the_single_dev_nat() -> None:
    recording = record_env("dev")
    assert [r.name for r in recording.of_type(NAT)] == ["network-nat-us-east-1a"]
    assert inputs(recording, NAT, "network-nat-us-east-1a")["subnetId"] == "<network-public-us-east-1a.id>"
    for az in ("us-east-1a", "us-east-1b"):
        table = inputs(recording, ROUTE_TABLE, f"network-private-{az}")
        assert table["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "<network-nat-us-east-1a.id>"}]
    public = inputs(recording, ROUTE_TABLE, "network-public")
    assert public["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "<network-igw.id>"}]


def test_staging_has_three_azs_and_a_nat_per_az() -> None:
    recording = record_env("staging")
    assert sorted(r.name for r in recording.of_type(NAT)) == [
        "network-nat-us-east-1a",
        "network-nat-us-east-1b",
        "network-nat-us-east-1c",
    ]
    for az in ("us-east-1a", "us-east-1b", "us-east-1c"):
        table = inputs(recording, ROUTE_TABLE, f"network-private-{az}")
        assert table["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"<network-nat-{az}.id>"}]
    assert len(recording.of_type(SUBNET)) == 6


def test_default_security_group_is_emptied() -> None:
    sg = inputs(record_env("dev"), "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg")
    assert "ingress" not in sg
    assert "egress" not in sg


def test_flow_logs_deliver_to_their_own_group_with_a_scoped_role() -> None:
    recording = record_env("dev")
    flow = inputs(recording, "aws:ec2/flowLog:FlowLog", "network-flow-logs")
    assert flow["trafficType"] == "ALL"
    assert flow["logDestinationType"] == "cloud-watch-logs"
    assert (
        flow["logDestination"] == "arn:aws:logs:us-east-1:123456789012:log-group:/crossmesh/dev/vpc-flow-logs"
    )
    role = inputs(recording, "aws:iam/role:Role", "network-flow-logs")
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": ["vpc-flow-logs.amazonaws.com"]
    }
    policy = json.loads(inputs(recording, "aws:iam/rolePolicy:RolePolicy", "network-flow-logs")["policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/crossmesh/dev/vpc-flow-logs",
        "arn:aws:logs:us-east-1:123456789012:log-group:/crossmesh/dev/vpc-flow-logs:*",
    ]
    group = inputs(recording, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group["retentionInDays"] == 30


def test_flow_logs_are_encrypted_with_a_key_only_their_group_may_use() -> None:
    recording = record_env("dev")
    group = inputs(recording, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/<network-flow-logs-key.keyId>"
    key = inputs(recording, "aws:kms/key:Key", "network-flow-logs-key")
    assert key["enableKeyRotation"] is True
    policy = json.loads(key["policy"])
    logs = {s["Sid"]: s for s in policy["Statement"]}["CloudWatchLogsForTheseGroupsOnly"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                "arn:aws:logs:us-east-1:123456789012:log-group:/crossmesh/dev/vpc-flow-logs"
            ]
        }
    }
    alias = inputs(recording, "aws:kms/alias:Alias", "network-flow-logs-key")
    assert alias["name"] == "alias/crossmesh-dev-vpc-flow-logs"


def test_flow_logs_can_be_turned_off() -> None:
    recording = record_document(variant("dev", lambda c: c["crossmesh:network"].update(flowLogs=False)))
    assert recording.of_type("aws:ec2/flowLog:FlowLog") == []


def test_explicit_availability_zones_are_used_in_order() -> None:
    recording = record_document(
        variant(
            "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1c", "us-east-1d"])
        )
    )
    assert sorted((s["availabilityZone"], s["cidrBlock"]) for s in subnets(recording).values()) == [
        ("us-east-1c", "172.16.0.0/19"),
        ("us-east-1c", "172.16.64.0/24"),
        ("us-east-1d", "172.16.32.0/19"),
        ("us-east-1d", "172.16.65.0/24"),
    ]


def test_unavailable_zone_stops_the_program_before_the_network() -> None:
    import pulumi
    import pytest

    document = variant(
        "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1a", "us-east-1z"])
    )
    with pytest.raises(
        pulumi.RunError, match=r"crossmesh:network.availabilityZones: us-east-1z not available here"
    ):
        record_document(document)
