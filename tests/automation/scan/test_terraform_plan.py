"""The Terraform-plan converter: exact output for a few resource types, and the real graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.recorder import Recording, Registration
from automation.scan.terraform_plan import TYPE_MAP, snake, terraform_name, to_plan
from tests.support import record_env


def reg(
    type_: str,
    name: str,
    inputs: Mapping[str, Any],
    deps: Mapping[str, tuple[str, ...]] | None = None,
    *,
    custom: bool = True,
) -> Registration:
    return Registration(
        urn=f"urn:pulumi:dev::crossmesh::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        provider=None,
        dependencies=(),
        property_dependencies=dict(deps or {}),
        inputs=dict(inputs),
        custom=custom,
        remote=False,
    )


VPC = reg("aws:ec2/vpc:Vpc", "network-vpc", {"cidrBlock": "172.16.0.0/16", "tags": {"Name": "network"}})
IGW = reg(
    "aws:ec2/internetGateway:InternetGateway",
    "network-igw",
    {"vpcId": "<network-vpc.id>"},
    {"vpcId": (VPC.urn,)},
)
TABLE = reg(
    "aws:ec2/routeTable:RouteTable",
    "network-public",
    {"vpcId": "<network-vpc.id>", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "<network-igw.id>"}]},
    {"vpcId": (VPC.urn,), "routes": (IGW.urn,)},
)
TEMPLATE = reg(
    "aws:ec2/launchTemplate:LaunchTemplate",
    "eksc1-nodes",
    {
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        },
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20, "encrypted": "true"}}],
        "tagSpecifications": [{"resourceType": "instance", "tags": {"Name": "node"}}],
    },
)
REPOSITORY = reg(
    "aws:ecr/repository:Repository",
    "images-front",
    {
        "name": "crossmesh-dev/front",
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS"}],
    },
)


def plan_of(*registrations: Registration) -> dict[str, Any]:
    return to_plan(Recording("crossmesh", "dev", list(registrations))).to_json()


def planned(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in document["planned_values"]["root_module"]["resources"]}


def test_names() -> None:
    assert snake("httpPutResponseHopLimit") == "http_put_response_hop_limit"
    assert snake("cidrIpv4") == "cidr_ipv4"
    assert snake("ipv6CidrBlocks") == "ipv6_cidr_blocks"
    assert (
        terraform_name("eksc2-virtualservice-colorapp.appmesh-demo")
        == "eksc2-virtualservice-colorapp_appmesh-demo"
    )
    assert terraform_name("1st") == "_1st"


def test_vpc_and_route_table_values_unknowns_and_references() -> None:
    document = plan_of(VPC, IGW, TABLE)
    assert document["format_version"] == "1.2"
    assert "terraform_version" in document
    resources = planned(document)
    assert resources["aws_vpc.network-vpc"] == {
        "address": "aws_vpc.network-vpc",
        "mode": "managed",
        "type": "aws_vpc",
        "name": "network-vpc",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "schema_version": 0,
        "values": {"cidr_block": "172.16.0.0/16", "tags": {"Name": "network"}},
        "sensitive_values": {},
    }
    # pulumi-aws "routes" is Terraform's "route" block; values only known after apply are null.
    assert resources["aws_route_table.network-public"]["values"] == {
        "vpc_id": None,
        "route": [{"cidr_block": "0.0.0.0/0", "gateway_id": None}],
    }
    change = next(c for c in document["resource_changes"] if c["address"] == "aws_route_table.network-public")
    assert change["change"]["actions"] == ["create"]
    assert change["change"]["after_unknown"] == {"vpc_id": True, "route": [{"gateway_id": True}]}
    configuration = {r["address"]: r for r in document["configuration"]["root_module"]["resources"]}
    assert configuration["aws_route_table.network-public"]["expressions"] == {
        "route": {"references": ["aws_internet_gateway.network-igw.id", "aws_internet_gateway.network-igw"]},
        "vpc_id": {"references": ["aws_vpc.network-vpc.id", "aws_vpc.network-vpc"]},
    }


def test_nested_objects_become_blocks_and_maps_stay_maps() -> None:
    values = planned(plan_of(TEMPLATE))["aws_launch_template.eksc1-nodes"]["values"]
    assert values == {
        "metadata_options": [
            {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1}
        ],
        "block_device_mappings": [
            {"device_name": "/dev/xvda", "ebs": [{"volume_size": 20, "encrypted": "true"}]}
        ],
        "tag_specifications": [{"resource_type": "instance", "tags": {"Name": "node"}}],
    }


def test_ecr_repository() -> None:
    assert planned(plan_of(REPOSITORY))["aws_ecr_repository.images-front"]["values"] == {
        "name": "crossmesh-dev/front",
        "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": [{"scan_on_push": True}],
        "encryption_configuration": [{"encryption_type": "KMS"}],
    }


def test_only_pulumi_aws_custom_resources_are_converted_and_unknown_types_are_reported() -> None:
    component = reg("eks:index:Cluster", "eksc1-eks", {"name": "eksc1-dev"}, custom=False)
    k8s = reg("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "apps"}})
    unknown = reg("aws:sqs/queue:Queue", "q", {})
    plan = to_plan(Recording("crossmesh", "dev", [component, k8s, VPC, unknown]))
    assert [r.address for r in plan.resources] == ["aws_vpc.network-vpc"]
    assert [r.type for r in plan.unmapped] == ["aws:sqs/queue:Queue"]


def test_every_pulumi_aws_type_of_every_environment_is_converted() -> None:
    for env in ("dev", "staging", "prod"):
        recording = record_env(env)
        plan = to_plan(recording)
        assert plan.unmapped == [], env
        aws = [r for r in recording if r.custom and r.type.startswith("aws:")]
        assert len(plan.resources) == len(aws)
        assert {r.type for r in aws} <= set(TYPE_MAP)
    # The flow log points at its VPC the way a Terraform reference would, so graph checks see it.
    document = to_plan(record_env("dev")).to_json()
    configuration = {r["address"]: r for r in document["configuration"]["root_module"]["resources"]}
    assert configuration["aws_flow_log.network-flow-logs"]["expressions"]["vpc_id"] == {
        "references": ["aws_vpc.network-vpc.id", "aws_vpc.network-vpc"]
    }
