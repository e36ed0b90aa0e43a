"""The App Mesh backend: App Mesh controller per cluster, Cloud Map service discovery across them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import pulumi

from infra import iam
from infra.config import MeshBackendKind, Tracing
from infra.mesh import appmesh_objects
from infra.mesh.appmesh_controller import AppMeshController, AppMeshControllerArgs
from infra.mesh.appmesh_routing import AppMeshObjects, AppMeshObjectsArgs
from infra.mesh.backend import ClusterHandle, MeshBackend
from infra.naming import physical
from infra.topology import AppSpec, Topology


class AppMeshBackend(MeshBackend):
    kind: ClassVar[MeshBackendKind] = MeshBackendKind.APPMESH

    def install(self, name: str, cluster: ClusterHandle, opts: pulumi.ResourceOptions) -> AppMeshController:
        config = self.context.config
        return AppMeshController(
            name,
            AppMeshControllerArgs(
                cluster_name=cluster.eks_name,
                provider=cluster.provider,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                arns=self.context.arns,
                mesh_name=config.mesh.name,
                cloud_map_namespace_arn=self.context.discovery.arn,
                cloud_map_hosted_zone_id=self.context.discovery.hosted_zone_id,
                role_name=physical(config.stack, cluster.key, "appmesh-controller"),
                tracing=config.mesh.tracing,
                chart_version=config.mesh.controller_chart_version,
                replicas=config.mesh.controller_replicas,
                vpc_cidr=config.network.cidr,
                tags=self.context.tags,
            ),
            opts,
        )

    def namespace_labels(self) -> Mapping[str, str]:
        return appmesh_objects.namespace_labels(self.context.config.mesh.name)

    def pod_policy(self, app: AppSpec) -> pulumi.Output[iam.PolicyDocument]:
        config = self.context.config
        node = appmesh_objects.aws_name(app.name, config.workloads.namespace)
        xray = config.mesh.tracing is Tracing.XRAY
        return self.context.arns.apply(
            lambda arns: iam.envoy_policy(arns, mesh=config.mesh.name, virtual_node=node, xray=xray)
        )

    def arn_of(self, kind: str, aws_name: str) -> pulumi.Output[str]:
        """ARN of an object in this mesh; the account is known at deploy time."""
        mesh = self.context.config.mesh.name
        return self.context.arns.apply(lambda arns: arns.appmesh(mesh, kind, aws_name))

    def connect(
        self,
        name: str,
        topology: Topology,
        clusters: Mapping[str, ClusterHandle],
        prerequisites: Mapping[str, Sequence[pulumi.Resource]],
        opts: pulumi.ResourceOptions,
    ) -> Mapping[str, Sequence[pulumi.Resource]]:
        mesh = self.context.config.mesh
        objects = AppMeshObjects(
            name,
            AppMeshObjectsArgs(
                topology=topology,
                mesh_name=mesh.name,
                egress_filter=mesh.egress_filter,
                route=mesh.route,
                arn_of=self.arn_of,
                providers={key: clusters[key].provider for key in topology.clusters},
                prerequisites={
                    key: [*prerequisites.get(key, ()), self.context.discovery.resource]
                    for key in topology.clusters
                },
            ),
            opts,
        )
        # Pods need their node (else the injector finds none and they run without Envoy) and the
        # controller, whose webhook injects the sidecar.
        return {
            app.name: [objects.nodes[app.name], *prerequisites.get(app.cluster, ())] for app in topology.apps
        }

    def traffic_cidrs(self) -> Sequence[str]:
        # Envoys of other clusters (and kubelet probes, Envoy health checks) come from VPC addresses.
        return [self.context.config.network.cidr]
