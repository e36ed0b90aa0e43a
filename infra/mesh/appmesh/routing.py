"""AppMeshObjects: the mesh that joins the clusters, as App Mesh controller custom resources.

One component spans every mesh cluster because the objects depend on each other across clusters:
the router targets colorapp nodes wherever they run (by ARN), and front's node names the virtual
service that lives with the router. Each object is applied with its own cluster's provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import kube
from infra.config import RouteConfig
from infra.mesh.appmesh import objects
from infra.naming import TYPE_PREFIX
from infra.topology import AppSpec, Topology

# The controller creates the AWS object, then writes its ARN back; Pulumi waits for that (WAIT_FOR).
CREATE_TIMEOUT = "10m"


@dataclass(frozen=True)
class AppMeshObjectsArgs:
    topology: Topology
    mesh_name: str
    egress_filter: str
    route: RouteConfig
    arn_of: objects.ArnOf
    providers: Mapping[str, k8s.Provider]
    """Kubernetes provider of each mesh cluster."""
    prerequisites: Mapping[str, Sequence[pulumi.Resource]]
    """Per cluster: what must exist before any mesh object there (controller release, app namespace,
    the Cloud Map namespace). On destroy the objects therefore go first, then the controller."""


class AppMeshObjects(pulumi.ComponentResource):
    """Mesh, virtual nodes, virtual router and virtual service, ordered across clusters."""

    nodes: dict[str, pulumi.CustomResource]
    """Virtual node of each app, by app name: a Deployment must not start before its node exists, or
    the injector finds no node for its pods and they run without a sidecar."""
    meshes: dict[str, pulumi.CustomResource]

    def __init__(
        self, name: str, args: AppMeshObjectsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:AppMeshObjects", name, None, opts)
        topology = args.topology

        put = kube.ClusterApplier(self, args.providers, args.prerequisites, CREATE_TIMEOUT)

        self.meshes = {
            cluster: put(cluster, objects.mesh(args.mesh_name, egress_filter=args.egress_filter), [])
            for cluster in topology.clusters
        }

        # Every node, router and service waits for every Mesh object of the stack, so `destroy` never
        # deletes a mesh while another cluster still has objects in it.
        meshes = list(self.meshes.values())

        def node(app: AppSpec, after: Sequence[pulumi.Resource] = ()) -> pulumi.CustomResource:
            manifest = objects.virtual_node(app, topology, arn_of=args.arn_of, route=args.route)
            return put(app.cluster, manifest, [*meshes, *after])

        self.nodes = {app.name: node(app) for app in topology.colors}
        router_cluster = topology.router_cluster
        # The route targets colorapp nodes in every cluster; App Mesh needs them to exist first.
        router = put(
            router_cluster,
            objects.virtual_router(topology, arn_of=args.arn_of, route=args.route),
            [*meshes, *self.nodes.values()],
        )
        service = put(router_cluster, objects.virtual_service(topology), [*meshes, router])
        # front's node names the virtual service as its backend, so it comes last.
        self.nodes[topology.front.name] = node(topology.front, [service])
        self.register_outputs({"nodes": list(self.nodes)})
