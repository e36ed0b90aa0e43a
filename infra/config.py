"""The stack configuration, read once into a typed, validated model.

Pulumi hands a program its configuration as a flat map of ``namespace:key`` to string, where
structured values are JSON-encoded (``crossmesh:clusters`` -> ``'[{"name": "eksc1", ...}]'``).
:func:`parse_config` turns that map into :class:`StackConfig` or raises :class:`ConfigError` listing
every problem with the key, the value that was given and what was expected. Nothing downstream reads
raw configuration again.

YAML keys are camelCase (the Pulumi convention); the Python attributes are snake_case.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.data import as_list, as_mapping
from infra.network import SubnetPlanError, plan_subnets, service_cidr_problem
from policy.crossmesh_policy import ADVISORY_IDS as ADVISORY_POLICIES
from policy.crossmesh_policy import BY_ID as POLICIES
from policy.crossmesh_policy import Level

PROJECT = "crossmesh"

# Kubernetes minor versions this program is tested against: EKS standard support as of late 2026 and
# the schemas that kubernetes-validate ships (1.25-1.37).
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"

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
    if value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise ValueError(f"expected one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)} (a quoted string)")
    return value


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE.fullmatch(value):
        raise ValueError("expected an EC2 instance type such as t3.medium or m6i.large")
    return value


def _iam_principal_arn(value: str) -> str:
    if not _IAM_PRINCIPAL_ARN.fullmatch(value):
        raise ValueError(
            "expected an IAM role or user ARN, like arn:aws:iam::123456789012:role/platform-admins"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
KubernetesVersion = Annotated[str, AfterValidator(_kubernetes_version)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]
IamPrincipalArn = Annotated[str, AfterValidator(_iam_principal_arn)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Weight = Annotated[StrictInt, Field(ge=0, le=100)]


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

    cidr: Ipv4Cidr = "172.16.0.0/16"
    """VPC CIDR block (the blog used 172.16.0.0/16)."""
    az_count: Annotated[StrictInt, Field(ge=2, le=6)] = 2
    """How many availability zones to spread subnets over; EKS needs at least two."""
    private_subnet_prefix: Annotated[StrictInt, Field(ge=16, le=28)] = 19
    """Prefix length of each private subnet. Pods take VPC addresses (VPC CNI), so these are large."""
    public_subnet_prefix: Annotated[StrictInt, Field(ge=16, le=28)] = 24
    """Prefix length of each public subnet (load balancers and NAT gateways only)."""
    nat_gateways: NatGatewayMode = NatGatewayMode.SINGLE
    flow_logs: StrictBool = True
    """Send VPC flow logs (rejected and accepted) to CloudWatch Logs."""
    flow_log_retention_days: Annotated[StrictInt, Field(ge=1, le=3653)] = 30
    service_cidr: Ipv4Cidr = "172.20.0.0/16"
    """Kubernetes service IP range of every cluster; must not overlap the VPC."""
    availability_zones: tuple[DnsLabel, ...] | None = None
    """Exact zones to use, when the region's first ``azCount`` zones won't do (e.g. a zone EKS
    rejects with UnsupportedAvailabilityZoneException); its length must equal ``azCount``."""

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        if self.availability_zones is not None:
            if len(self.availability_zones) != self.az_count:
                raise _KeyedError("availabilityZones", f"expected exactly azCount ({self.az_count}) zones")
            if len(set(self.availability_zones)) != len(self.availability_zones):
                raise _KeyedError("availabilityZones", "expected each zone once")
        placeholder_azs = [f"az{i}" for i in range(self.az_count)]
        try:
            plan_subnets(
                self.cidr,
                placeholder_azs,
                private_prefix=self.private_subnet_prefix,
                public_prefix=self.public_subnet_prefix,
            )
        except SubnetPlanError as exc:
            raise _KeyedError("privateSubnetPrefix", f"subnets don't fit: {exc}") from None
        problem = service_cidr_problem(self.service_cidr, self.cidr)
        if problem:
            raise _KeyedError("serviceCidr", problem)
        return self


# Graviton instance families carry a "g" after the generation number: m7g, c7gn, t4g, r8gd.
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")


def architecture_of(instance_type: str) -> Literal["arm64", "x86_64"]:
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


class NodeGroupConfig(_Model):
    """The managed node group of one cluster. Nodes sit in private subnets; there is no SSH."""

    instance_types: Annotated[tuple[InstanceType, ...], Field(min_length=1)] = ("t3.medium",)
    desired: Annotated[StrictInt, Field(ge=1)] = 2
    min: Annotated[StrictInt, Field(ge=1)] = 1
    max: Annotated[StrictInt, Field(ge=1)] = 3
    disk_size_gib: Annotated[StrictInt, Field(ge=20, le=16384)] = 20
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"

    @model_validator(mode="after")
    def _sizes_are_ordered(self) -> NodeGroupConfig:
        if len({architecture_of(t) for t in self.instance_types}) > 1:
            raise _KeyedError(
                "instanceTypes", "expected instance types of one architecture (a node group has one AMI type)"
            )
        if self.min > self.max:
            raise _KeyedError("min", f"expected min <= max ({self.max})")
        if not self.min <= self.desired <= self.max:
            raise _KeyedError("desired", f"expected desired between min ({self.min}) and max ({self.max})")
        return self


class EndpointConfig(_Model):
    """Who may reach the Kubernetes API server."""

    private_access: StrictBool = True
    public_access: StrictBool = True
    """Public endpoint for operators and CI; restrict it with publicAccessCidrs."""
    public_access_cidrs: tuple[Ipv4Cidr, ...] = ("0.0.0.0/0",)


class ClusterConfig(_Model):
    """One EKS cluster. Its ``name`` is the stable key; the EKS cluster is named ``<name>-<stack>``."""

    name: DnsLabel
    kubernetes_version: KubernetesVersion | None = None
    """Defaults to the stack-wide ``crossmesh:kubernetesVersion``."""
    nodes: NodeGroupConfig = NodeGroupConfig()
    endpoint: EndpointConfig = EndpointConfig()
    admin_principal_arns: tuple[IamPrincipalArn, ...] = ()
    """IAM roles or users granted cluster admin through EKS access entries (the creator is always admin)."""
    log_retention_days: Annotated[StrictInt, Field(ge=1, le=3653)] = 90


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

    timeout_ms: Annotated[StrictInt, Field(ge=100, le=60_000)] = 3000
    """Whole-request deadline, retries included."""
    max_retries: Annotated[StrictInt, Field(ge=0, le=10)] = 2
    per_retry_timeout_ms: Annotated[StrictInt, Field(ge=50, le=60_000)] = 1000

    @model_validator(mode="after")
    def _retries_fit_the_deadline(self) -> RouteConfig:
        if self.per_retry_timeout_ms > self.timeout_ms:
            raise _KeyedError("perRetryTimeoutMs", f"expected at most timeoutMs ({self.timeout_ms})")
        return self


class LatticeConfig(_Model):
    """Settings of the VPC Lattice backend (used when ``backend`` is ``lattice``)."""

    service_network: DnsLabel | None = None
    """Lattice service network name; defaults to ``crossmesh-<stack>``. The Gateway takes its name."""
    controller_chart_version: Literal["v2.1.3"] = "v2.1.3"
    """aws-gateway-controller-chart version (the leading v is part of it); pinned: values and IAM are
    written for it."""
    gateway_api_version: Literal["v1.5.0"] = "v1.5.0"
    """Gateway API CRDs the controller requires (v2.1.x needs v1.5)."""
    controller_replicas: Annotated[StrictInt, Field(ge=1, le=5)] = 2


class MeshConfig(_Model):
    backend: MeshBackendKind = MeshBackendKind.APPMESH
    name: DnsLabel = "global"
    """App Mesh mesh name (the blog's ``global``)."""
    cloud_map_namespace: DnsName = "appmesh-demo.pvt.aws.local"
    """Private DNS namespace that service discovery registers pods in; created on the shared VPC."""
    egress_filter: Literal["DROP_ALL", "ALLOW_ALL"] = "DROP_ALL"
    tracing: Tracing = Tracing.NONE
    controller_chart_version: Literal["1.13.3"] = "1.13.3"
    """eks-charts appmesh-controller chart version; pinned: values and IAM are written for it."""
    controller_replicas: Annotated[StrictInt, Field(ge=1, le=5)] = 1
    """The controller also serves the sidecar-injection webhook: run two where pods must always start."""
    route: RouteConfig = RouteConfig()
    lattice: LatticeConfig = LatticeConfig()
    # Whether the backend supports the other settings is the backend's to say
    # (MeshBackend.config_problems, checked by infra.mesh.backend_for).


class ColorVersion(_Model):
    """One deployment of colorapp: answers with ``color`` and takes ``weight`` percent of the traffic."""

    color: DnsLabel
    cluster: DnsLabel
    weight: Weight = 50
    replicas: Annotated[StrictInt, Field(ge=1, le=100)] = 1


class FrontConfig(_Model):
    name: DnsLabel = "front"
    cluster: DnsLabel = "eksc1"
    replicas: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    load_balancer_source_ranges: tuple[Ipv4Cidr, ...] = ("0.0.0.0/0",)
    """Who may reach front's public load balancer."""


def _default_versions() -> tuple[ColorVersion, ...]:
    return (
        ColorVersion(color="blue", cluster="eksc2", weight=50),
        ColorVersion(color="red", cluster="eksc2", weight=50),
    )


class ColorappConfig(_Model):
    name: DnsLabel = "colorapp"
    versions: Annotated[tuple[ColorVersion, ...], Field(min_length=1)] = Field(
        default_factory=_default_versions
    )
    router_cluster: DnsLabel | None = None
    """Cluster that holds the virtual router and virtual service; defaults to the first version's cluster."""

    @model_validator(mode="after")
    def _versions_are_consistent(self) -> ColorappConfig:
        seen: set[str] = set()
        for index, version in enumerate(self.versions):
            if version.color in seen:
                raise _KeyedError(f"versions[{index}].color", "expected a color not used by another version")
            seen.add(version.color)
        if sum(v.weight for v in self.versions) == 0:
            raise _KeyedError(
                "versions", "weights are all zero; expected at least one version with weight > 0"
            )
        return self

    @property
    def router_cluster_name(self) -> str:
        return self.router_cluster or self.versions[0].cluster


_DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9.:/_-]*@sha256:[0-9a-f]{64}$")


def _digest_ref(value: str) -> str:
    if not _DIGEST_REF.fullmatch(value):
        raise ValueError("expected an image pinned by digest, like registry/repo@sha256:<64 hex digits>")
    return value


DigestRef = Annotated[str, AfterValidator(_digest_ref)]


class ImagesConfig(_Model):
    """Where the app images come from: built from workloads/ and pushed to ECR, or given by digest."""

    build: StrictBool = True
    """Build with Docker (buildx) and push to this stack's ECR repositories."""
    front: DigestRef | None = None
    colorapp: DigestRef | None = None

    @model_validator(mode="after")
    def _refs_when_not_building(self) -> ImagesConfig:
        if not self.build:
            for key in ("front", "colorapp"):
                if getattr(self, key) is None:
                    raise _KeyedError(key, "expected an image reference by digest when build is false")
        return self


class WorkloadsConfig(_Model):
    images: ImagesConfig = ImagesConfig()
    namespace: DnsLabel = "appmesh-demo"
    """Kubernetes namespace of the apps, in every cluster that runs one."""
    port: Port = 8080
    front: FrontConfig = FrontConfig()
    colorapp: ColorappConfig = ColorappConfig()


class Relaxation(_Model):
    """An advisory policy this environment does not follow, and why (the render report shows both)."""

    policy: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    reason: Annotated[str, Field(min_length=10, max_length=500)]


class PolicyConfig(_Model):
    relax: tuple[Relaxation, ...] = ()

    @model_validator(mode="after")
    def _one_reason_per_policy(self) -> PolicyConfig:
        seen: set[str] = set()
        advisory = ", ".join(ADVISORY_POLICIES)
        for index, item in enumerate(self.relax):
            if item.policy in seen:
                raise _KeyedError(f"relax[{index}].policy", "expected each policy to be relaxed at most once")
            seen.add(item.policy)
            rule = POLICIES.get(item.policy)
            if rule is None:
                close = did_you_mean(item.policy, POLICIES)
                hint = f"did you mean {close!r}? " if close else ""
                raise _KeyedError(
                    f"relax[{index}].policy", f"unknown policy; {hint}expected an advisory policy: {advisory}"
                )
            if rule.level is not Level.ADVISORY:
                raise _KeyedError(
                    f"relax[{index}].policy",
                    f"{item.policy} is {rule.level} and cannot be relaxed; "
                    f"expected an advisory policy: {advisory}",
                )
        return self


class StackConfig(_Model):
    """Everything one environment (one Pulumi stack) is made of."""

    stack: DnsLabel
    region: str
    kubernetes_version: KubernetesVersion = DEFAULT_KUBERNETES_VERSION
    network: NetworkConfig = NetworkConfig()
    clusters: Annotated[tuple[ClusterConfig, ...], Field(min_length=1)]
    mesh: MeshConfig = MeshConfig()
    workloads: WorkloadsConfig = WorkloadsConfig()
    deletion_protection: StrictBool = False
    """Protect the clusters, KMS keys and VPC from `pulumi destroy` (staging and prod)."""
    tags: Mapping[str, str] = Field(default_factory=dict[str, str])
    policy: PolicyConfig = PolicyConfig()
    """Guardrails: advisory policies this environment relaxes, each with a reason."""

    @model_validator(mode="after")
    def _topology_is_consistent(self) -> StackConfig:
        names = [c.name for c in self.clusters]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedError(f"clusters[{index}].name", "expected a name no other cluster uses")
        known = set(names)

        def _check_cluster(key: str, cluster: str) -> None:
            if cluster not in known:
                raise _KeyedError(
                    key, f"unknown cluster {cluster!r}; expected one of {', '.join(sorted(known))}"
                )

        _check_cluster("workloads.front.cluster", self.workloads.front.cluster)
        for index, version in enumerate(self.workloads.colorapp.versions):
            _check_cluster(f"workloads.colorapp.versions[{index}].cluster", version.cluster)
        colorapp = self.workloads.colorapp
        if colorapp.router_cluster is not None:
            _check_cluster("workloads.colorapp.routerCluster", colorapp.router_cluster)
            if colorapp.router_cluster not in {v.cluster for v in colorapp.versions}:
                raise _KeyedError(
                    "workloads.colorapp.routerCluster",
                    f"{colorapp.router_cluster!r} runs no colorapp version; expected one of "
                    + ", ".join(sorted({v.cluster for v in colorapp.versions})),
                )
        if self.workloads.front.name == colorapp.name:
            raise _KeyedError("workloads.front.name", "front and colorapp need different names")
        if self.workloads.front.name in {f"{colorapp.name}-{v.color}" for v in colorapp.versions}:
            raise _KeyedError("workloads.front.name", "collides with a colorapp version's name")
        return self

    # Derived views used by the components --------------------------------------------------------

    def cluster(self, name: str) -> ClusterConfig:
        return next(c for c in self.clusters if c.name == name)

    def kubernetes_version_of(self, cluster: ClusterConfig) -> str:
        return cluster.kubernetes_version or self.kubernetes_version

    @property
    def mesh_clusters(self) -> tuple[str, ...]:
        """Clusters that run mesh workloads, in configuration order."""
        used = {self.workloads.front.cluster, *(v.cluster for v in self.workloads.colorapp.versions)}
        return tuple(c.name for c in self.clusters if c.name in used)

    @property
    def service_network_name(self) -> str:
        """The VPC Lattice service network of this environment (lattice backend)."""
        return self.mesh.lattice.service_network or f"crossmesh-{self.stack}"

    def eks_name(self, cluster: str) -> str:
        """The physical EKS cluster name: unique per environment in one account and region."""
        return f"{cluster}-{self.stack}"


class _KeyedError(ValueError):
    """A cross-field error that knows which key it is about (relative to the model it was raised in)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


# --------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Problem:
    key: str
    """Full configuration key, e.g. ``crossmesh:clusters[1].nodes.min``."""
    value: Any
    message: str

    def __str__(self) -> str:
        shown = (
            "(missing)"
            if self.value is _MISSING
            else "(the default)"
            if self.value is _DEFAULT
            else _show(self.value)
        )
        return f"{self.key}: got {shown}; {self.message}"


class ConfigError(Exception):
    """Bad configuration. Every problem names the key, the value given and what was expected."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()
_DEFAULT: Any = _Missing()


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------------------------------
# Parsing

# Top-level keys of the project namespace and the model field each maps to.
_TOP_LEVEL = {
    f"{PROJECT}:kubernetesVersion": "kubernetes_version",
    f"{PROJECT}:network": "network",
    f"{PROJECT}:clusters": "clusters",
    f"{PROJECT}:mesh": "mesh",
    f"{PROJECT}:workloads": "workloads",
    f"{PROJECT}:deletionProtection": "deletion_protection",
    f"{PROJECT}:tags": "tags",
    f"{PROJECT}:policy": "policy",
}
_STRING_KEYS = frozenset({"kubernetes_version"})
_REGION_KEY = "aws:region"


def parse_config(raw: Mapping[str, str], stack: str, *, source: str = "") -> StackConfig:
    """Validate Pulumi's flat configuration map for ``stack``.

    ``raw`` is what Pulumi gives a program: every value a string, structured ones JSON-encoded.
    Raises :class:`ConfigError` with every problem found; never returns a half-valid model.
    """
    problems: list[Problem] = []
    data: dict[str, Any] = {"stack": stack}

    region = raw.get(_REGION_KEY)
    if region is None:
        problems.append(Problem(_REGION_KEY, _MISSING, "expected the AWS region, e.g. us-east-1"))
    else:
        region_problem = _check_region(region)
        if region_problem:
            problems.append(Problem(_REGION_KEY, region, region_problem))
        data["region"] = region

    for key, text in raw.items():
        namespace, _, _name = key.partition(":")
        if namespace != PROJECT:
            continue
        field = _TOP_LEVEL.get(key)
        if field is None:
            problems.append(Problem(key, _decode(text), _unknown_key_message(key, _TOP_LEVEL)))
            continue
        # Scalars arrive as strings; keep string-typed keys verbatim so "1.30" stays "1.30".
        data[field] = text if field in _STRING_KEYS else _decode(text)

    if "clusters" not in data:
        problems.append(
            Problem(f"{PROJECT}:clusters", _MISSING, "expected a list of clusters, each with at least a name")
        )

    problems.extend(_unknown_nested_keys(StackConfig, data, path=""))
    if problems:
        raise ConfigError(problems, source)

    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems_from(exc, data), source) from None


def parse_stack_file(document: Mapping[str, Any], stack: str, *, source: str = "") -> StackConfig:
    """Validate a parsed ``Pulumi.<stack>.yaml`` document (its ``config:`` block)."""
    config = as_mapping(document.get("config") or {})
    if config is None:
        raise ConfigError([Problem("config", document.get("config"), "expected a mapping of keys")], source)
    return parse_config(flatten_config(config), stack, source=source)


def flatten_config(config: Mapping[str, Any]) -> dict[str, str]:
    """A stack file's ``config:`` block as Pulumi passes it to a program: structured values as JSON."""
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def _decode(text: str) -> Any:
    """Pulumi passes structured values as JSON and plain ones as strings; accept both."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


@cache
def _known_regions() -> frozenset[str]:
    import botocore.session  # noqa: PLC0415 - only needed when validating, keeps `import infra` light

    session: Any = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(str(r) for r in session.get_available_regions("eks", partition_name=partition))
    return frozenset(regions)


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: typos, including swapped neighbours, cost 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate if it is a plausible typo of ``word`` (ties go to the alphabetically first)."""
    scored = sorted((_edit_distance(word.lower(), c.lower()), c) for c in candidates)
    if not scored:
        return None
    distance, best = scored[0]
    return best if distance <= max(2, len(word) // 3) else None


def _check_region(region: str) -> str | None:
    if region in _known_regions():
        return None
    close = did_you_mean(region, _known_regions())
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"expected an AWS region where EKS is available, as botocore knows them{hint}"


def _unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    close = did_you_mean(key, allowed)
    hint = f"did you mean {close!r}? " if close else ""
    return f"unknown key; {hint}expected one of {', '.join(sorted(allowed))}"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like ``Foo``, ``Foo | None`` or ``tuple[Foo, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_of(get_args(annotation)[0])
    if origin in (Union, UnionType, tuple, list):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _unknown_nested_keys(model: type[BaseModel], data: Any, path: str) -> list[Problem]:
    """Unknown keys anywhere in ``data``, each with a did-you-mean from the model's own keys."""
    mapping = as_mapping(data)
    if mapping is None:
        return []
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    accepted = {**fields, **model.model_fields}
    problems: list[Problem] = []
    for key, value in mapping.items():
        full = _join(path, key)
        info = accepted.get(key)
        if info is None:
            problems.append(Problem(_full_key(full), value, _unknown_key_message(key, fields)))
            continue
        inner = _model_of(info.annotation)
        if inner is None:
            continue
        items = as_list(value)
        if items is not None:
            for index, item in enumerate(items):
                problems.extend(_unknown_nested_keys(inner, item, f"{full}[{index}]"))
        else:
            problems.extend(_unknown_nested_keys(inner, value, full))
    return problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _full_key(path: str) -> str:
    """``clusters[0].name`` -> ``crossmesh:clusters[0].name``; ``region`` -> ``aws:region``."""
    if path == "region":
        return _REGION_KEY
    match = re.match(r"[^.\[]*", path)
    head = match.group(0) if match else path
    rest = path[len(head) :]
    for key, field in _TOP_LEVEL.items():
        if head in (field, to_camel(field)):
            return key + rest
    return f"{PROJECT}:{path}"


def _loc_to_path(loc: Sequence[int | str], data: Any) -> tuple[str, Any]:
    """Turn a pydantic error location into a config path and pick the offending value out of ``data``."""
    path = ""
    value: Any = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            items = as_list(value)
            value = items[part] if items is not None and part < len(items) else _MISSING
            continue
        if part.startswith("function-") or part in {"tagged-union", "literal"}:
            continue
        key = to_camel(part) if "_" in part else part
        path = _join(path, key)
        found = as_mapping(value)
        value = found.get(key, found.get(part, _MISSING)) if found is not None else _MISSING
    return path, value


def _problems_from(exc: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    errors = exc.errors(include_url=False)
    failed = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]
    problems: list[Problem] = []
    for error in errors:
        # A list whose items failed is also reported as too short by pydantic: say it once.
        if error["type"] == "too_short" and any(f[: len(error["loc"])] == error["loc"] for f in failed):
            continue
        loc: tuple[int | str, ...] = tuple(error["loc"])
        context: dict[str, Any] = dict(error.get("ctx") or {})
        cause = context.get("error")
        if isinstance(cause, _KeyedError):
            base, _ = _loc_to_path(loc, data)
            path = _join(base, cause.key)
            _, value = _loc_to_path(_path_to_loc(path), data)
            # A cross-field check can fail on a key the user never set: its default is what was "given".
            problems.append(Problem(_full_key(path), _DEFAULT if value is _MISSING else value, cause.message))
            continue
        path, value = _loc_to_path(loc, data)
        if value is _MISSING and error["type"] != "missing":
            value = error.get("input", _MISSING)
        message = (
            str(cause) if isinstance(cause, ValueError) else _expected(error["type"], error["msg"], context)
        )
        problems.append(Problem(_full_key(path) if path else PROJECT, value, message))
    return problems


def _path_to_loc(path: str) -> tuple[int | str, ...]:
    loc: list[int | str] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        loc.append(int(index) if index else name)
    return tuple(loc)


def _expected(kind: str, msg: str, context: Mapping[str, Any]) -> str:
    """Pydantic's wording, rephrased as 'expected ...' where we know better."""
    if kind == "missing":
        return "required key is missing"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "expected a whole number"
    if kind in {"bool_type", "bool_parsing"}:
        return "expected true or false"
    if kind == "greater_than_equal":
        return f"expected a number >= {context.get('ge')}"
    if kind == "less_than_equal":
        return f"expected a number <= {context.get('le')}"
    if kind == "literal_error":
        return f"expected {context.get('expected')}"
    if kind == "enum":
        return f"expected {context.get('expected')}"
    if kind == "too_short":
        return f"expected at least {context.get('min_length')} item(s)"
    if kind in {"string_type", "tuple_type", "list_type", "dict_type", "model_type", "model_attributes_type"}:
        return msg[0].lower() + msg[1:] if msg else kind
    return msg[0].lower() + msg[1:] if msg else kind


def from_pulumi() -> StackConfig:
    """Read and validate the running program's configuration (inside ``pulumi up`` or the recorder).

    A bad configuration stops the program before any resource is registered, with every problem
    listed and no Python traceback (``pulumi.RunError``).
    """
    import pulumi  # noqa: PLC0415 - the CLI validates config without loading the Pulumi SDK
    from pulumi.runtime.config import CONFIG, get_config_env  # noqa: PLC0415

    raw = {**get_config_env(), **CONFIG.get()}
    stack = pulumi.get_stack()
    try:
        return parse_config({k: str(v) for k, v in raw.items()}, stack, source=f"Pulumi.{stack}.yaml")
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from exc
