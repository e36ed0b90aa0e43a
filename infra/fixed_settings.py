"""Settings a deployed stack cannot change in place, compared with what its state says it was built with.

Pulumi replaces a resource when an input its provider marks force-new changes, and by default it
creates the replacement before it deletes the original. For the settings below the replacement
collides with the original it is meant to replace, so the second ``pulumi up`` would stop half-applied
after other resources had already changed:

- ``crossmesh:network.serviceCidr``: EKS takes the Kubernetes service range at creation only ("You can't
  change this value after the cluster is created", botocore's EKS model,
  KubernetesNetworkConfigRequest.serviceIpv4Cidr; force-new in terraform-provider-aws
  internal/service/eks/cluster.go, ``kubernetes_network_config.service_ipv4_cidr``). The replacement
  cluster keeps its name, ``<cluster>-<stack>``, which must be unique in the account and region while
  the original still exists.
- ``crossmesh:network.cidr``: a VPC keeps the block it was created with (``cidr_block`` is force-new in
  internal/service/ec2/vpc_.go), and the clusters cannot follow their subnets into a new VPC
  ("You can't change which VPC the subnets are from", botocore's EKS model, UpdateClusterConfig).
- ``crossmesh:network.azCount``, ``privateSubnetPrefix``, ``publicSubnetPrefix``: a subnet keeps its
  block ("After you create a subnet, you can't change its CIDR block", botocore's EC2 model,
  CreateSubnet; force-new in internal/service/ec2/vpc_subnet.go). The plan (infra.network.plan_subnets)
  puts the public subnets after all the private ones, so another zone count or prefix moves blocks, and
  a replacement subnet overlapping one that still exists is refused ("A subnet CIDR block must not
  overlap the CIDR block of an existing subnet in the VPC").
- ``crossmesh:network.availabilityZones``: a subnet keeps its zone (``availability_zone_id`` is
  force-new in vpc_subnet.go); subnets are named by zone, so one in another zone is a new subnet given
  the block of the one it replaces, which still exists. Without ``availabilityZones`` the program picks
  the region's first zones that offer the instance types at deploy time; that choice needs AWS and is
  not checked here, so a stack that must never move pins its zones.
- ``aws:region``: every regional resource belongs to the region it was made in, so another region
  replaces all of them, and the replacements of the global ones, the IAM roles named after the stack
  (infra/naming.py), take names the originals still hold (IAM role names are unique per account).

``deploy`` and ``preview`` refuse such a change before Pulumi runs (automation.preflight); the way to
another value is a new stack beside this one (docs/migration.md). The state is read as Pulumi exports it
(``pulumi stack export``: each resource's ``type``, ``urn``, ``inputs`` and ``outputs``, with the
provider's property names).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.config import StackConfig
from infra.config_parse import Problem
from infra.data import as_mapping
from infra.network import Tier

EKS_CLUSTER = "aws:eks/cluster:Cluster"
"""The cluster pulumi-eks creates inside ``eks:index:Cluster``."""
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
TIER_TAG = "crossmesh/tier"
"""The tag infra.network.subnet_tags puts on every subnet: ``private`` or ``public``."""


def _of_type(state: Sequence[Mapping[str, Any]], type_: str) -> Iterator[Mapping[str, Any]]:
    for resource in state:
        if resource.get("type") == type_:
            yield resource


def _field(resource: Mapping[str, Any], *path: str) -> str | None:
    """A string at ``path`` in the resource's outputs (what AWS reports), else in its inputs."""
    for side in ("outputs", "inputs"):
        value: object = resource.get(side)
        for key in path:
            mapping = as_mapping(value)
            value = mapping.get(key) if mapping is not None else None
        if isinstance(value, str) and value:
            return value
    return None


def deployed_service_cidrs(state: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """EKS cluster name -> the Kubernetes service range it was created with."""
    found: dict[str, str] = {}
    for cluster in _of_type(state, EKS_CLUSTER):
        name = _field(cluster, "name")
        cidr = _field(cluster, "kubernetesNetworkConfig", "serviceIpv4Cidr")
        if name and cidr:
            found[name] = cidr
    return found


@dataclass(frozen=True)
class DeployedNetwork:
    cidr: str
    subnets: Mapping[Tier, tuple[ipaddress.IPv4Network, ...]]
    """Each tier's subnets, in address order (the plan's zone order)."""
    zones: tuple[tuple[str | None, str | None], ...] = ()
    """Zone ID and zone name of each private subnet, in the same order."""


def deployed_network(state: Sequence[Mapping[str, Any]]) -> DeployedNetwork | None:
    """The shared VPC's block and its subnets, or None before the VPC exists."""
    cidr = next((c for vpc in _of_type(state, VPC) if (c := _field(vpc, "cidrBlock"))), None)
    if cidr is None:
        return None
    subnets: dict[Tier, list[ipaddress.IPv4Network]] = {tier: [] for tier in Tier}
    zones: dict[ipaddress.IPv4Network, tuple[str | None, str | None]] = {}
    for subnet in _of_type(state, SUBNET):
        block, tier = _field(subnet, "cidrBlock"), _field(subnet, "tags", TIER_TAG)
        if block and tier in {t.value for t in Tier}:
            network = ipaddress.IPv4Network(block)
            subnets[Tier(tier)].append(network)
            zones[network] = (_field(subnet, "availabilityZoneId"), _field(subnet, "availabilityZone"))
    private = tuple(sorted(subnets[Tier.PRIVATE]))
    return DeployedNetwork(
        cidr,
        {tier: tuple(sorted(found)) for tier, found in subnets.items()},
        tuple(zones[network] for network in private),
    )


def deployed_region(state: Sequence[Mapping[str, Any]]) -> str | None:
    """The region the shared VPC is in (its ARN, ``arn:aws:ec2:<region>:<account>:vpc/<id>``), or None
    before the VPC exists."""
    for vpc in _of_type(state, VPC):
        parts = (_field(vpc, "arn") or "").split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return None


def _same_zone(wanted: str, zone_name: str | None) -> bool:
    """Whether a configured zone name is the deployed subnet's; True when the state does not say."""
    return zone_name is None or wanted == zone_name


def _network_problems(config: StackConfig, deployed: DeployedNetwork) -> Iterator[Problem]:
    network = config.network
    if network.cidr != deployed.cidr:
        yield Problem(
            "crossmesh:network.cidr",
            network.cidr,
            f"expected {deployed.cidr}, the deployed VPC's block: a VPC keeps the block it was created "
            "with, and the clusters cannot move to the subnets of a new VPC",
        )
        return
    private, public = deployed.subnets[Tier.PRIVATE], deployed.subnets[Tier.PUBLIC]
    if private and len(private) != network.az_count:
        yield Problem(
            "crossmesh:network.azCount",
            network.az_count,
            f"expected {len(private)}, the zones the deployed subnets span: another count moves the "
            "public subnets (they follow all the private ones), and a subnet keeps the block it was "
            "created with; its replacement would overlap subnets that still exist",
        )
    wanted = network.availability_zones
    if (
        wanted is not None
        and len(wanted) == len(deployed.zones)
        and not all(_same_zone(w, name) for w, (_, name) in zip(wanted, deployed.zones, strict=True))
    ):
        shown = ", ".join(
            f"{zone_id} ({zone_name})" if zone_id and zone_name else str(zone_id or zone_name)
            for zone_id, zone_name in deployed.zones
        )
        yield Problem(
            "crossmesh:network.availabilityZones",
            list(wanted),
            f"expected {shown} in that order, the zones the deployed subnets are in: a subnet keeps "
            "its zone, and one in another zone would take the block of the subnet it replaces, which "
            "still exists",
        )
    for key, configured, found in (
        ("privateSubnetPrefix", network.private_subnet_prefix, private),
        ("publicSubnetPrefix", network.public_subnet_prefix, public),
    ):
        lengths = sorted({subnet.prefixlen for subnet in found})
        if lengths and lengths != [configured]:
            yield Problem(
                f"crossmesh:network.{key}",
                configured,
                f"expected {' or '.join(str(n) for n in lengths)}, the deployed subnets' prefix: a "
                "subnet keeps the block it was created with, and a replacement of another size would "
                "overlap subnets that still exist",
            )


def fixed_setting_problems(config: StackConfig, state: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Every fixed setting the configuration changes, as the key, the configured value and the deployed
    one; empty for a stack with no state yet, or one that keeps them."""
    problems: list[Problem] = []
    service_cidrs = deployed_service_cidrs(state)
    configured = config.network.service_cidr
    kept = sorted(
        {
            cidr
            for cluster in config.clusters
            if (cidr := service_cidrs.get(config.eks_name(cluster.name))) is not None
        }
    )
    if kept and kept != [configured]:
        names = ", ".join(
            config.eks_name(c.name) for c in config.clusters if config.eks_name(c.name) in service_cidrs
        )
        problems.append(
            Problem(
                "crossmesh:network.serviceCidr",
                configured,
                f"expected {' or '.join(kept)}, the range the deployed clusters ({names}) were created "
                "with: EKS fixes it at creation, so Pulumi would create a replacement cluster under the "
                "same name, which EKS refuses while the original exists",
            )
        )
    region = deployed_region(state)
    if region is not None and region != config.region:
        problems.append(
            Problem(
                "aws:region",
                config.region,
                f"expected {region}, the region the deployed stack's VPC and clusters are in: another "
                "region replaces every resource, and the replacements of its IAM roles would take names "
                "the originals still hold",
            )
        )
        return problems
    network = deployed_network(state)
    if network is not None:
        problems.extend(_network_problems(config, network))
    return problems
