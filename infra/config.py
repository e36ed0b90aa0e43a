"""The stack configuration model: every key of ``Pulumi.<env>.yaml``, typed, described and validated.

This module is the model only. Turning Pulumi's flat configuration map into it, and naming every
problem with its key, value and expectation, is :mod:`infra.config_parse`. Each field carries its
description: the JSON Schema editors use (``schema/stack-config.schema.json``) and the README's key
table are generated from it (``./run config-docs``), and a test fails when either is stale.

YAML keys are camelCase (the Pulumi convention); the Python attributes are snake_case.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.known import did_you_mean, known_instance_types, partition_of
from infra.naming import cluster_key_problem, eks_cluster_name
from infra.naming import service_network as default_service_network
from infra.network import SubnetPlanError, plan_subnets, service_cidr_problem

PROJECT = "crossmesh"


@dataclass(frozen=True)
class EksVersionSupport:
    """When a Kubernetes minor version leaves Amazon EKS's standard and extended support (UTC dates)."""

    end_of_standard_support: date
    end_of_extended_support: date


# The Amazon EKS Kubernetes release calendar,
# https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar:
# "Billing for extended support starts at the beginning of the day that the version reaches end of
# standard support, in the UTC+0 timezone", and "On the end of extended support date, you can no
# longer create new Amazon EKS clusters with the unsupported version." 1.31 is gone: its extended
# support ended on 2026-11-26, so CreateCluster no longer takes it.
EKS_VERSION_CALENDAR: Mapping[str, EksVersionSupport] = {
    "1.32": EksVersionSupport(date(2026, 3, 23), date(2027, 3, 23)),
    "1.33": EksVersionSupport(date(2026, 7, 29), date(2027, 7, 29)),
    "1.34": EksVersionSupport(date(2026, 12, 2), date(2027, 12, 2)),
    "1.35": EksVersionSupport(date(2027, 3, 27), date(2028, 3, 27)),
}
# Kubernetes minor versions this program is tested against: those of the calendar above, all within
# the schemas that kubernetes-validate ships (1.25-1.37).
SUPPORTED_KUBERNETES_VERSIONS = tuple(EKS_VERSION_CALENDAR)
DEFAULT_KUBERNETES_VERSION = "1.35"


def utc_today() -> date:
    """Today in UTC, the time zone of the EKS calendar's dates."""
    return datetime.now(UTC).date()


def kubernetes_version_problem(version: str, today: date) -> str | None:
    """Why EKS would not create a cluster of ``version`` on ``today``, or None if it would."""
    support = EKS_VERSION_CALENDAR.get(version)
    if support is None:
        return f"expected one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)} (a quoted string)"
    if today >= support.end_of_extended_support:
        offered = [v for v, s in EKS_VERSION_CALENDAR.items() if today < s.end_of_extended_support]
        expected = f"one of {', '.join(offered)}" if offered else "a version this program does not know yet"
        return (
            f"Kubernetes {version} left Amazon EKS on {support.end_of_extended_support.isoformat()} (the end "
            f"of its extended support): EKS no longer creates clusters of it and upgrades existing ones "
            f"itself; expected {expected} (a quoted string)"
        )
    return None


def extended_support_notes(config: StackConfig, today: date) -> list[str]:
    """One note per Kubernetes version of the stack that is past its end of standard support: EKS bills
    every cluster of it an extended-support fee per hour, and upgrades it at the end of extended support."""
    clusters: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    for index, cluster in enumerate(config.clusters):
        version = config.kubernetes_version_of(cluster)
        clusters.setdefault(version, []).append(cluster.name)
        key = config.kubernetes_version_key(index)
        if key not in keys.setdefault(version, []):
            keys[version].append(key)
    notes: list[str] = []
    for version, names in clusters.items():
        support = EKS_VERSION_CALENDAR.get(version)
        if support is None or not support.end_of_standard_support <= today < support.end_of_extended_support:
            continue
        newer = [v for v, s in EKS_VERSION_CALENDAR.items() if today < s.end_of_standard_support]
        instead = f"; {' or '.join(newer)} is in standard support" if newer else ""
        standard, extended = support.end_of_standard_support, support.end_of_extended_support
        notes.append(
            f"Kubernetes {version} left EKS standard support on {standard.isoformat()}: "
            f"{'clusters' if len(names) > 1 else 'cluster'} {', '.join(names)} "
            f"{'run' if len(names) > 1 else 'runs'} in extended support, billed "
            f"per cluster hour on top of the standard fee, until {extended.isoformat()}, when EKS upgrades "
            f"the control plane itself{instead} ({', '.join(keys[version])})"
        )
    return notes


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


# --------------------------------------------------------------------------------------------------
# Field validators: each raises ValueError whose text says what was expected.


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            "expected a DNS label: 1-63 characters of lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _dns_name(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            "expected a lowercase DNS name of at least two labels (like appmesh-demo.pvt.aws.local), "
            "each label 1-63 characters of letters, digits and '-'"
        )
    return value


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"expected an IPv4 CIDR block with no host bits set, like 172.16.0.0/16 ({exc})"
        ) from exc
    return str(network)


def _kubernetes_version(value: str) -> str:
    # Only whether the calendar knows the version: the date is judged where a cluster would be made
    # or updated (calendar_problems), so a stack whose version has since left EKS can still be
    # destroyed, refreshed and verified.
    if value not in EKS_VERSION_CALENDAR:
        raise ValueError(f"expected one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)} (a quoted string)")
    return value


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE.fullmatch(value):
        raise ValueError("expected an EC2 instance type such as t3.medium or m6i.large")
    known = known_instance_types()
    if known and value not in known:
        close = did_you_mean(value, known)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ValueError(
            f"expected an EC2 instance type, as botocore knows them{hint}; a type newer than the "
            "installed botocore needs a newer botocore"
        )
    return value


def _cluster_key(value: str) -> str:
    problem = cluster_key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def _iam_role_arn(value: str) -> str:
    if not _IAM_ROLE_ARN.fullmatch(value):
        raise ValueError(
            "expected an IAM role ARN, like arn:aws:iam::123456789012:role/platform-admins (not an "
            "assumed-role session ARN from sts get-caller-identity: give the role itself)"
        )
    return value


def _iam_principal_arn(value: str) -> str:
    if not _IAM_PRINCIPAL_ARN.fullmatch(value):
        raise ValueError(
            "expected an IAM role or user ARN, like arn:aws:iam::123456789012:role/platform-admins"
        )
    return value


@dataclass(frozen=True)
class Expected:
    """What to write for a value of a type, in words: the parser says it when a value of another kind
    (a mapping, a list, a YAML boolean) stands where this type is expected. Pydantic ignores it."""

    text: str


# The JSON Schema of each string type says to an editor what the validator says to the CLI.
_IPV4_CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$"
DnsLabel = Annotated[
    str,
    Expected("a DNS label: 1-63 lowercase letters, digits and '-', like appmesh-demo"),
    AfterValidator(_dns_label),
    WithJsonSchema({"type": "string", "pattern": _DNS_LABEL.pattern, "maxLength": 63}),
]
DnsName = Annotated[
    str,
    Expected("a lowercase DNS name of at least two labels, like appmesh-demo.pvt.aws.local"),
    AfterValidator(_dns_name),
    WithJsonSchema({"type": "string", "pattern": r"^[a-z0-9.-]+\.[a-z0-9-]+$", "maxLength": 253}),
]
Ipv4Cidr = Annotated[
    str,
    Expected("an IPv4 CIDR block, like 172.16.0.0/16"),
    AfterValidator(_ipv4_cidr),
    WithJsonSchema({"type": "string", "pattern": _IPV4_CIDR_PATTERN}),
]
KubernetesVersion = Annotated[
    str,
    Expected(f"one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)} (a quoted string)"),
    AfterValidator(_kubernetes_version),
    WithJsonSchema({"enum": list(SUPPORTED_KUBERNETES_VERSIONS)}),
]
InstanceType = Annotated[
    str,
    Expected("an EC2 instance type such as t3.medium or m6i.large"),
    AfterValidator(_instance_type),
    WithJsonSchema({"type": "string", "pattern": _INSTANCE_TYPE.pattern}),
]
IamPrincipalArn = Annotated[
    str,
    Expected("an IAM role or user ARN, like arn:aws:iam::123456789012:role/platform-admins"),
    AfterValidator(_iam_principal_arn),
    WithJsonSchema({"type": "string", "pattern": _IAM_PRINCIPAL_ARN.pattern}),
]
IamRoleArn = Annotated[
    str,
    Expected("an IAM role ARN, like arn:aws:iam::123456789012:role/platform-admins"),
    AfterValidator(_iam_role_arn),
    WithJsonSchema({"type": "string", "pattern": _IAM_ROLE_ARN.pattern}),
]


def _full_match(pattern: re.Pattern[str], expected: str) -> AfterValidator:
    """A validator that takes a text ``pattern`` matches whole and refuses the rest, saying ``expected``."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ID_TEXT = 'a 12-digit AWS account id as a quoted string, like "210987654321"'
AccountId = Annotated[
    str,
    Expected(_ACCOUNT_ID_TEXT),
    _full_match(_ACCOUNT_ID, _ACCOUNT_ID_TEXT),
    WithJsonSchema({"type": "string", "pattern": _ACCOUNT_ID.pattern}),
]
ClusterKey = Annotated[
    str,
    Expected("a cluster key: 1-31 lowercase letters and digits starting with a letter, like eksc1"),
    AfterValidator(_cluster_key),
    WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9]{0,30}$", "maxLength": 31}),
]
# A zone is checked against the region with the whole stack (StackConfig._check_zones).
ZoneName = Annotated[DnsLabel, Expected("a zone name, like us-east-1a")]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Weight = Annotated[StrictInt, Field(ge=0, le=100)]

# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy, retentionInDays):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            "expected a retention CloudWatch Logs accepts: " + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        )
    return value


LogRetentionDays = Annotated[
    StrictInt,
    Expected("a whole number of days CloudWatch Logs accepts as a retention, like 30 or 90"),
    AfterValidator(_log_retention),
    WithJsonSchema({"enum": list(LOG_RETENTION_DAYS)}),
]

# Ports the mesh proxies and their helpers take inside an app pod: Envoy's ingress and egress
# listeners (15000, 15001) and admin (9901) in App Mesh, the X-Ray daemon (2000), and the ports
# sidecar meshes commonly reserve (15006 inbound capture, 15020/15021 health, 15090 stats).
# https://docs.aws.amazon.com/app-mesh/latest/userguide/envoy.html
PROXY_PORTS = (2000, 9901, 15000, 15001, 15006, 15020, 15021, 15090)
SSH_PORT = 22

# Special-purpose IPv4 ranges that are not globally reachable (IANA's registry, RFC 6890 and its
# updates): private, shared, loopback, link-local, benchmarking, multicast and reserved. EKS refuses
# reserved addresses in a public endpoint's allowlist ("The block cannot include reserved addresses":
# https://docs.aws.amazon.com/eks/latest/userguide/config-cluster-endpoint.html). RFC 5737's
# documentation ranges are left to automation/placeholders.py: staging ships with one as the value to
# replace, which renders and is refused by deploy and preview as a placeholder.
RESERVED_IPV4_RANGES = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip


def reserved_range_of(cidr: str) -> str | None:
    """The reserved range a block lies wholly in, or None (0.0.0.0/0 spans them, so it is not in one)."""
    network = ipaddress.IPv4Network(cidr)
    return next((str(r) for r in RESERVED_IPV4_RANGES if network.subnet_of(r)), None)


# Where a VPC's block may come from: the RFC 1918 private ranges and RFC 6598's shared space.
VPC_ADDRESS_SPACES = tuple(
    ipaddress.IPv4Network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

# Namespaces the app namespace must not be: Kubernetes' own (default too: the guardrail
# k8s-no-default-namespace refuses objects there), and the mesh controllers'.
RESERVED_NAMESPACES = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "appmesh-system",
    "aws-application-networking-system",
)

# AWS tags (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html): at most 50 per
# resource, keys 1-128 and values 0-256 characters, and the aws: prefix is reserved for AWS.
MAX_TAGS_PER_RESOURCE = 50
_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)

# Tags the program sets itself: project, environment and managed-by on every resource (__main__.py),
# Name on most, and on subnets crossmesh/tier and the kubernetes.io/ role and cluster tags the load
# balancer controllers select by (infra.network.subnet_tags). The leak check (automation/leaks.py) and
# the name-ownership check (automation/preflight.py) find this stack's resources by project and
# environment, so a user tag may not replace any of them.
PROGRAM_TAG_KEYS = ("project", "environment", "managed-by", "Name", "crossmesh/tier")
PROGRAM_TAG_PREFIXES = ("kubernetes.io/",)


class _Model(BaseModel):
    """Frozen, camelCase in YAML, and no unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=False,
    )


# --------------------------------------------------------------------------------------------------
# The model


class NatGatewayMode(StrEnum):
    """How private subnets reach the internet (ECR, App Mesh and STS endpoints)."""

    SINGLE = "single"  # one NAT gateway for the VPC: cheapest, one AZ is a single point of failure
    PER_AZ = "perAz"  # one per AZ: what production wants


class NetworkConfig(_Model):
    """The shared VPC both clusters live in."""

    cidr: Ipv4Cidr = Field(
        default="172.16.0.0/16",
        description="VPC CIDR block (the blog used 172.16.0.0/16). Fixed once deployed, like the subnet "
        "layout (`azCount` and the prefixes): `deploy` refuses to change them on a deployed stack.",
    )
    az_count: Annotated[StrictInt, Field(ge=2, le=6)] = Field(
        default=2,
        description="How many availability zones to spread subnets over; EKS needs at least two. Fixed once "
        "deployed (see `cidr`).",
    )
    private_subnet_prefix: Annotated[StrictInt, Field(ge=16, le=28)] = Field(
        default=19,
        description="Prefix length of each private subnet. Pods take VPC addresses (VPC CNI), so these are "
        "large. Fixed once deployed (see `cidr`).",
    )
    public_subnet_prefix: Annotated[StrictInt, Field(ge=16, le=28)] = Field(
        default=24,
        description="Prefix length of each public subnet (load balancers and NAT gateways only). Fixed once "
        "deployed (see `cidr`).",
    )
    nat_gateways: NatGatewayMode = Field(
        default=NatGatewayMode.SINGLE,
        description="`single`: one NAT gateway for the VPC (cheapest; one AZ is a single point of failure); "
        "`perAz`: one per AZ (what production wants).",
    )
    flow_logs: StrictBool = Field(
        default=True, description="Send VPC flow logs (rejected and accepted) to CloudWatch Logs."
    )
    flow_log_retention_days: LogRetentionDays = Field(
        default=30, description="Days CloudWatch Logs keeps the flow logs."
    )
    service_cidr: Ipv4Cidr = Field(
        default="172.20.0.0/16",
        description="Kubernetes service IP range of every cluster; must not overlap the VPC. EKS fixes it "
        "when a cluster is created: `deploy` refuses to change it on a deployed stack.",
    )
    availability_zones: tuple[ZoneName, ...] | None = Field(
        default=None,
        description="Exact zones to use, when the region's first `azCount` zones won't do (e.g. a zone EKS "
        "rejects with UnsupportedAvailabilityZoneException); its length must equal `azCount`. Fixed once "
        "deployed; unset, the zones are chosen again at every deploy, so a stack that must never move "
        "pins them.",
    )

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        network = ipaddress.IPv4Network(self.cidr)
        if not any(network.subnet_of(space) for space in VPC_ADDRESS_SPACES):
            # AWS recommends the RFC 1918 ranges; a publicly routable VPC block hides the internet
            # hosts that really own those addresses from every node behind the NAT gateway.
            # https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
            raise KeyedError(
                "cidr",
                "expected a private block inside "
                + ", ".join(str(space) for space in VPC_ADDRESS_SPACES)
                + " (RFC 1918, or RFC 6598's shared space): a public range would shadow the real hosts "
                "that own it for everything behind the NAT gateway",
            )
        prefix = network.prefixlen
        if not 16 <= prefix <= 28:
            # https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
            raise KeyedError(
                "cidr", f"got a /{prefix}; expected a VPC block between /16 and /28 (AWS's limits)"
            )
        if self.availability_zones is not None:
            if len(self.availability_zones) != self.az_count:
                raise KeyedError("availabilityZones", f"expected exactly azCount ({self.az_count}) zones")
            if len(set(self.availability_zones)) != len(self.availability_zones):
                raise KeyedError("availabilityZones", "expected each zone once")
        for key, subnet_prefix in (
            ("privateSubnetPrefix", self.private_subnet_prefix),
            ("publicSubnetPrefix", self.public_subnet_prefix),
        ):
            if subnet_prefix < prefix:
                raise KeyedError(key, f"a /{subnet_prefix} subnet is larger than the /{prefix} VPC")
        placeholder_azs = [f"az{i}" for i in range(self.az_count)]
        try:
            plan_subnets(
                self.cidr,
                placeholder_azs,
                private_prefix=self.private_subnet_prefix,
                public_prefix=self.public_subnet_prefix,
            )
        except SubnetPlanError as exc:
            raise KeyedError("privateSubnetPrefix", f"subnets don't fit: {exc}") from None
        problem = service_cidr_problem(self.service_cidr, self.cidr)
        if problem:
            raise KeyedError("serviceCidr", problem)
        return self


# Graviton instance families carry a "g" after the generation number: m7g, c7gn, t4g, r8gd; a1, the
# first Graviton family, is the one without it (https://aws.amazon.com/ec2/instance-types/a1/).
_GRAVITON = re.compile(r"^(a1|[a-z]+\d+[a-z]*g[a-z]*)\.")


def architecture_of(instance_type: str) -> Literal["arm64", "x86_64"]:
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


# Nodes per managed node group: 450 by default in every region (adjustable through Service Quotas),
# per the Amazon EKS User Guide's service quotas page,
# https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html. The CreateNodegroup API sets
# no fixed maximum of its own: NodegroupScalingConfig.maxSize (minimum 1) refers to that page for the
# most it may be (https://docs.aws.amazon.com/eks/latest/APIReference/API_NodegroupScalingConfig.html).
# The program keeps every size within the default quota, so a configuration it accepts is one a
# fresh account can create.
MAX_NODES_PER_NODE_GROUP = 450


def _node_count(value: int) -> int:
    if value > MAX_NODES_PER_NODE_GROUP:
        raise ValueError(
            f"expected at most {MAX_NODES_PER_NODE_GROUP} nodes: Amazon EKS's default quota of nodes per "
            "managed node group (Service Quotas, 'Nodes per managed node group')"
        )
    return value


NodeCount = Annotated[
    StrictInt,
    Field(ge=1),
    AfterValidator(_node_count),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_NODES_PER_NODE_GROUP}),
]
_NODES_QUOTA = (
    f"at most {MAX_NODES_PER_NODE_GROUP}, Amazon EKS's default quota of nodes per managed node group"
)


class NodeGroupConfig(_Model):
    """The managed node group of one cluster. Nodes sit in private subnets; there is no SSH."""

    instance_types: Annotated[tuple[InstanceType, ...], Field(min_length=1)] = Field(
        default=("t3.medium",), description="EC2 instance types of the nodes, all of one architecture."
    )
    desired: NodeCount = Field(default=2, description="Nodes to start with (between min and max).")
    min: NodeCount = Field(default=1, description="Fewest nodes the group scales to.")
    max: NodeCount = Field(default=3, description=f"Most nodes the group scales to ({_NODES_QUOTA}).")
    disk_size_gib: Annotated[StrictInt, Field(ge=20, le=16384)] = Field(
        default=20, description="Encrypted gp3 root volume of each node, in GiB."
    )
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(
        default="ON_DEMAND", description="On-demand or Spot instances."
    )

    @model_validator(mode="after")
    def _sizes_are_ordered(self) -> NodeGroupConfig:
        if len({architecture_of(t) for t in self.instance_types}) > 1:
            raise KeyedError(
                "instanceTypes", "expected instance types of one architecture (a node group has one AMI type)"
            )
        if self.min > self.max:
            raise KeyedError("min", f"expected min <= max ({self.max})")
        if not self.min <= self.desired <= self.max:
            raise KeyedError("desired", f"expected desired between min ({self.min}) and max ({self.max})")
        return self


class EndpointConfig(_Model):
    """Who may reach the Kubernetes API server."""

    private_access: StrictBool = Field(
        default=True, description="The API server answers inside the VPC (nodes use it)."
    )
    public_access: StrictBool = Field(
        default=True, description="Public endpoint for operators and CI; restrict it with publicAccessCidrs."
    )
    public_access_cidrs: tuple[Ipv4Cidr, ...] = Field(
        default=("0.0.0.0/0",), description="Source ranges allowed to reach the public endpoint."
    )

    @model_validator(mode="after")
    def _public_endpoint_names_its_sources(self) -> EndpointConfig:
        # EKS reads an empty list as 0.0.0.0/0: an empty list would open the endpoint, not close it.
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_VpcConfigRequest.html
        if self.public_access and not self.public_access_cidrs:
            raise KeyedError(
                "publicAccessCidrs",
                "expected at least one CIDR while publicAccess is true (EKS reads an empty list as "
                "0.0.0.0/0); set publicAccess: false for a private-only endpoint",
            )
        for index, cidr in enumerate(self.public_access_cidrs if self.public_access else ()):
            reserved = reserved_range_of(cidr)
            if reserved is not None:
                raise KeyedError(
                    f"publicAccessCidrs[{index}]",
                    f"{cidr} lies in the reserved range {reserved}: no caller reaches the public endpoint "
                    "from it, and EKS refuses reserved addresses there; expected public addresses (for "
                    "callers inside the VPC, the private endpoint already answers)",
                    value=cidr,
                )
        return self


class ClusterConfig(_Model):
    """One EKS cluster. Its ``name`` is the stable key; the EKS cluster is named ``<name>-<stack>``."""

    name: ClusterKey = Field(
        description="Stable key of the cluster (lowercase letters and digits, no `-`, so physical names "
        "stay unique per stack); the EKS cluster is named `<name>-<stack>`."
    )
    kubernetes_version: KubernetesVersion | None = Field(
        default=None,
        description="EKS version of this cluster; defaults to the stack-wide `crossmesh:kubernetesVersion`.",
    )
    nodes: NodeGroupConfig = Field(default=NodeGroupConfig(), description="The cluster's managed node group.")
    endpoint: EndpointConfig = Field(
        default=EndpointConfig(),
        description="Who may reach the Kubernetes API server.",
    )
    admin_principal_arns: tuple[IamPrincipalArn, ...] = Field(
        default=(),
        description="IAM roles or users granted cluster admin through EKS access entries (the creator is "
        "always admin).",
    )
    log_retention_days: LogRetentionDays = Field(
        default=90, description="Days CloudWatch Logs keeps the control-plane logs."
    )


class MeshBackendKind(StrEnum):
    """Which service mesh connects the clusters."""

    APPMESH = "appmesh"
    """AWS App Mesh with Cloud Map discovery (what the original walkthrough built; AWS ended support
    on 2026-09-30)."""
    LATTICE = "lattice"
    """Amazon VPC Lattice through the AWS Gateway API controller: no sidecars, same apps, same name."""


class Tracing(StrEnum):
    NONE = "none"
    XRAY = "x-ray"


class RouteConfig(_Model):
    """Retries and timeouts of the route to colorapp, enforced by the mesh, not by the client."""

    timeout_ms: Annotated[StrictInt, Field(ge=100, le=60_000)] = Field(
        default=3000, description="Whole-request deadline in milliseconds, retries included."
    )
    max_retries: Annotated[StrictInt, Field(ge=0, le=10)] = Field(
        default=2, description="Retries after a failed attempt (server errors, gateway errors, resets)."
    )
    per_retry_timeout_ms: Annotated[StrictInt, Field(ge=50, le=60_000)] = Field(
        default=1000, description="Deadline of each attempt in milliseconds; at most timeoutMs."
    )
    retry_budget_percent: Annotated[StrictInt, Field(ge=0, le=100)] = Field(
        default=20,
        description="Where the caller retries (Lattice): retries allowed as a share of requests, so retries "
        "cannot multiply the load on a failing version.",
    )

    @model_validator(mode="after")
    def _retries_fit_the_deadline(self) -> RouteConfig:
        if self.per_retry_timeout_ms > self.timeout_ms:
            raise KeyedError("perRetryTimeoutMs", f"expected at most timeoutMs ({self.timeout_ms})")
        return self


class LatticeAuth(StrEnum):
    IAM = "iam"
    """The service network's authType is AWS_IAM: every call must be SigV4-signed and allowed by the
    auth policies (front's role only)."""
    NONE = "none"
    """No authentication between services (authType NONE)."""


# Lattice takes the healthy codes as text of digits, '-' and ',' (Matcher.httpCode, pattern
# ^[0-9-,]+$: https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_Matcher.html); the codes an
# HTTP health check may count as healthy are 200-499, as for Elastic Load Balancing's HTTP target groups
# (Matcher.HttpCode: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Matcher.html).
# One code or one ascending range is what the TargetGroupPolicy's statusMatch is given here.
HEALTHY_CODES = (200, 499)
_STATUS_MATCH = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def _status_match(value: str) -> str:
    low, high = HEALTHY_CODES
    expected = f"expected an HTTP code between {low} and {high}, or a range of them low-high, like 200-299"
    match = _STATUS_MATCH.fullmatch(value)
    if match is None:
        raise ValueError(expected)
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if not (low <= first <= high and low <= last <= high):
        raise ValueError(f"codes outside {low}-{high}; {expected}")
    if first > last:
        raise ValueError(f"a reversed range; {expected} (write {last}-{first})")
    return value


StatusMatch = Annotated[
    str,
    Expected("an HTTP code or a range of them, quoted, like '200' or '200-299'"),
    AfterValidator(_status_match),
    WithJsonSchema({"type": "string", "pattern": r"^[2-4][0-9]{2}(-[2-4][0-9]{2})?$"}),
]


# The characters and length VPC Lattice takes in a health-check path: the HealthCheckPath shape of its
# API model as botocore ships it (data/vpc-lattice/2022-11-30/service-2.json: at most 2,048 characters,
# "^/[a-zA-Z0-9@:%_+.~#?&/=-]*$"); CreateTargetGroup refuses anything else, so the controller would
# never make the target group. Anything else is written percent-encoded (%28 for "(").
_HTTP_PATH = re.compile(r"^/[a-zA-Z0-9@:%_+.~#?&/=-]*$")
_HTTP_PATH_MAX = 2048


def _http_path(value: str) -> str:
    if len(value) > _HTTP_PATH_MAX or not _HTTP_PATH.fullmatch(value):
        raise ValueError(
            f"expected a path starting with / of at most {_HTTP_PATH_MAX} characters, made of letters, "
            "digits and @ : % _ + . ~ # ? & / = - (what VPC Lattice takes; percent-encode anything "
            "else), like /healthz"
        )
    return value


HttpPath = Annotated[
    str,
    Expected(f"a path starting with /, like /healthz (at most {_HTTP_PATH_MAX} characters)"),
    AfterValidator(_http_path),
    WithJsonSchema({"type": "string", "pattern": _HTTP_PATH.pattern, "maxLength": _HTTP_PATH_MAX}),
]


class LatticeHealthCheckConfig(_Model):
    """How VPC Lattice health-checks each colorapp pod (a TargetGroupPolicy per version)."""

    path: HttpPath = Field(default="/healthz", description="HTTP path Lattice requests on each pod.")
    interval_seconds: Annotated[StrictInt, Field(ge=5, le=300)] = Field(
        default=10, description="Seconds between health checks of one target."
    )
    timeout_seconds: Annotated[StrictInt, Field(ge=1, le=120)] = Field(
        default=5, description="Seconds to wait for an answer; less than intervalSeconds."
    )
    healthy_threshold: Annotated[StrictInt, Field(ge=2, le=10)] = Field(
        default=2, description="Consecutive successes before a target receives traffic."
    )
    unhealthy_threshold: Annotated[StrictInt, Field(ge=2, le=10)] = Field(
        default=3, description="Consecutive failures before a target stops receiving traffic."
    )
    status_match: StatusMatch = Field(
        default="200", description="HTTP codes that count as healthy, e.g. `200` or `200-299`."
    )

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> LatticeHealthCheckConfig:
        if self.timeout_seconds >= self.interval_seconds:
            raise KeyedError(
                "timeoutSeconds", f"expected less than intervalSeconds ({self.interval_seconds})"
            )
        return self


class LatticeAccessLogsConfig(_Model):
    """Access logs of the service network: every request, to an encrypted CloudWatch log group."""

    enabled: StrictBool = Field(default=True, description="Log every request through the service network.")
    retention_days: LogRetentionDays = Field(
        default=30, description="Days CloudWatch Logs keeps the access log."
    )


class LatticeConfig(_Model):
    """Settings of the VPC Lattice backend (used when ``backend`` is ``lattice``)."""

    service_network: DnsLabel | None = Field(
        default=None,
        description="Lattice service network name; defaults to `crossmesh-<stack>`. The Gateway takes its "
        "name.",
    )
    controller_chart_version: Literal["v2.1.3"] = Field(
        default="v2.1.3",
        description="aws-gateway-controller-chart version (the leading v is part of it); pinned: values and "
        "IAM are written for it.",
    )
    gateway_api_version: Literal["v1.5.0"] = Field(
        default="v1.5.0", description="Gateway API CRDs the controller requires (v2.1.x needs v1.5)."
    )
    controller_replicas: Annotated[StrictInt, Field(ge=1, le=5)] = Field(
        default=2, description="Replicas of the Gateway API controller."
    )
    # At least 60: controller v2.1.3 refuses to start with 1-59 ("must be 0 (disabled) or at least 60
    # seconds", pkg/config/controller_config.go in aws/aws-application-networking-k8s).
    resync_seconds: Annotated[StrictInt, Field(ge=60, le=3600)] = Field(
        default=300,
        description="The controller's periodic resync (chart value reconcileDefaultResyncSeconds): a "
        "readiness gate set before its route existed is re-evaluated instead of waiting forever.",
    )
    auth: LatticeAuth = Field(
        default=LatticeAuth.IAM,
        description="`iam`: the service network requires SigV4-signed calls allowed by auth policies "
        "(front's role only); `none`: no authentication between services.",
    )
    health_check: LatticeHealthCheckConfig = Field(
        default=LatticeHealthCheckConfig(), description="Lattice health checks of the colorapp pods."
    )
    access_logs: LatticeAccessLogsConfig = Field(
        default=LatticeAccessLogsConfig(), description="Access logs of the service network."
    )


CLUSTER_DNS_ZONES = ("cluster.local",)
"""The zone the clusters' CoreDNS answers from Kubernetes itself (the EKS Corefile's kubernetes plugin;
its reverse zones fall through to the VPC resolver)."""


class MeshConfig(_Model):
    """The service mesh that joins the clusters."""

    backend: MeshBackendKind = Field(
        default=MeshBackendKind.LATTICE,
        description="`appmesh`: AWS App Mesh with Cloud Map discovery (support ended 2026-09-30); "
        "`lattice`: Amazon VPC Lattice through the AWS Gateway API controller.",
    )
    name: DnsLabel = Field(default="global", description="App Mesh mesh name (the blog's `global`).")
    cloud_map_namespace: DnsName = Field(
        default="appmesh-demo.pvt.aws.local",
        description="Private DNS namespace that service discovery registers pods in; created on the shared "
        "VPC.",
    )
    egress_filter: Literal["DROP_ALL", "ALLOW_ALL"] = Field(
        default="DROP_ALL", description="App Mesh egress: only mesh destinations (`DROP_ALL`) or anything."
    )
    tracing: Tracing = Field(
        default=Tracing.NONE,
        description="`none` or `x-ray`: the apps export OpenTelemetry spans to a collector per cluster, "
        "which sends them to X-Ray (either backend).",
    )
    controller_chart_version: Literal["1.13.3"] = Field(
        default="1.13.3",
        description="eks-charts appmesh-controller chart version; pinned: values and IAM are written for it.",
    )
    controller_replicas: Annotated[StrictInt, Field(ge=1, le=5)] = Field(
        default=1,
        description="Replicas of the App Mesh controller, which also serves the sidecar-injection webhook: "
        "run two where pods must always start.",
    )
    route: RouteConfig = Field(
        default=RouteConfig(),
        description="Retries and timeouts of the route to colorapp.",
    )
    lattice: LatticeConfig = Field(
        default=LatticeConfig(),
        description="Settings of the VPC Lattice backend.",
    )

    # Whether the backend supports the other settings is the backend's to say
    # (MeshBackend.config_problems, checked by infra.mesh.backend_for).

    @field_validator("cloud_map_namespace")
    @classmethod
    def _not_a_zone_the_cluster_answers(cls, value: str) -> str:
        # CoreDNS answers the cluster domain itself, and its kubernetes plugin answers NXDOMAIN for a
        # name there it does not know unless told to fall through, which EKS's Corefile does only for
        # the reverse zones (https://coredns.io/plugins/kubernetes/): front could never resolve colorapp.
        for zone in CLUSTER_DNS_ZONES:
            if value == zone or value.endswith(f".{zone}"):
                raise ValueError(
                    f"{value!r} is inside {zone}, which the clusters' own DNS answers: front could never "
                    "resolve colorapp there; expected a private name of your own, like "
                    "appmesh-demo.pvt.aws.local"
                )
        return value


class ColorVersion(_Model):
    """One deployment of colorapp: answers with ``color`` and takes ``weight`` percent of the traffic."""

    color: DnsLabel = Field(description="The color this version answers with; names it (`colorapp-<color>`).")
    cluster: DnsLabel = Field(description="The cluster (a `clusters[].name`) this version runs in.")
    weight: Weight = Field(
        default=50, description="Percent of colorapp's traffic this version takes; all weights sum to 100."
    )
    replicas: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        default=1,
        description="Pods of this version.",
    )


MAX_SOURCE_RANGES = 30
"""Source ranges front's load balancer takes: two security-group rules each, 60 rules by default."""


class FrontConfig(_Model):
    """The public entry point: calls colorapp through the mesh."""

    name: DnsLabel = Field(default="front", description="Deployment, Service and mesh-node name of front.")
    cluster: DnsLabel = Field(default="eksc1", description="The cluster (a `clusters[].name`) front runs in.")
    replicas: Annotated[StrictInt, Field(ge=1, le=100)] = Field(default=1, description="Pods of front.")
    # An empty list is not "nobody": Kubernetes reads no source ranges as open to everyone. At most
    # MAX_SOURCE_RANGES: the cloud provider writes two rules per range into the load balancer's security
    # group (the listener port, and ICMP for path-MTU discovery; ensureLoadBalancer in
    # kubernetes/cloud-provider-aws), and a security group holds 60 inbound rules by default
    # (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups).
    load_balancer_source_ranges: Annotated[tuple[Ipv4Cidr, ...], Field(min_length=1)] = Field(
        default=("0.0.0.0/0",),
        description="Who may reach front's public load balancer (1-30 blocks).",
        json_schema_extra={"maxItems": MAX_SOURCE_RANGES},
    )

    @model_validator(mode="after")
    def _source_ranges_fit_a_security_group(self) -> FrontConfig:
        count = len(self.load_balancer_source_ranges)
        if count > MAX_SOURCE_RANGES:
            raise KeyedError(
                "loadBalancerSourceRanges",
                f"{count} blocks; expected at most {MAX_SOURCE_RANGES}: the load balancer's security group "
                f"gets two rules per block and holds 60 by default; join neighbouring blocks",
            )
        return self


def _default_versions() -> tuple[ColorVersion, ...]:
    return (
        ColorVersion(color="blue", cluster="eksc2", weight=50),
        ColorVersion(color="red", cluster="eksc2", weight=50),
    )


class ColorappConfig(_Model):
    """The service front calls, split by weight across its versions."""

    name: DnsLabel = Field(
        default="colorapp",
        description="Service name: the Cloud Map service and the first label of the name front calls.",
    )
    versions: Annotated[tuple[ColorVersion, ...], Field(min_length=1)] = Field(
        default_factory=_default_versions,
        description="The versions traffic is split across (default blue and red, 50/50 on `eksc2`).",
        json_schema_extra={
            "default": [
                {"color": c, "cluster": "eksc2", "weight": 50, "replicas": 1} for c in ("blue", "red")
            ]
        },
    )
    router_cluster: DnsLabel | None = Field(
        default=None,
        description="Cluster that holds the virtual router and virtual service; defaults to the first "
        "version's cluster.",
    )

    @model_validator(mode="after")
    def _versions_are_consistent(self) -> ColorappConfig:
        seen: set[str] = set()
        for index, version in enumerate(self.versions):
            if version.color in seen:
                raise KeyedError(f"versions[{index}].color", "expected a color not used by another version")
            seen.add(version.color)
        # Weights are percentages: the report, the diagram and verify's split test read them so, and
        # App Mesh and Gateway API both take them as relative weights, which percentages are too.
        total = sum(v.weight for v in self.versions)
        if total != 100:
            raise KeyedError(
                "versions",
                f"weights add up to {total}; expected percentages of the traffic that add up to 100",
            )
        return self

    @property
    def router_cluster_name(self) -> str:
        return self.router_cluster or self.versions[0].cluster


_DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9.:/_-]*@sha256:[0-9a-f]{64}$")
_DIGEST_REF_TEXT = "an image pinned by digest, like registry/repo@sha256:<64 hex digits>"
DigestRef = Annotated[
    str,
    Expected(_DIGEST_REF_TEXT),
    _full_match(_DIGEST_REF, _DIGEST_REF_TEXT),
    WithJsonSchema({"type": "string", "pattern": _DIGEST_REF.pattern}),
]


class ImagesConfig(_Model):
    """Where the app images come from: built from workloads/ and pushed to ECR, or given by digest."""

    build: StrictBool = Field(
        default=True, description="Build with Docker (buildx) and push to this stack's ECR repositories."
    )
    front: DigestRef | None = Field(
        default=None, description="front's image by digest (required when build is false)."
    )
    colorapp: DigestRef | None = Field(
        default=None, description="colorapp's image by digest (required when build is false)."
    )

    @model_validator(mode="after")
    def _refs_when_not_building(self) -> ImagesConfig:
        if not self.build:
            for key in ("front", "colorapp"):
                if getattr(self, key) is None:
                    raise KeyedError(key, "expected an image reference by digest when build is false")
        return self


def _not_reserved_namespace(value: str) -> str:
    if value in RESERVED_NAMESPACES:
        raise ValueError(
            "is reserved (Kubernetes' own or a mesh controller's); expected a namespace of the apps' own"
        )
    return value


def _not_a_proxy_port(value: int) -> int:
    if value == SSH_PORT:
        raise ValueError(
            "is SSH's: the app port is opened between the clusters' nodes, and no security group rule "
            "may admit port 22 (guardrail eks-no-ssh); expected another port, such as 8080"
        )
    if value in PROXY_PORTS:
        raise ValueError(
            "is taken by the mesh proxy or its helpers in every app pod; expected a port other than "
            + ", ".join(str(p) for p in PROXY_PORTS)
        )
    return value


class WorkloadsConfig(_Model):
    """The two apps and where they run."""

    images: ImagesConfig = Field(default=ImagesConfig(), description="Where the app images come from.")
    namespace: Annotated[DnsLabel, AfterValidator(_not_reserved_namespace)] = Field(
        default="appmesh-demo",
        description="Kubernetes namespace of the apps, in every cluster that runs one.",
    )
    port: Annotated[Port, AfterValidator(_not_a_proxy_port)] = Field(
        default=8080, description="Port both apps listen on and colorapp is called on."
    )
    front: FrontConfig = Field(default=FrontConfig(), description="The public entry point.")
    colorapp: ColorappConfig = Field(default=ColorappConfig(), description="The service front calls.")


_POLICY_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _policy_id(value: str) -> str:
    if not _POLICY_ID.fullmatch(value):
        raise ValueError(
            "expected a policy id: lowercase letters, digits and '-', starting with a letter or digit, "
            "like eks-endpoint-public-access-restricted (docs/security.md lists them)"
        )
    return value


PolicyId = Annotated[
    str,
    Expected("a policy id, like eks-endpoint-public-access-restricted (docs/security.md lists them)"),
    AfterValidator(_policy_id),
    WithJsonSchema({"type": "string", "pattern": _POLICY_ID.pattern}),
]


class Relaxation(_Model):
    """An advisory policy this environment does not follow, and why (the render report shows both).

    Which policies exist and which may be relaxed is the policy pack's to say: the guardrails check it
    (``automation/guardrails.py``) where they run, so the model does not import the pack.
    """

    policy: PolicyId = Field(description="Id of an advisory guardrail policy (see docs/security.md).")
    reason: Annotated[str, Field(min_length=10, max_length=500)] = Field(
        description="Why this environment does not follow it (10-500 characters)."
    )


class PolicyConfig(_Model):
    """Guardrails this environment relaxes."""

    relax: tuple[Relaxation, ...] = Field(
        default=(), description="Advisory policies this environment skips, each with its reason."
    )

    @model_validator(mode="after")
    def _one_reason_per_policy(self) -> PolicyConfig:
        seen: set[str] = set()
        for index, item in enumerate(self.relax):
            if item.policy in seen:
                raise KeyedError(f"relax[{index}].policy", "expected each policy to be relaxed at most once")
            seen.add(item.policy)
        return self


class StackConfig(_Model):
    """Everything one environment (one Pulumi stack) is made of."""

    stack: DnsLabel = Field(description="The Pulumi stack (environment) name; not a key of the stack file.")
    region: str = Field(description="AWS region of the stack (one where EKS is available).")
    allowed_account_ids: tuple[AccountId, ...] = Field(
        default=(),
        description="The only AWS accounts this stack may be deployed to, "
        "changed in or destroyed from. The commands refuse credentials of any other account before "
        "anything runs (exit 5), and the program's AWS provider refuses them too.",
    )
    forbidden_account_ids: tuple[AccountId, ...] = Field(
        default=(),
        description="AWS accounts this stack must never touch (checked as "
        "`aws:allowedAccountIds` is; give one or the other).",
    )
    kubernetes_version: KubernetesVersion = Field(
        default=DEFAULT_KUBERNETES_VERSION, description='EKS version of every cluster, quoted (`"1.35"`).'
    )
    network: NetworkConfig = Field(default=NetworkConfig(), description="The shared VPC.")
    clusters: Annotated[tuple[ClusterConfig, ...], Field(min_length=1)] = Field(
        description="The EKS clusters, in order; workloads name the cluster they run in."
    )
    mesh: MeshConfig = Field(default=MeshConfig(), description="The service mesh that joins the clusters.")
    workloads: WorkloadsConfig = Field(default=WorkloadsConfig(), description="The apps and where they run.")
    deletion_protection: StrictBool = Field(
        default=False,
        description="Protect the clusters, KMS keys and VPC from `pulumi destroy` (staging and prod).",
    )
    tags: Mapping[str, str] = Field(
        default_factory=dict[str, str],
        description="Extra tags on every AWS resource (not `aws:`-prefixed and none of the program's own: "
        "`project`, `environment`, `managed-by`, `Name`, `crossmesh/tier`, `kubernetes.io/...`; keys up to "
        "128 and values up to 256 characters; with the program's own, at most 50 on a resource).",
        json_schema_extra={"default": {}},
    )
    policy: PolicyConfig = Field(
        default=PolicyConfig(),
        description="Guardrails: advisory policies this environment relaxes, each with a reason.",
    )
    operators: tuple[IamRoleArn, ...] = Field(
        default=(),
        description="IAM roles given cluster admin (access entries) on every cluster, so a stack made "
        "from CI can be updated, verified and destroyed from a laptop and back. Not the role that creates "
        "the stack: EKS makes that one admin at creation, and a second entry fails (409).",
    )
    traffic_weights: Mapping[str, Weight] | None = Field(
        default=None,
        description="colorapp's weights as `shift` last applied them (color -> percent, summing to 100); "
        "overrides `versions[].weight`. Written by `python -m automation shift` (docs/canary.md).",
    )

    @model_validator(mode="after")
    def _topology_is_consistent(self) -> StackConfig:
        if self.allowed_account_ids and self.forbidden_account_ids:
            # The AWS provider takes one or the other (allowed_account_ids conflicts with
            # forbidden_account_ids in its schema).
            raise KeyedError(
                "forbidden_account_ids",
                "set together with aws:allowedAccountIds; expected one of the two: an allow-list already "
                "forbids every other account",
            )
        self._check_tags()
        self._check_zones()
        self._check_partitions()
        names = [c.name for c in self.clusters]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise KeyedError(f"clusters[{index}].name", "expected a name no other cluster uses")
        known = set(names)

        def _check_cluster(key: str, cluster: str) -> None:
            if cluster not in known:
                raise KeyedError(
                    key, f"unknown cluster {cluster!r}; expected one of {', '.join(sorted(known))}"
                )

        _check_cluster("workloads.front.cluster", self.workloads.front.cluster)
        for index, version in enumerate(self.workloads.colorapp.versions):
            _check_cluster(f"workloads.colorapp.versions[{index}].cluster", version.cluster)
        colorapp = self.workloads.colorapp
        if colorapp.router_cluster is not None:
            _check_cluster("workloads.colorapp.routerCluster", colorapp.router_cluster)
            if colorapp.router_cluster not in {v.cluster for v in colorapp.versions}:
                raise KeyedError(
                    "workloads.colorapp.routerCluster",
                    f"{colorapp.router_cluster!r} runs no colorapp version; expected one of "
                    + ", ".join(sorted({v.cluster for v in colorapp.versions})),
                )
        if self.traffic_weights is not None:
            colors = [v.color for v in colorapp.versions]
            expected = f"expected a weight for each version and no other: {', '.join(colors)}"
            for color, weight in self.traffic_weights.items():
                if color not in colors:
                    raise KeyedError(
                        f"trafficWeights.{color}", f"no version is {color!r}; {expected}", value=weight
                    )
            if sorted(self.traffic_weights) != sorted(colors):
                raise KeyedError("trafficWeights", expected)
            total = sum(self.traffic_weights.values())
            if total != 100:
                raise KeyedError(
                    "trafficWeights", f"weights add up to {total}; expected weights summing to 100"
                )
        # Names that collide once composed (front named like a colorapp version, or like a role the
        # program creates) are refused with both keys by infra.config_limits.
        return self

    def _check_tags(self) -> None:
        room = MAX_TAGS_PER_RESOURCE - reserved_tag_count(len(self.clusters))
        if len(self.tags) > room:
            raise KeyedError(
                "tags",
                f"{len(self.tags)} tags; expected at most {room}: AWS allows {MAX_TAGS_PER_RESOURCE} per "
                f"resource and the program sets up to {MAX_TAGS_PER_RESOURCE - room} of its own",
            )
        for key, value in self.tags.items():
            where = f"tags.{key}"
            if key.lower().startswith("aws:"):
                raise KeyedError(
                    where, "the aws: prefix is reserved for AWS; expected a key of your own", value=value
                )
            if key in PROGRAM_TAG_KEYS or key.startswith(PROGRAM_TAG_PREFIXES):
                raise KeyedError(
                    where,
                    f"{key!r} is a tag the program sets itself (it finds and names this stack's resources "
                    f"by them); expected a key other than {', '.join(PROGRAM_TAG_KEYS)} and not under "
                    f"{', '.join(PROGRAM_TAG_PREFIXES)}",
                    value=value,
                )
            # The cloud provider trims each "key=value" pair and splits it at '=' (it keeps the part
            # before the second '='), so these would tag front's load balancer differently.
            for part, text, lost in (
                ("key", key, key != key.lstrip()),
                ("value", value, value != value.rstrip()),
            ):
                if "=" in text or lost:
                    flaw = "a space the load balancer would lose" if lost else "'='"
                    raise KeyedError(
                        where,
                        f"the tag's {part} {text!r} has {flaw}"
                        ": front's load balancer gets the tags through a key=value,... annotation that the "
                        "cloud provider splits at '=' and trims, so it would carry another tag than every "
                        "other resource; expected a tag without '=', no space before its key and none after "
                        "its value",
                        value=value,
                    )
            if not 1 <= len(key) <= 128 or not _TAG_TEXT.fullmatch(key):
                raise KeyedError(
                    where,
                    "expected a tag key of 1-128 letters, digits, spaces and _ . : / = + - @",
                    value=value,
                )
            if len(value) > 256 or not _TAG_TEXT.fullmatch(value):
                raise KeyedError(
                    where,
                    "expected a tag value of at most 256 letters, digits, spaces and _ . : / = + - @",
                    value=value,
                )

    def _check_partitions(self) -> None:
        """IAM principals from another partition than the region's: EKS cannot grant them access."""
        partition = partition_of(self.region)
        if partition is None:
            return
        given = [
            *(
                (f"clusters[{i}].adminPrincipalArns[{j}]", arn)
                for i, cluster in enumerate(self.clusters)
                for j, arn in enumerate(cluster.admin_principal_arns)
            ),
            *((f"operators[{j}]", arn) for j, arn in enumerate(self.operators)),
        ]
        for key, arn in given:
            theirs = arn.split(":", 2)[1]
            if theirs != partition:
                raise KeyedError(
                    key,
                    f"an ARN of partition {theirs!r}, but region {self.region} is in {partition!r}: "
                    f"IAM principals work only in their own partition; expected arn:{partition}:iam::...",
                    value=arn,
                )

    def _check_zones(self) -> None:
        zones = self.network.availability_zones or ()
        for index, zone in enumerate(zones):
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", zone):
                raise KeyedError(
                    f"network.availabilityZones[{index}]",
                    f"{zone!r} is not a zone of {self.region}; expected a zone name like {self.region}a",
                )

    # Derived views used by the components --------------------------------------------------------

    def cluster(self, name: str) -> ClusterConfig:
        return next(c for c in self.clusters if c.name == name)

    def kubernetes_version_of(self, cluster: ClusterConfig) -> str:
        return cluster.kubernetes_version or self.kubernetes_version

    def kubernetes_version_key(self, index: int) -> str:
        """The key that sets the version of ``clusters[index]``: its own, else the stack-wide one."""
        if self.clusters[index].kubernetes_version:
            return f"crossmesh:clusters[{index}].kubernetesVersion"
        return "crossmesh:kubernetesVersion"

    @property
    def mesh_clusters(self) -> tuple[str, ...]:
        """Clusters that run mesh workloads, in configuration order."""
        used = {self.workloads.front.cluster, *(v.cluster for v in self.workloads.colorapp.versions)}
        return tuple(c.name for c in self.clusters if c.name in used)

    @property
    def service_network_name(self) -> str:
        """The VPC Lattice service network of this environment (lattice backend)."""
        return self.mesh.lattice.service_network or default_service_network(self.stack)

    def eks_name(self, cluster: str) -> str:
        """The physical EKS cluster name: unique per environment in one account and region."""
        return eks_cluster_name(self.stack, cluster)


def reserved_tag_count(clusters: int) -> int:
    """Tags the program itself may put on one resource: project, environment and managed-by on
    everything, and on a subnet Name, its kubernetes.io/role tag and one kubernetes.io/cluster tag
    per cluster."""
    return 3 + 2 + clusters


class _NoValue:
    def __repr__(self) -> str:
        return "(no value)"


NO_VALUE: Any = _NoValue()


class KeyedError(ValueError):
    """A cross-field error that knows which key it is about (relative to the model it was raised in).

    ``value`` is the value given there, for keys the parser cannot find by their path (a tag key with
    dots in it, like ``kubernetes.io/cluster/x``); by default the parser looks the key up itself.
    """

    def __init__(self, key: str, message: str, *, value: Any = NO_VALUE) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.value = value
