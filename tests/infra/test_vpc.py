"""SharedVpc as AWS will receive it: subnets, tags, routes, NAT and flow logs."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert {name: (s["cidrBlock"], s["availabilityZoneId"]) for name, s in found.items()} == {
        "network-private-use1-az1": ("172.16.0.0/19", "use1-az1"),
        "network-private-use1-az2": ("172.16.32.0/19", "use1-az2"),
        "network-public-use1-az1": ("172.16.64.0/24", "use1-az1"),
        "network-public-use1-az2": ("172.16.65.0/24", "use1-az2"),
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
    assert [r.name for r in recording.of_type(NAT)] == ["network-nat-use1-az1"]
    assert inputs(recording, NAT, "network-nat-use1-az1")["subnetId"] == "<network-public-use1-az1.id>"
    for az in ("use1-az1", "use1-az2"):
        table = inputs(recording, ROUTE_TABLE, f"network-private-{az}")
        assert table["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "<network-nat-use1-az1.id>"}]
    public = inputs(recording, ROUTE_TABLE, "network-public")
    assert public["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "<network-igw.id>"}]


def test_staging_has_three_azs_and_a_nat_per_az() -> None:
    # us-east-1's third zone ID, use1-az3, is one EKS takes no cluster subnet in: the next one is used.
    recording = record_env("staging")
    assert sorted(r.name for r in recording.of_type(NAT)) == [
        "network-nat-use1-az1",
        "network-nat-use1-az2",
        "network-nat-use1-az4",
    ]
    for az in ("use1-az1", "use1-az2", "use1-az4"):
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
    assert json.loads(role["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["vpc-flow-logs.amazonaws.com"]},
                "Action": "sts:AssumeRole",
                # The confused deputy: the service may use the role for this account's flow logs only.
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"},
                },
            }
        ],
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
            "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1e", "us-east-1d"])
        )
    )
    assert sorted((s["availabilityZoneId"], s["cidrBlock"]) for s in subnets(recording).values()) == [
        ("use1-az4", "172.16.32.0/19"),
        ("use1-az4", "172.16.65.0/24"),
        ("use1-az5", "172.16.0.0/19"),
        ("use1-az5", "172.16.64.0/24"),
    ]


def test_a_zone_eks_refuses_is_refused_before_the_network() -> None:
    import pytest

    from infra.config_parse import ConfigError

    document = variant(
        "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1a", "us-east-1c"])
    )
    with pytest.raises(ConfigError) as caught:
        record_document(document)
    (problem,) = [str(p) for p in caught.value.problems]
    assert problem.startswith(
        "crossmesh:network.availabilityZones[1]: got 'us-east-1c'; is use1-az3, a zone EKS takes no "
        "cluster subnet in"
    )
    assert problem.endswith(": use1-az1, use1-az2, use1-az4, use1-az5, use1-az6")


def test_unavailable_zone_stops_the_program_before_the_network() -> None:
    import pulumi
    import pytest

    from infra.config_parse import ConfigError

    document = variant(
        "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1a", "us-east-1z"])
    )
    with pytest.raises(ConfigError) as caught:
        record_document(document)
    # A configuration error for the command line (exit 2), a RunError (no traceback) for the engine.
    assert isinstance(caught.value, pulumi.RunError)
    assert [str(p) for p in caught.value.problems] == [
        "crossmesh:network.availabilityZones[1]: got 'us-east-1z'; expected a zone this account has in "
        "us-east-1: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1e, us-east-1f "
        "(use1-az1, use1-az2, use1-az3, use1-az4, use1-az5, use1-az6)"
    ]


def test_render_refuses_an_unavailable_zone_as_bad_input(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from automation.cli import app
    from automation.session import Dependencies
    from tests.support import PROJECT_DIR

    document = variant(
        "dev", lambda c: c["crossmesh:network"].update(availabilityZones=["us-east-1z", "us-east-1a"])
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "__main__.py").symlink_to(PROJECT_DIR / "__main__.py")
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    outcome = CliRunner().invoke(
        app, ["render", "dev", "--out", str(tmp_path / "out")], obj=Dependencies(project_dir=project)
    )
    flat = " ".join(outcome.output.split())
    assert outcome.exit_code == 2, flat
    assert (
        "crossmesh:network.availabilityZones[0]: got 'us-east-1z'; expected a zone this account has" in flat
    )
    assert "Traceback" not in flat
