"""Physical names the program composes from the configuration: their services' limits, and collisions.

Each configured name is valid on its own (a DNS label), but the program joins several of them: the IAM
role of colorapp-blue in cluster eksc2 of stack dev is ``crossmesh-dev-eksc2-colorapp-blue``, its
Kubernetes Service ``colorapp-blue``. This module lists every physical name the program creates (AWS
and Kubernetes) with the limit and syntax of whatever receives it and the configuration keys that feed
it, so that a configuration is refused before anything runs when one of those names

- is longer than its limit (the longest such name is reported on the key that feeds it);
- breaks its syntax (a Kubernetes Service name must start with a letter; a VPC Lattice name may not
  hold ``--``), reported on the key whose value breaks it;
- equals another name of the same kind and scope composed from different keys (front named
  ``colorapp-blue``, or ``nodes``, which is already a node role's suffix), reported naming both keys.

The apps' Kubernetes names come from their manifest builders (``workloads/deploy/names.py``, above
this module: it hands them in), so there is no second copy of their formats. What a mesh backend adds
(its controller, its mesh objects, the AWS names its controller derives) it lists itself, in
``MeshBackend.composed_names``, and ``MeshBackend.config_problems`` checks them together with these
and the apps'. ``tests/infra/test_config_limits.py``
records the real program and checks that every physical name it creates is listed (and, for
Kubernetes, that nothing listed is missing from it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.config import PROJECT, StackConfig, Tracing
from infra.data import mapping_or_empty
from infra.naming import compose, ecr_repository, flow_logs_group
from infra.topology import AppKind, AppSpec, topology_of

# --------------------------------------------------------------------------------------------------
# Limits, each from the API reference of what receives the name.

# IAM CreateRole RoleName, 1-64: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_ROLE = 64
# EKS CreateCluster name, 1-100: https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html
EKS_CLUSTER = 100
# EKS CreateNodegroup nodegroupName, 1-63; a name prefix gets a 26-character unique suffix from the
# provider (the Terraform plugin SDK's prefixed unique id), so the prefix may use 37.
# https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html
EKS_NODEGROUP_PREFIX = 63 - 26
# EC2 CreateLaunchTemplate LaunchTemplateName, 3-128:
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html
LAUNCH_TEMPLATE = 128
# KMS CreateAlias AliasName, 1-256: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
KMS_ALIAS = 256
# ECR CreateRepository repositoryName, 2-256:
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
ECR_REPOSITORY = 256
# CloudWatch Logs CreateLogGroup logGroupName, 1-512:
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
LOG_GROUP = 512
# A DNS name, at most 253 characters (RFC 1035), e.g. the name front calls.
DNS_NAME = 253

# Kubernetes object names (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
# Services are RFC 1035 labels and namespaces RFC 1123 labels, 63 characters; most other objects,
# custom resources included, are DNS subdomains of 253.
KUBERNETES_LABEL = 63
KUBERNETES_SUBDOMAIN = 253
# Label values, at most 63 characters:
# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
KUBERNETES_LABEL_VALUE = 63
# Helm release names, at most 53 characters (Helm keeps 10 of Kubernetes' 63 for what charts append):
# maxReleaseNameLen in https://github.com/helm/helm/blob/main/pkg/chartutil/validate_name.go
HELM_RELEASE = 53


@dataclass(frozen=True)
class Syntax:
    """The characters a receiving service accepts, beyond the length."""

    expected: str
    pattern: re.Pattern[str]

    def accepts(self, name: str) -> bool:
        return self.pattern.fullmatch(name) is not None


# Service names must start with a letter in every Kubernetes version this program supports (1.32-1.35);
# KEP-5311 relaxes that behind a gate that is alpha in 1.34 and beta only from 1.36:
# https://github.com/kubernetes/enhancements/tree/master/keps/sig-network/5311-relaxed-validation-for-service-names
RFC1035_LABEL = Syntax(
    "an RFC 1035 label (Kubernetes Service names): lowercase letters, digits and '-', starting with a "
    "letter and ending with a letter or digit",
    re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"),
)
RFC1123_LABEL = Syntax(
    "an RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
    re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"),
)
DNS_SUBDOMAIN = Syntax(
    "a DNS subdomain: lowercase labels of letters, digits and '-' joined by '.'",
    re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"),
)
LABEL_VALUE = Syntax(
    "a Kubernetes label value: letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"),
)
STACK_KEY = "(stack name)"

# Roles each cluster gets. Both controllers' roles are listed whatever the backend, so a configuration
# stays valid when only the backend changes (their suffixes have the same length).
CLUSTER_ROLE_SUFFIXES = ("nodes", "vpc-cni", "appmesh-controller", "lattice-controller")
COLLECTOR_ROLE_SUFFIX = "otel-collector"


Part = tuple[str, str]
"""A configuration key and its value."""


@dataclass(frozen=True)
class ComposedName:
    name: str
    limit: int
    what: str
    """What receives the name, e.g. "IAM role name" or "Kubernetes Service name"."""
    parts: tuple[Part, ...]
    """The configuration keys that feed the name, in the order their values appear in it; the last
    one is the name's own key (colorapp-blue: colorapp's name, then the version's color). Empty for a
    name the program fixes."""
    purpose: str
    """What the name is for, e.g. "front's IRSA role" or "the node role of cluster eksc1"."""
    scope: str = ""
    """Where two equal names clash: "" for the account and region, else e.g. "namespace appmesh-demo"."""
    syntax: Syntax | None = None
    unique: bool = True
    """False for label values, which objects share on purpose."""

    @property
    def key(self) -> str:
        """The configuration key that feeds the name, e.g. ``crossmesh:clusters[1].name``."""
        return self.parts[-1][0] if self.parts else ""

    @property
    def value(self) -> str:
        return self.parts[-1][1] if self.parts else ""

    @property
    def fixed(self) -> bool:
        return not self.parts

    @property
    def too_long(self) -> bool:
        return len(self.name) > self.limit

    @property
    def kubernetes_kind(self) -> str | None:
        """``Service`` for a Kubernetes Service name; None for anything else."""
        match = re.fullmatch(r"Kubernetes (\w+) name", self.what)
        return match.group(1) if match else None

    @property
    def namespace(self) -> str | None:
        return self.scope.removeprefix("namespace ") if self.scope.startswith("namespace ") else None

    def message(self, stack: str) -> str:
        return (
            f"composes the {self.what} {self.name!r} ({len(self.name)} characters); the limit is "
            f"{self.limit}: expected a shorter value here or in the names joined with it "
            f"(the stack is {stack!r})"
        )


def config_key(path: str) -> str:
    """``workloads.front.name`` -> ``crossmesh:workloads.front.name``."""
    return f"{PROJECT}:{path}"


def composed_names(config: StackConfig) -> Iterator[ComposedName]:
    """Every AWS name the program creates whatever the mesh backend. The apps' Kubernetes objects and
    label values are ``workloads.deploy.names.app_names``; the backend's own names
    ``MeshBackend.composed_names``."""
    yield from _aws_names(config)


def app_parts(config: StackConfig, app: AppSpec) -> tuple[Part, ...]:
    """The keys that feed an app's name: front's name, or colorapp's name and the version's color."""
    workloads = config.workloads
    if app.version is None:
        return ((config_key("workloads.front.name"), workloads.front.name),)
    index = next(i for i, v in enumerate(workloads.colorapp.versions) if v.color == app.version)
    return (
        (config_key("workloads.colorapp.name"), workloads.colorapp.name),
        (config_key(f"workloads.colorapp.versions[{index}].color"), app.version),
    )


def colorapp_parts(config: StackConfig) -> tuple[Part, ...]:
    return ((config_key("workloads.colorapp.name"), config.workloads.colorapp.name),)


def stack_parts(config: StackConfig) -> tuple[Part, ...]:
    return ((STACK_KEY, config.stack),)


def who(app: AppSpec) -> str:
    """How a message names an app: ``front`` or ``colorapp's blue version``."""
    return "front" if app.version is None else f"colorapp's {app.version} version"


def _aws_names(config: StackConfig) -> Iterator[ComposedName]:
    stack = config.stack
    by_stack = stack_parts(config)
    yield ComposedName(
        compose(stack, "vpc-flow-logs"), IAM_ROLE, "IAM role name", by_stack, "the VPC flow logs' role"
    )
    yield ComposedName(
        f"alias/{compose(stack, 'vpc-flow-logs')}", KMS_ALIAS, "KMS alias", by_stack, "the flow logs' key"
    )
    yield ComposedName(flow_logs_group(stack), LOG_GROUP, "log group name", by_stack, "the VPC flow logs")
    for kind in AppKind:
        yield ComposedName(
            ecr_repository(stack, kind.value),
            ECR_REPOSITORY,
            "ECR repository name",
            by_stack,
            f"{kind.value}'s images",
        )
    tracing = config.mesh.tracing is Tracing.XRAY
    mesh_clusters = set(config.mesh_clusters)
    for index, cluster in enumerate(config.clusters):
        parts = ((config_key(f"clusters[{index}].name"), cluster.name),)
        suffixes = CLUSTER_ROLE_SUFFIXES
        if tracing and cluster.name in mesh_clusters:
            suffixes = (*suffixes, COLLECTOR_ROLE_SUFFIX)
        for suffix in suffixes:
            yield ComposedName(
                compose(stack, cluster.name, suffix),
                IAM_ROLE,
                "IAM role name",
                parts,
                f"the {suffix} role of cluster {cluster.name}",
            )
        eks = config.eks_name(cluster.name)
        yield ComposedName(eks, EKS_CLUSTER, "EKS cluster name", parts, f"cluster {cluster.name}")
        yield ComposedName(
            f"{eks}-",
            EKS_NODEGROUP_PREFIX,
            "node group name prefix",
            parts,
            f"cluster {cluster.name}'s nodes",
        )
        yield ComposedName(
            compose(stack, cluster.name, "nodes"),
            LAUNCH_TEMPLATE,
            "launch template name",
            parts,
            f"cluster {cluster.name}'s nodes",
        )
        for use in ("secrets", "logs"):
            yield ComposedName(
                f"alias/{compose(stack, cluster.name, use)}",
                KMS_ALIAS,
                "KMS alias",
                parts,
                f"the {use} key of cluster {cluster.name}",
            )
        yield ComposedName(
            f"/aws/eks/{eks}/cluster", LOG_GROUP, "log group name", parts, f"cluster {cluster.name}'s logs"
        )
    # Every app gets its own IRSA role name, whether or not its backend gives it a role today.
    for app in topology_of(config).apps:
        yield ComposedName(
            compose(stack, app.cluster, app.name),
            IAM_ROLE,
            "IAM role name",
            app_parts(config, app),
            f"{who(app)}'s IRSA role",
        )
    host = f"{config.workloads.colorapp.name}.{config.mesh.cloud_map_namespace}"
    yield ComposedName(
        host,
        DNS_NAME,
        "DNS name front calls",
        (*colorapp_parts(config), (config_key("mesh.cloudMapNamespace"), config.mesh.cloud_map_namespace)),
        "the name front calls",
    )


# What Kubernetes requires of an object's name, by kind
# (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/): Services are RFC 1035
# labels, namespaces RFC 1123 labels, anything else (custom resources too) a DNS subdomain.
KUBERNETES_NAME_RULES: Mapping[str, tuple[Syntax, int]] = {
    "Service": (RFC1035_LABEL, KUBERNETES_LABEL),
    "Namespace": (RFC1123_LABEL, KUBERNETES_LABEL),
}


def kubernetes_rule(kind: str) -> tuple[Syntax, int]:
    """(syntax, limit) of a Kubernetes object name of ``kind``."""
    return KUBERNETES_NAME_RULES.get(kind, (DNS_SUBDOMAIN, KUBERNETES_SUBDOMAIN))


def kubernetes_name(manifest: Mapping[str, Any], parts: tuple[Part, ...], purpose: str) -> ComposedName:
    """The name of an object a builder made, with the rule its kind's names follow. ``parts`` are the
    keys that feed the name (none for a name the program fixes)."""
    kind = str(manifest["kind"])
    metadata = mapping_or_empty(manifest.get("metadata"))
    namespace = metadata.get("namespace")
    syntax, limit = kubernetes_rule(kind)
    return ComposedName(
        str(metadata["name"]),
        limit,
        f"Kubernetes {kind} name",
        parts,
        purpose,
        scope=f"namespace {namespace}" if namespace else "the cluster",
        syntax=syntax,
    )


def helm_release(name: str, namespace: str, purpose: str) -> ComposedName:
    return ComposedName(
        name,
        HELM_RELEASE,
        "Helm release name",
        (),
        purpose,
        scope=f"namespace {namespace}",
        syntax=DNS_SUBDOMAIN,
    )


def label_value(value: str, parts: tuple[Part, ...], label: str) -> ComposedName:
    return ComposedName(
        value,
        KUBERNETES_LABEL_VALUE,
        "Kubernetes label value",
        parts,
        f"the {label} label",
        syntax=LABEL_VALUE,
        unique=False,
    )


def app_label_values(config: StackConfig, app: AppSpec, labels: Mapping[str, str]) -> Iterator[ComposedName]:
    """An app's label values, each with the key that feeds it (the app's or version's name)."""
    parts = app_parts(config, app)
    for label, value in labels.items():
        if value == app.version:
            yield label_value(value, parts[-1:], label)
        elif value == app.app:
            yield label_value(value, parts[:1], label)
        else:
            yield label_value(value, (), label)


# --------------------------------------------------------------------------------------------------
# Problems


def _syntax_message(composed: ComposedName, syntax: Syntax) -> str:
    return f"composes the {composed.what} {composed.name!r}; expected {syntax.expected}"


def _blamed(composed: ComposedName, syntax: Syntax) -> Part:
    """The part a syntax error is due to: the first whose value alone breaks the syntax, else the name's
    own key ('1app-blue' is colorapp's name's fault, not the color's)."""
    for part in composed.parts:
        if not syntax.accepts(part[1]):
            return part
    return composed.parts[-1]


def _collision_message(composed: ComposedName, other: ComposedName) -> str:
    where = f" in {composed.scope}" if composed.scope else ""
    if other.fixed or other.key == STACK_KEY:
        holder = f"which the program already uses for {other.purpose}"
    else:
        holder = f"which {other.key} ({other.value!r}) also composes, for {other.purpose}"
    return (
        f"composes the {composed.what} {composed.name!r}{where} for {composed.purpose}, {holder}; "
        f"expected a value that makes the two names differ"
    )


def name_problems(config: StackConfig, extra: Iterable[ComposedName] = ()) -> list[tuple[str, str, str]]:
    """(key, value, message) for each key that feeds a name over its limit (the longest such name), a
    name its receiver's syntax refuses, or a name another key (or the program) already composes.
    ``extra``: the mesh backend's own names, checked with the rest."""
    problems: dict[str, tuple[str, str]] = {}
    worst: dict[str, ComposedName] = {}
    names = [*composed_names(config), *extra]
    for composed in names:
        if composed.fixed:
            continue
        if composed.too_long:
            known = worst.get(composed.key)
            if known is None or len(composed.name) - composed.limit > len(known.name) - known.limit:
                worst[composed.key] = composed
    for key, composed in worst.items():
        problems[key] = (composed.value, composed.message(config.stack))
    for composed in names:
        syntax = composed.syntax
        if composed.fixed or syntax is None or syntax.accepts(composed.name):
            continue
        key, value = _blamed(composed, syntax)
        problems.setdefault(key, (value, _syntax_message(composed, syntax)))
    for composed, other in collisions(names):
        problems.setdefault(composed.key, (composed.value, _collision_message(composed, other)))
    return [(key, value, message) for key, (value, message) in problems.items()]


def collisions(names: list[ComposedName]) -> Iterator[tuple[ComposedName, ComposedName]]:
    """(name, the one it collides with) for names of one kind and scope that come from different keys
    or purposes; the second is the one listed first, and fixed names are never reported themselves."""
    first: dict[tuple[str, str, str], ComposedName] = {}
    for composed in names:
        if not composed.unique:
            continue
        slot = (composed.what, composed.scope, composed.name)
        known = first.get(slot)
        if known is None:
            first[slot] = composed
        elif (known.parts, known.purpose) != (composed.parts, composed.purpose):
            if composed.fixed:
                if not known.fixed:
                    yield known, composed
            else:
                yield composed, known
