"""The App Mesh backend: App Mesh controller per cluster, Cloud Map service discovery across them."""

from __future__ import annotations

from typing import ClassVar

import pulumi

from infra.config import MeshBackendKind
from infra.mesh.appmesh_controller import AppMeshController, AppMeshControllerArgs
from infra.mesh.backend import ClusterHandle, MeshBackend
from infra.naming import physical


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
                tags=self.context.tags,
            ),
            opts,
        )
