"""ClusterApps: the apps one cluster runs, with a service account and IRSA role each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from infra import kube
from infra.irsa import IrsaRole, IrsaRoleArgs
from infra.naming import TYPE_PREFIX, child
from infra.topology import AppKind, AppSpec, Topology
from workloads.deploy import manifests


@dataclass(frozen=True)
class ClusterAppsArgs:
    cluster: str
    topology: Topology
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    images: Mapping[AppKind, pulumi.Input[str]]
    role_prefix: str
    """Prefix of the IAM role names, e.g. ``crossmesh-dev-eksc2``."""
    namespace: pulumi.Resource
    eks_name: str
    """The EKS cluster's name (``eksc2-dev``): the spans' ``k8s.cluster.name``."""
    pod_policies: Mapping[str, pulumi.Input[Mapping[str, Any]] | None] = field(default_factory=dict[str, Any])
    """IAM policy of each app's pods (what the mesh sidecars need), by app name; None: no role."""
    after: Mapping[str, Sequence[pulumi.Resource]] = field(
        default_factory=dict[str, Sequence[pulumi.Resource]]
    )
    """Per app: what must exist before its pods start (its mesh node, the mesh controller)."""
    route_timeout_ms: int = 3000
    tracing: bool = False
    """Export spans to the cluster's trace collector (OTLP)."""
    mesh_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict[str, Mapping[str, str]])
    """Per app: the mesh backend's environment for its container (MeshBackend.app_environment); it
    wins over the defaults."""
    pod_annotations: Mapping[str, Mapping[str, str]] = field(default_factory=dict[str, Mapping[str, str]])
    """Per app: the mesh backend's annotations of its pod template (MeshBackend.pod_annotations)."""
    aws_callers: Sequence[str] | None = None
    """The ``app`` labels of the pods that call AWS APIs (MeshBackend.app_calls_aws_apis); None: all."""
    load_balancer_source_ranges: Sequence[str] = ("0.0.0.0/0",)
    front_service_after: Sequence[pulumi.Resource] = ()
    """What front's LoadBalancer Service waits for: the internet gateway and the public subnets' routes,
    so on destroy its load balancer and ENIs are gone before they are deleted."""
    mesh_cidrs: Sequence[str] = ()
    """Where mesh traffic comes from (the shared VPC): NetworkPolicies admit the app port from there."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


def _load_balancer_hostname(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    return (ingress[0].hostname or ingress[0].ip or "") if ingress else ""


class ClusterApps(pulumi.ComponentResource):
    front_hostname: pulumi.Output[str] | None
    """DNS name of front's load balancer, when front runs in this cluster."""
    deployments: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: ClusterAppsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:ClusterApps", name, None, opts)
        topology = args.topology
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace])
        self.role_arns: dict[str, pulumi.Output[str]] = {}
        """IRSA role ARN of each app that has one, by app name (resolves once its policy is attached)."""
        self.deployments = {
            app.name: self._app(name, app, args, on_cluster) for app in topology.apps_in(args.cluster)
        }

        self.front_hostname = None
        if topology.front.cluster == args.cluster:
            service = cast(
                k8s.core.v1.Service,
                kube.apply(
                    child(name, "front-service"),
                    manifests.front_service(
                        topology,
                        source_ranges=args.load_balancer_source_ranges,
                        tags=args.tags,
                        route_timeout_ms=args.route_timeout_ms,
                    ),
                    pulumi.ResourceOptions.merge(
                        on_cluster, pulumi.ResourceOptions(depends_on=list(args.front_service_after))
                    ),
                ),
            )
            self.front_hostname = service.status.apply(_load_balancer_hostname)
        if any(a.cluster == args.cluster for a in topology.colors):
            kube.apply(child(name, "colorapp-service"), manifests.colorapp_service(topology), on_cluster)
        for policy in manifests.network_policies(
            topology, args.cluster, mesh_cidrs=args.mesh_cidrs, aws_callers=args.aws_callers
        ):
            kube.apply(child(name, f"netpol-{policy['metadata']['name']}"), policy, on_cluster)
        self.register_outputs({"deployments": list(self.deployments)})

    def _app(
        self, name: str, app: AppSpec, args: ClusterAppsArgs, on_cluster: pulumi.ResourceOptions
    ) -> pulumi.CustomResource:
        topology = args.topology
        policy = args.pod_policies.get(app.name)
        role_arn: pulumi.Output[str] | None = None
        if policy is not None:
            role = IrsaRole(
                child(name, f"{app.name}-irsa"),
                IrsaRoleArgs(
                    role_name=f"{args.role_prefix}-{app.name}",
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer=args.oidc_issuer,
                    namespace=topology.namespace,
                    service_account=app.name,
                    policy=policy,
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            role_arn = role.arn
            self.role_arns[app.name] = role.arn
        account = kube.apply(
            child(name, f"{app.name}-sa"), manifests.service_account(app, topology, role_arn), on_cluster
        )
        env = manifests.app_env(
            app,
            topology,
            route_timeout_ms=args.route_timeout_ms,
            tracing=args.tracing,
            eks_name=args.eks_name,
            backend_env=args.mesh_env.get(app.name),
        )
        deployment = kube.apply(
            child(name, app.name),
            manifests.deployment(
                app,
                topology,
                image=args.images[app.kind],
                env=env,
                annotations=args.pod_annotations.get(app.name),
            ),
            pulumi.ResourceOptions.merge(
                on_cluster, pulumi.ResourceOptions(depends_on=[account, *args.after.get(app.name, ())])
            ),
        )
        budget = manifests.pod_disruption_budget(app, topology)
        if budget is not None:
            kube.apply(child(name, f"{app.name}-pdb"), budget, on_cluster)
        return deployment
