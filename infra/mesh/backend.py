"""The mesh backend interface: what the rest of the program asks of a service mesh.

The apps, their Deployments and Services, and the name clients call
(``colorapp.appmesh-demo.pvt.aws.local:8080`` by default) do not depend on the backend. Everything
that does is a method here, and each backend answers it from its own folder (``infra/mesh/<kind>/``):
which controller runs in each cluster, which labels the app namespace needs, which IAM the app pods
need, which objects describe the routing, which doors between clusters it needs, what the apps'
containers must be told, how the architecture is drawn, what verification checks, and which Pod
Security exceptions its pods require. Nothing outside a backend's folder asks which backend is
configured (tests/infra/mesh/test_backend_boundary.py enforces it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_kubernetes as k8s

from infra import iam
from infra.config import MeshBackendKind, StackConfig
from infra.config_limits import ComposedName, name_problems
from infra.config_parse import Problem
from infra.cross_cluster import AccessRule
from infra.topology import AppSpec, Topology, topology_of


@dataclass(frozen=True)
class ClusterHandle:
    """What a backend may use of one cluster."""

    key: str
    """Cluster key from the configuration, e.g. ``eksc1``."""
    eks_name: str
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    node_group: pulumi.Resource | None = None
    """The cluster's nodes: controllers and mesh objects go after them, and on destroy before them."""


@dataclass(frozen=True)
class DiscoveryHandle:
    """The Cloud Map namespace shared by all clusters."""

    name: str
    id: pulumi.Output[str]
    arn: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]
    resource: pulumi.Resource
    """Mesh objects depend on it: the namespace must exist before anything registers in it."""


@dataclass(frozen=True)
class MeshContext:
    """Stack-wide facts a backend needs at deploy time."""

    arns: pulumi.Output[iam.Arns]
    discovery: DiscoveryHandle
    vpc_id: pulumi.Output[str]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


@dataclass(frozen=True)
class PodSecurityException:
    """A namespace that may enforce a laxer Pod Security level than ``restricted``, and why."""

    level: str
    """``privileged`` or ``baseline``."""
    reason: str


@dataclass(frozen=True)
class VerifyTargets:
    """The backend's part of the verification plan: which AWS objects to look for, by name."""

    virtual_node_names: Mapping[str, str] = field(default_factory=dict[str, str])
    """color -> AWS virtual node name (App Mesh)."""
    router_name: str = ""
    route_name: str = ""
    front_node_name: str | None = None
    service_network: str | None = None
    """The VPC Lattice service network (Lattice)."""
    invoker_role: str | None = None
    """The IAM role name the Lattice auth policies must name as their only principal (front's), or
    ``None`` when calls are not IAM-authenticated."""
    lattice_service: str | None = None
    """The name of the Lattice service made of colorapp's route (Lattice): unique per account and
    region, where its custom domain is unique only per service network."""
    tracing: bool = False
    """Pods carry a tracing sidecar to check for."""


class MeshBackend(ABC):
    """One way of joining the clusters into a mesh.

    The configuration-only methods are pure (render, report, verification and preflight call them
    without any engine); the deploy-time ones take a :class:`MeshContext` and create resources.
    """

    kind: ClassVar[MeshBackendKind]

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    # --- decisions from the configuration alone ---------------------------------------------------

    max_weighted_targets: ClassVar[tuple[int, str]]
    """How many versions one route can split traffic across, and the backend's reason."""

    def config_problems(self, app_names: Iterable[ComposedName] = ()) -> list[Problem]:
        """Settings of the configuration this backend cannot honour (checked before anything runs);
        ``app_names`` are the apps' Kubernetes names (``workloads.deploy.names.app_names``), checked
        with the backend's own."""
        colors = [version.color for version in self.config.workloads.colorapp.versions]
        limit, why = self.max_weighted_targets
        if len(colors) > limit:
            return [
                Problem(
                    "crossmesh:workloads.colorapp.versions",
                    colors,
                    f"{len(colors)} versions; expected at most {limit}: {why}",
                )
            ]
        # The backend's own names and the apps' Kubernetes names (handed in from workloads/deploy,
        # a room above this one), over their limits, against their syntax or colliding with each
        # other or with the AWS names the configuration model has checked already.
        extra = [*app_names, *self.composed_names(topology_of(self.config))]
        return [Problem(key, value, message) for key, value, message in name_problems(self.config, extra)]

    def composed_names(self, topology: Topology) -> Iterable[ComposedName]:
        """Every physical name this backend creates beyond the apps' own (infra.config_limits): its
        controller, its mesh objects, the AWS names it or its controller chooses."""
        return ()

    def unavailable(self) -> tuple[str, str] | None:
        """(why, what to do) when this backend cannot be deployed at all; None when it can."""
        return None

    def state_markers(self) -> frozenset[str]:
        """Resource types whose presence in a stack's state shows this backend was deployed there."""
        return frozenset()

    @abstractmethod
    def namespace_labels(self, cluster: str) -> Mapping[str, str]:
        """Labels the apps' namespace in ``cluster`` needs (mesh membership, injection, Pod Security
        level)."""

    @abstractmethod
    def traffic_cidrs(self) -> Sequence[str]:
        """Where mesh traffic to the apps comes from, for NetworkPolicies (which take CIDRs only)."""

    @abstractmethod
    def cross_cluster_rules(self, topology: Topology) -> tuple[AccessRule, ...]:
        """Node-to-node security group rules this backend's data plane needs between clusters."""

    @abstractmethod
    def app_environment(self, app: AppSpec, topology: Topology) -> Mapping[str, str]:
        """Backend-specific environment of an app's container (merged over the common one)."""

    def app_calls_aws_apis(self, app: AppSpec) -> bool:
        """Whether an app's pods need HTTPS to AWS APIs (their NetworkPolicy opens 443 only to these).
        By default every app does (a sidecar of the mesh may call its control plane)."""
        return True

    def pod_annotations(
        self, *, mesh_member: bool, ports_outside_mesh: Sequence[int] = ()
    ) -> Mapping[str, str]:
        """Annotations of a pod template in the apps' namespace. ``mesh_member``: an app (its mesh
        node selects it); otherwise a helper no mesh node selects (the trace collector).
        ``ports_outside_mesh``: ports an app calls that are no mesh destination (the collector's OTLP
        port). None by default."""
        return {}

    @abstractmethod
    def pod_security_exceptions(self, topology: Topology) -> Mapping[str, PodSecurityException]:
        """Namespaces (by name) that may enforce less than ``restricted``, with the reason."""

    @abstractmethod
    def controller_release(self) -> str:
        """``namespace/name`` of the controller's Helm release, for messages about it."""

    @abstractmethod
    def diagram(self, topology: Topology) -> str:
        """The architecture as a Mermaid flowchart."""

    @abstractmethod
    def verify_targets(self, topology: Topology) -> VerifyTargets:
        """What verification looks for; the checks themselves live in
        ``automation/verify/backends/<kind>.py``."""

    # --- deploy time ---------------------------------------------------------------------------------

    @abstractmethod
    def install(
        self, name: str, cluster: ClusterHandle, context: MeshContext, opts: pulumi.ResourceOptions
    ) -> pulumi.ComponentResource:
        """Install the backend's controller in ``cluster``; mesh objects there must wait for it."""

    @abstractmethod
    def pod_policy(self, app: AppSpec, context: MeshContext) -> pulumi.Output[iam.PolicyDocument] | None:
        """IAM policy for an app's pods (what the mesh's sidecars call), or None when none is needed."""

    @abstractmethod
    def connect(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        prerequisites: Mapping[str, Sequence[pulumi.Resource]],
        *,
        context: MeshContext,
        opts: pulumi.ResourceOptions,
    ) -> Mapping[str, Sequence[pulumi.Resource]]:
        """Create the routing objects that join the clusters.

        ``prerequisites`` lists, per cluster, what must exist before the backend's objects there.
        Returns, per app name, what the app's pods must wait for.
        """

    def authorize(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        callers: Mapping[str, pulumi.Output[str]],
        *,
        context: MeshContext,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """After the apps: let the apps' own IAM roles (``callers``, by app name) call through the
        mesh, where the mesh authenticates callers. Nothing to do by default."""
        return


def mermaid_id(name: str) -> str:
    """Mermaid node ids: letters, digits and underscores only."""
    return "".join(c if c.isalnum() else "_" for c in name)


def mermaid_header(config: StackConfig) -> list[str]:
    """The part of every backend's diagram that does not depend on the backend."""
    return [
        "flowchart LR",
        '  internet(["Internet"]) -->|"HTTP :80"| lb["front load balancer"]',
        f'  subgraph vpc["Shared VPC {config.network.cidr}"]',
        "    direction LR",
    ]
