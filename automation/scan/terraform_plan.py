"""The recorded pulumi-aws resources as a Terraform plan, so checkov's AWS checks can read them.

pulumi-aws is generated from the Terraform AWS provider: its inputs are the provider's arguments in
camelCase. This module writes what ``terraform show -json`` would print for a plan that creates them
(https://developer.hashicorp.com/terraform/internals/json-format): ``planned_values.root_module.resources``
with ``address``, ``type``, ``name`` and snake_case ``values`` (nested blocks as lists of objects),
``resource_changes`` marking the values only known after apply, and ``configuration`` expressions whose
``references`` link resources the way Terraform references would, taken from each input's recorded
property dependencies. checkov's graph checks (for instance "every VPC has flow logs") follow those
references.

Only pulumi-aws custom resources are converted. What pulumi-eks creates inside its components is not
visible to mocks; the guardrails policies check those components' inputs instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automation.recorder import UNKNOWN_MARKER, Recording, Registration
from infra.data import as_list, as_mapping

FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.8"
"""Nominal: checkov reads the plan format, not the Terraform release that would have written it."""
PROVIDER_NAME = "registry.terraform.io/hashicorp/aws"

# Pulumi type token -> Terraform resource type. Explicit, because pulumi-aws renames modules
# (``aws:ec2/vpc:Vpc`` is ``aws_vpc``, not ``aws_ec2_vpc``).
TYPE_MAP: Mapping[str, str] = {
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/instance:Instance": "aws_instance",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "aws_security_group_rule",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:route53/record:Record": "aws_route53_record",
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "aws_service_discovery_private_dns_namespace"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
    "aws:vpclattice/serviceNetwork:ServiceNetwork": "aws_vpclattice_service_network",
    "aws:vpclattice/authPolicy:AuthPolicy": "aws_vpclattice_auth_policy",
    "aws:vpclattice/accessLogSubscription:AccessLogSubscription": "aws_vpclattice_access_log_subscription",
    "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation": (
        "aws_vpclattice_service_network_vpc_association"
    ),
}

# Where pulumi-aws pluralises a repeated block that Terraform names in the singular.
RENAMES: Mapping[str, Mapping[str, str]] = {
    "aws_route_table": {"routes": "route"},
    "aws_ecr_repository": {"encryption_configurations": "encryption_configuration"},
    "aws_security_group": {"ingress": "ingress", "egress": "egress"},
}

# Attributes that are maps in Terraform (kept as objects), not nested blocks (lists of objects).
MAP_ATTRIBUTES = frozenset({"tags", "tags_all", "labels", "inline_policy_map"})

_PLACEHOLDER = re.compile(r"^<([^<>.]+)\.([^<>]+)>$")
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def snake(key: str) -> str:
    """``httpPutResponseHopLimit`` -> ``http_put_response_hop_limit``; ``cidrIpv4`` -> ``cidr_ipv4``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def terraform_name(name: str) -> str:
    """A Terraform resource name: letters, digits, ``_`` and ``-``, starting with a letter or ``_``."""
    cleaned = _NAME.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"_{cleaned}"


def is_unknown(value: object) -> bool:
    """A value only known after apply: a whole placeholder (``<vpc.id>``) or the engine's unknown."""
    return value == UNKNOWN_MARKER or (isinstance(value, str) and bool(_PLACEHOLDER.match(value)))


def _attribute(tf_type: str, key: str) -> str:
    name = snake(key)
    return RENAMES.get(tf_type, {}).get(name, name)


def convert_values(tf_type: str, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, after_unknown) for one resource's inputs."""
    values: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in inputs.items():
        if key.startswith("__"):
            continue
        name = _attribute(tf_type, key)
        converted, marks = _convert(value, as_map=name in MAP_ATTRIBUTES)
        values[name] = converted
        if marks:
            unknown[name] = marks
    return values, unknown


def _convert(value: Any, *, as_map: bool = False) -> tuple[Any, Any]:
    """(Terraform value, after_unknown marks) for one input value."""
    if is_unknown(value):
        return None, True
    mapping = as_mapping(value)
    if mapping is not None:
        if as_map:
            return {str(k): v for k, v in mapping.items()}, None
        # A nested object is a block, which Terraform's JSON writes as a list of one object.
        block, marks = _block(mapping)
        return [block], [marks] if marks else None
    items = as_list(value)
    if items is not None:
        converted: list[Any] = []
        item_marks: list[Any] = []
        for item in items:
            inner = as_mapping(item)
            # Items of a list of blocks are objects themselves, not wrapped in a further list.
            result, mark = _block(inner) if inner is not None else _convert(item)
            converted.append(result)
            item_marks.append(mark or False)
        return converted, item_marks if any(item_marks) else None
    return value, None


def _block(mapping: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    block: dict[str, Any] = {}
    marks: dict[str, Any] = {}
    for key, item in mapping.items():
        name = snake(key)
        converted, mark = _convert(item, as_map=name in MAP_ATTRIBUTES)
        block[name] = converted
        if mark:
            marks[name] = mark
    return block, marks


@dataclass
class PlanResource:
    address: str
    type: str
    name: str
    values: dict[str, Any]
    after_unknown: dict[str, Any]
    references: dict[str, list[str]] = field(default_factory=dict[str, list[str]])


@dataclass
class Plan:
    resources: list[PlanResource]
    unmapped: list[Registration]
    """pulumi-aws resources of a type :data:`TYPE_MAP` does not know (the scan refuses to pass them by)."""

    def to_json(self) -> dict[str, Any]:
        def common(r: PlanResource) -> dict[str, Any]:
            return {
                "address": r.address,
                "mode": "managed",
                "type": r.type,
                "name": r.name,
                "provider_name": PROVIDER_NAME,
            }

        return {
            "format_version": FORMAT_VERSION,
            "terraform_version": TERRAFORM_VERSION,
            "planned_values": {
                "root_module": {
                    "resources": [
                        {**common(r), "schema_version": 0, "values": r.values, "sensitive_values": {}}
                        for r in self.resources
                    ]
                }
            },
            "resource_changes": [
                {
                    **common(r),
                    "change": {
                        "actions": ["create"],
                        "before": None,
                        "after": r.values,
                        "after_unknown": r.after_unknown,
                    },
                }
                for r in self.resources
            ],
            "configuration": {
                "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER_NAME}},
                "root_module": {
                    "resources": [
                        {
                            "address": r.address,
                            "mode": "managed",
                            "type": r.type,
                            "name": r.name,
                            "provider_config_key": "aws",
                            "expressions": {k: {"references": v} for k, v in sorted(r.references.items())},
                            "schema_version": 0,
                        }
                        for r in self.resources
                    ]
                },
            },
        }


def _reference(target: PlanResource, value: object) -> list[str]:
    """How a Terraform configuration would refer to ``target`` from an attribute holding ``value``."""
    attribute = "id"
    if isinstance(value, str):
        match = _PLACEHOLDER.match(value)
        if match:
            attribute = snake(match.group(2))
        elif value.startswith("arn:"):
            attribute = "arn"
    return [f"{target.address}.{attribute}", target.address]


def to_plan(recording: Recording) -> Plan:
    """Every pulumi-aws custom resource of ``recording``, as a Terraform plan."""
    resources: list[PlanResource] = []
    by_urn: dict[str, PlanResource] = {}
    unmapped: list[Registration] = []
    taken: set[str] = set()
    for registration in recording:
        if not registration.custom or not registration.type.startswith("aws:"):
            continue
        tf_type = TYPE_MAP.get(registration.type)
        if tf_type is None:
            unmapped.append(registration)
            continue
        name = terraform_name(registration.name)
        address = f"{tf_type}.{name}"
        suffix = 2
        while address in taken:
            address = f"{tf_type}.{name}_{suffix}"
            suffix += 1
        taken.add(address)
        values, unknown = convert_values(tf_type, registration.inputs)
        resource = PlanResource(address, tf_type, address.split(".", 1)[1], values, unknown)
        resources.append(resource)
        by_urn[registration.urn] = resource
    for registration in recording:
        source = by_urn.get(registration.urn)
        if source is None:
            continue
        for key, urns in registration.property_dependencies.items():
            references = [
                ref
                for urn in urns
                if urn in by_urn
                for ref in _reference(by_urn[urn], registration.inputs.get(key))
            ]
            if references:
                source.references[_attribute(source.type, key)] = references
    return Plan(resources, unmapped)
