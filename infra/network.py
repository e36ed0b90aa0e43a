"""Pure network planning: subnet CIDRs per AZ and the tags the load balancer controllers look for."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class SubnetPlan:
    tier: Tier
    az: str
    cidr: str

    @property
    def key(self) -> str:
        """Stable key for resource names: the tier and the AZ, never a list index."""
        return f"{self.tier}-{self.az}"


class SubnetPlanError(ValueError):
    """The requested subnets do not fit the VPC block."""


def plan_subnets(
    vpc_cidr: str, azs: Sequence[str], *, private_prefix: int, public_prefix: int
) -> tuple[SubnetPlan, ...]:
    """Carve one private and one public subnet per AZ out of ``vpc_cidr``.

    Blocks are allocated largest first, each aligned on its own size, so they never overlap and
    waste nothing between them. The result is deterministic for the same inputs, but the public
    subnets follow all the private ones: another AZ count or prefix moves existing blocks, so a
    deployed stack keeps its layout (infra/fixed_settings.py).
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    for prefix, tier in ((private_prefix, Tier.PRIVATE), (public_prefix, Tier.PUBLIC)):
        if prefix < vpc.prefixlen:
            raise SubnetPlanError(f"a /{prefix} {tier} subnet is larger than the /{vpc.prefixlen} VPC")
    requests = [(private_prefix, Tier.PRIVATE, az) for az in azs] + [
        (public_prefix, Tier.PUBLIC, az) for az in azs
    ]
    # Python's sort is stable: within one size, private subnets keep AZ order ahead of public ones.
    requests.sort(key=lambda r: r[0])
    cursor = int(vpc.network_address)
    end = int(vpc.broadcast_address) + 1
    planned: dict[tuple[Tier, str], SubnetPlan] = {}
    for prefix, tier, az in requests:
        size = 1 << (32 - prefix)
        start = -(-cursor // size) * size  # round up to the block's alignment
        if start + size > end:
            needed = len(azs) * ((1 << (32 - private_prefix)) + (1 << (32 - public_prefix)))
            raise SubnetPlanError(
                f"{len(azs)} private /{private_prefix} and {len(azs)} public /{public_prefix} subnets "
                f"need {needed} addresses; the /{vpc.prefixlen} VPC has {vpc.num_addresses}"
            )
        planned[(tier, az)] = SubnetPlan(tier, az, str(ipaddress.IPv4Network((start, prefix))))
        cursor = start + size
    return tuple(planned[(tier, az)] for tier in (Tier.PRIVATE, Tier.PUBLIC) for az in azs)


class ZoneChoiceError(ValueError):
    """Zones the account cannot give: each problem is the configuration key (without the
    ``crossmesh:`` namespace), the value given there and what was expected."""

    def __init__(self, problems: Sequence[tuple[str, object, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "; ".join(f"crossmesh:{key}: got {value!r}; {expected}" for key, value, expected in problems)
        )


# Zones EKS takes no cluster subnet in: "The subnets can't reside in the following Availability Zones"
# (us-east-1 use1-az3, us-west-1 usw1-az2, ca-central-1 cac1-az3), in the EKS User Guide's subnet
# requirements, https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html#cluster-subnets.
# CreateCluster refuses them (UnsupportedAvailabilityZoneException), and every private subnet is a
# cluster subnet here, so such a zone would fail each cluster after the network was built.
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


def choose_zone_ids(
    *,
    region: str,
    names: Sequence[str],
    zone_ids: Sequence[str],
    offered: Iterable[tuple[str, str]],
    instance_types: Sequence[str],
    count: int,
    wanted: Sequence[str] | None = None,
) -> list[str]:
    """The zone IDs to build in: among the region's zones that EKS supports, those offering every
    instance type.

    Zone IDs (``use1-az1``), not names: a name like ``us-east-1a`` maps to a different physical zone in
    each account, and EC2 says per zone ID which instance types it offers (DescribeInstanceTypeOfferings
    with LocationType availability-zone-id). A managed node group spans every private subnet, so a zone
    that lacks one of the types fails node creation. ``wanted`` may name zones by name or by ID.
    Raises :class:`ZoneChoiceError` naming each key, the value given and the zones there are, before
    anything is created.
    """
    by_name = dict(zip(names, zone_ids, strict=True))
    pairs = set(offered)
    types = sorted(set(instance_types))
    offering = [z for z in zone_ids if all((t, z) in pairs for t in types)]
    usable = [z for z in offering if z not in EKS_UNSUPPORTED_ZONE_IDS]
    described = f"{region} zones offering every instance type ({', '.join(types)})"
    left_out = [z for z in offering if z in EKS_UNSUPPORTED_ZONE_IDS]
    if left_out:
        described += f", less {', '.join(left_out)}, where EKS takes no cluster subnet"
    if wanted is not None:
        key = "network.availabilityZones"
        chosen = [by_name.get(w, w) for w in wanted]
        unknown = [
            (
                f"{key}[{index}]",
                w,
                f"expected a zone this account has in {region}: {', '.join(names)} ({', '.join(zone_ids)})",
            )
            for index, (w, z) in enumerate(zip(wanted, chosen, strict=True))
            if z not in zone_ids
        ]
        if unknown:
            raise ZoneChoiceError(unknown)
        unsupported = [
            (
                f"{key}[{index}]",
                w,
                f"is {z}, a zone EKS takes no cluster subnet in (CreateCluster fails with "
                f"UnsupportedAvailabilityZoneException); expected one of the {described}: "
                f"{', '.join(usable) or 'none'}",
            )
            for index, (w, z) in enumerate(zip(wanted, chosen, strict=True))
            if z in EKS_UNSUPPORTED_ZONE_IDS
        ]
        if unsupported:
            raise ZoneChoiceError(unsupported)
        lacking = [
            (
                f"{key}[{index}]",
                w,
                f"does not offer every instance type; expected one of the {described}: "
                f"{', '.join(usable) or 'none'}",
            )
            for index, (w, z) in enumerate(zip(wanted, chosen, strict=True))
            if z not in usable
        ]
        if lacking:
            raise ZoneChoiceError(lacking)
        return chosen
    if len(usable) < count:
        raise ZoneChoiceError(
            [
                (
                    "network.azCount",
                    count,
                    f"{count} zones wanted but only {len(usable)} {described}: "
                    f"{', '.join(usable) or 'none'}; expected at most {len(usable)}, or other instance types "
                    "(crossmesh:clusters[].nodes.instanceTypes)",
                )
            ]
        )
    return usable[:count]


def subnet_tags(tier: Tier, cluster_names: Sequence[str], base: Mapping[str, str]) -> dict[str, str]:
    """Tags that let every cluster's load balancers find these subnets.

    The AWS cloud provider and the AWS Load Balancer Controller pick subnets for internet-facing load
    balancers by ``kubernetes.io/role/elb`` and for internal ones by ``kubernetes.io/role/internal-elb``;
    ``kubernetes.io/cluster/<name>: shared`` marks a subnet as usable by (and not owned by) that cluster.
    https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html
    """
    role = "kubernetes.io/role/elb" if tier is Tier.PUBLIC else "kubernetes.io/role/internal-elb"
    tags = {**base, role: "1", "crossmesh/tier": str(tier)}
    for name in cluster_names:
        tags[f"kubernetes.io/cluster/{name}"] = "shared"
    return tags


# EKS requires the service CIDR to be private, between /24 and /12, and not to overlap the VPC.
# https://docs.aws.amazon.com/eks/latest/APIReference/API_KubernetesNetworkConfigRequest.html
_PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def service_cidr_problem(service_cidr: str, vpc_cidr: str) -> str | None:
    """Why ``service_cidr`` cannot be the cluster's Kubernetes service range, or None if it can."""
    service = ipaddress.IPv4Network(service_cidr)
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if not 12 <= service.prefixlen <= 24:
        return "expected a prefix between /12 and /24"
    if not any(service.subnet_of(r) for r in _PRIVATE_RANGES):
        return "expected a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
    if service.overlaps(vpc):
        return f"overlaps the VPC block {vpc}; expected a range outside it"
    return None
