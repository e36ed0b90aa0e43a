"""What runs where, independent of the mesh backend: derived once from the configuration.

The apps, their Deployments and Services and the name clients call do not change with the backend;
backends read this to decide how to connect the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from infra.config import StackConfig

HTTP_PORT_NAME = "http"
"""The name of the apps' container port, which Services, probes and mesh objects refer to."""
COMMON_LABELS = {"app.kubernetes.io/part-of": "crossmesh", "app.kubernetes.io/managed-by": "pulumi"}
"""Labels on every Kubernetes object the program makes for the apps and their mesh."""


class AppKind(StrEnum):
    FRONT = "front"
    COLORAPP = "colorapp"


@dataclass(frozen=True)
class AppSpec:
    """One Deployment: front, or one color of colorapp."""

    name: str
    """Deployment, ServiceAccount and mesh-node name: ``front``, ``colorapp-blue``."""
    kind: AppKind
    app: str
    """Value of the ``app`` label, shared by all versions of a service: ``front``, ``colorapp``."""
    cluster: str
    replicas: int
    version: str | None = None
    """The color, for colorapp versions."""
    weight: int | None = None
    """Percentage of colorapp traffic, for colorapp versions."""

    @property
    def labels(self) -> dict[str, str]:
        """Pod labels; the mesh selects pods by these."""
        labels = {"app": self.app}
        if self.version is not None:
            labels["version"] = self.version
        return labels


@dataclass(frozen=True)
class Topology:
    namespace: str
    port: int
    front: AppSpec
    colors: tuple[AppSpec, ...]
    service: str
    """colorapp's service name: the Cloud Map service and the first label of the host clients call."""
    discovery_namespace: str
    router_cluster: str

    @property
    def service_host(self) -> str:
        """The name front calls, ``colorapp.appmesh-demo.pvt.aws.local``: the same for every backend."""
        return f"{self.service}.{self.discovery_namespace}"

    @property
    def service_address(self) -> str:
        return f"{self.service_host}:{self.port}"

    @property
    def apps(self) -> tuple[AppSpec, ...]:
        return (self.front, *self.colors)

    def apps_in(self, cluster: str) -> tuple[AppSpec, ...]:
        return tuple(a for a in self.apps if a.cluster == cluster)

    @property
    def clusters(self) -> tuple[str, ...]:
        """Clusters running at least one app, front's first."""
        return tuple(dict.fromkeys(a.cluster for a in self.apps))

    @property
    def weights(self) -> dict[str, int]:
        return {a.version or a.name: a.weight or 0 for a in self.colors}


def topology_of(config: StackConfig) -> Topology:
    w = config.workloads
    # `shift` keeps the weights it applied in crossmesh:trafficWeights; they win over versions[].weight.
    applied = config.traffic_weights or {}
    front = AppSpec(
        name=w.front.name,
        kind=AppKind.FRONT,
        app=w.front.name,
        cluster=w.front.cluster,
        replicas=w.front.replicas,
    )
    colors = tuple(
        AppSpec(
            name=f"{w.colorapp.name}-{v.color}",
            kind=AppKind.COLORAPP,
            app=w.colorapp.name,
            cluster=v.cluster,
            replicas=v.replicas,
            version=v.color,
            weight=applied.get(v.color, v.weight),
        )
        for v in w.colorapp.versions
    )
    return Topology(
        namespace=w.namespace,
        port=w.port,
        front=front,
        colors=colors,
        service=w.colorapp.name,
        discovery_namespace=config.mesh.cloud_map_namespace,
        router_cluster=w.colorapp.router_cluster_name,
    )
