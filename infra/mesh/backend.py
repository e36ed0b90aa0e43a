"""The mesh backend interface: what the rest of the program asks of a service mesh.

The apps, their Deployments and Services, and the name clients call
(``colorapp.appmesh-demo.pvt.aws.local:8080`` by default) do not depend on the backend. A backend
decides only how clusters are joined: which controller runs in each cluster, which labels the app
namespace needs, which IAM the app pods need, and which objects describe the routing. App Mesh is
the first backend; VPC Lattice (AWS Gateway API controller) is the second, behind this same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_kubernetes as k8s

from infra import iam
from infra.config import MeshBackendKind, StackConfig
from infra.topology import AppSpec, Topology


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
    """Stack-wide facts a backend needs."""

    config: StackConfig
    arns: pulumi.Output[iam.Arns]
    discovery: DiscoveryHandle
    vpc_id: pulumi.Output[str]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class MeshBackend(ABC):
    """One way of joining the clusters into a mesh."""

    kind: ClassVar[MeshBackendKind]

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    @abstractmethod
    def install(
        self, name: str, cluster: ClusterHandle, opts: pulumi.ResourceOptions
    ) -> pulumi.ComponentResource:
        """Install the backend's controller in ``cluster``; mesh objects there must wait for it."""

    @abstractmethod
    def namespace_labels(self) -> Mapping[str, str]:
        """Labels the apps' namespace needs (mesh membership, injection, Pod Security level)."""

    @abstractmethod
    def pod_policy(self, app: AppSpec) -> pulumi.Output[iam.PolicyDocument] | None:
        """IAM policy for an app's pods (what the mesh's sidecars call), or None when none is needed."""

    @abstractmethod
    def connect(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        prerequisites: Mapping[str, Sequence[pulumi.Resource]],
        opts: pulumi.ResourceOptions,
    ) -> Mapping[str, Sequence[pulumi.Resource]]:
        """Create the routing objects that join the clusters.

        ``prerequisites`` lists, per cluster, what must exist before the backend's objects there.
        Returns, per app name, what the app's pods must wait for.
        """

    @abstractmethod
    def traffic_cidrs(self) -> Sequence[str]:
        """Where mesh traffic to the apps comes from, for NetworkPolicies (which take CIDRs only)."""
