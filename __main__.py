"""crossmesh: two EKS clusters in one VPC, joined into one service mesh.

This file only wires components together, in dependency order; every decision lives in infra/ and
workloads/, where it is tested. `pulumi up` and `python -m automation deploy ENV` both run this file.
"""

import pulumi
import pulumi_aws as aws

from infra.account import availability_zones, lookup_arns
from infra.cloudmap import CloudMapNamespace, CloudMapNamespaceArgs
from infra.cluster import EksCluster, EksClusterArgs, NodeGroupArgs
from infra.config import Tracing
from infra.config_parse import from_pulumi
from infra.cross_cluster import CrossClusterAccess, CrossClusterAccessArgs
from infra.mesh import MeshContext, backend_for_program, refuse_undeployable_unless_offline
from infra.mesh.backend import ClusterHandle, DiscoveryHandle
from infra.naming import cluster_prefix, flow_logs_group, physical
from infra.paths import PROJECT_DIR
from infra.topology import AppKind, topology_of
from infra.vpc import FlowLogsArgs, SharedVpc, SharedVpcArgs
from workloads.deploy.apps import ClusterApps, ClusterAppsArgs
from workloads.deploy.collector import TraceCollector, TraceCollectorArgs
from workloads.deploy.images import AppImages, AppImagesArgs, image_platforms
from workloads.deploy.manifests import OTLP_HTTP_PORT
from workloads.deploy.names import app_names
from workloads.deploy.namespace import AppNamespace, AppNamespaceArgs

config = from_pulumi()
# Before the first registration: a backend that cannot be deployed stops the run with nothing built.
refuse_undeployable_unless_offline(config)
stack = config.stack
mesh = backend_for_program(config, app_names(config))
topology = topology_of(config)
tags = {"project": "crossmesh", "environment": stack, "managed-by": "pulumi", **config.tags}

aws_provider = aws.Provider(
    "aws",
    region=config.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    allowed_account_ids=list(config.allowed_account_ids) or None,
    forbidden_account_ids=list(config.forbidden_account_ids) or None,
)
with_aws = pulumi.ResourceOptions(providers=[aws_provider])
arns = lookup_arns(aws_provider)

network = config.network
vpc = SharedVpc(
    "network",
    SharedVpcArgs(
        cidr=network.cidr,
        azs=availability_zones(
            aws_provider,
            region=config.region,
            count=network.az_count,
            instance_types=[t for c in config.clusters for t in c.nodes.instance_types],
            wanted=network.availability_zones,
        ),
        private_subnet_prefix=network.private_subnet_prefix,
        public_subnet_prefix=network.public_subnet_prefix,
        cluster_names=[config.eks_name(c.name) for c in config.clusters],
        nat_gateways=network.nat_gateways,
        flow_logs=FlowLogsArgs(
            log_group_name=flow_logs_group(stack),
            role_name=physical(stack, "vpc-flow-logs"),
            retention_days=network.flow_log_retention_days,
        )
        if network.flow_logs
        else None,
        tags=tags,
    ),
    opts=pulumi.ResourceOptions(providers=[aws_provider], protect=config.deletion_protection),
)

discovery = CloudMapNamespace(
    "discovery",
    CloudMapNamespaceArgs(name=config.mesh.cloud_map_namespace, vpc_id=vpc.vpc_id, tags=tags),
    with_aws,
)

# Clusters depend on the network only, never on each other: Pulumi creates them in parallel.
clusters = {
    c.name: EksCluster(
        c.name,
        EksClusterArgs(
            eks_name=config.eks_name(c.name),
            kubernetes_version=config.kubernetes_version_of(c),
            vpc_id=vpc.vpc_id,
            private_subnet_ids=vpc.private_subnet_ids,
            nodes=NodeGroupArgs(
                instance_types=c.nodes.instance_types,
                desired=c.nodes.desired,
                min=c.nodes.min,
                max=c.nodes.max,
                disk_size_gib=c.nodes.disk_size_gib,
                capacity_type=c.nodes.capacity_type,
            ),
            partition=arns.apply(lambda a: a.partition),
            role_prefix=cluster_prefix(stack, c.name),
            service_cidr=network.service_cidr,
            endpoint_private_access=c.endpoint.private_access,
            endpoint_public_access=c.endpoint.public_access,
            public_access_cidrs=c.endpoint.public_access_cidrs,
            admin_principal_arns=c.admin_principal_arns,
            operators=config.operators,
            log_retention_days=c.log_retention_days,
            deletion_protection=config.deletion_protection,
            tags=tags,
        ),
        with_aws,
    )
    for c in config.clusters
}

CrossClusterAccess(
    "cross-cluster",
    CrossClusterAccessArgs(
        rules=mesh.cross_cluster_rules(topology),
        node_security_groups={key: cluster.node_security_group_id for key, cluster in clusters.items()},
        tags=tags,
    ),
    with_aws,
)

mesh_context = MeshContext(
    arns=arns,
    discovery=DiscoveryHandle(
        name=discovery.name,
        id=discovery.id,
        arn=discovery.arn,
        hosted_zone_id=discovery.hosted_zone_id,
        resource=discovery,
    ),
    vpc_id=vpc.vpc_id,
    tags=tags,
)
handles = {
    key: ClusterHandle(
        key=key,
        eks_name=cluster.eks_name,
        provider=cluster.provider,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        node_security_group_id=cluster.node_security_group_id,
        node_group=cluster.node_group,
    )
    for key, cluster in clusters.items()
}
controllers = {
    key: mesh.install(f"{key}-mesh-controller", handles[key], mesh_context, with_aws)
    for key in topology.clusters
}

images = AppImages(
    "images",
    AppImagesArgs(
        stack=stack,
        repo_root=PROJECT_DIR,
        build=config.workloads.images.build,
        refs={
            AppKind.FRONT: config.workloads.images.front,
            AppKind.COLORAPP: config.workloads.images.colorapp,
        },
        platforms=image_platforms(config, topology),
        tags=tags,
    ),
    with_aws,
)

namespaces = {
    key: AppNamespace(
        f"{key}-apps-namespace",
        AppNamespaceArgs(
            name=topology.namespace,
            provider=handles[key].provider,
            labels=mesh.namespace_labels(key),
            after=[controllers[key]],
        ),
    )
    for key in topology.clusters
}
tracing = config.mesh.tracing is Tracing.XRAY
if tracing:
    for key in topology.clusters:
        TraceCollector(
            f"{key}-trace-collector",
            TraceCollectorArgs(
                namespace=topology.namespace,
                provider=handles[key].provider,
                region=config.region,
                oidc_provider_arn=handles[key].oidc_provider_arn,
                oidc_issuer=handles[key].oidc_issuer,
                role_name=f"{physical(stack, key)}-otel-collector",
                after=namespaces[key].namespace,
                pod_annotations=mesh.pod_annotations(mesh_member=False),
                tags=tags,
            ),
            with_aws,
        )
pods_wait_for = mesh.connect(
    "mesh",
    topology,
    handles,
    prerequisites={
        key: [controllers[key], namespaces[key].namespace, clusters[key].node_group]
        for key in topology.clusters
    },
    context=mesh_context,
    opts=with_aws,
)
apps = {
    key: ClusterApps(
        f"{key}-apps",
        ClusterAppsArgs(
            cluster=key,
            topology=topology,
            provider=handles[key].provider,
            oidc_provider_arn=handles[key].oidc_provider_arn,
            oidc_issuer=handles[key].oidc_issuer,
            images=images.refs,
            role_prefix=cluster_prefix(stack, key),
            namespace=namespaces[key].namespace,
            eks_name=config.eks_name(key),
            pod_policies={app.name: mesh.pod_policy(app, mesh_context) for app in topology.apps_in(key)},
            after={app: [*after, clusters[key].node_group] for app, after in pods_wait_for.items()},
            front_service_after=vpc.internet_path,
            route_timeout_ms=config.mesh.route.timeout_ms,
            tracing=tracing,
            mesh_env={app.name: mesh.app_environment(app, topology) for app in topology.apps_in(key)},
            pod_annotations={
                app.name: mesh.pod_annotations(
                    mesh_member=True, ports_outside_mesh=(OTLP_HTTP_PORT,) if tracing else ()
                )
                for app in topology.apps_in(key)
            },
            aws_callers=[app.app for app in topology.apps_in(key) if mesh.app_calls_aws_apis(app)],
            load_balancer_source_ranges=config.workloads.front.load_balancer_source_ranges,
            mesh_cidrs=mesh.traffic_cidrs(),
            tags=tags,
        ),
        with_aws,
    )
    for key in topology.clusters
}

# Where the mesh authenticates callers (Lattice with IAM auth), the apps' own roles are named in its
# auth policies: after the apps, whose roles must exist first.
mesh.authorize(
    "mesh-auth",
    topology,
    handles,
    {name: arn for cluster_apps in apps.values() for name, arn in cluster_apps.role_arns.items()},
    context=mesh_context,
    opts=with_aws,
)

front_hostname = apps[topology.front.cluster].front_hostname
pulumi.export("region", config.region)
pulumi.export("vpcId", vpc.vpc_id)
pulumi.export("cloudMapNamespace", {"name": discovery.name, "id": discovery.id})
pulumi.export("frontUrl", pulumi.Output.concat("http://", front_hostname or "", "/color"))
pulumi.export("images", {app.value: ref for app, ref in images.refs.items()})
# The weights this update applied: `deploy` compares the stack file with them (automation/shift/guard.py).
pulumi.export("trafficWeights", topology.weights)
pulumi.export(
    "clusters",
    {
        key: {"eksName": cluster.eks_name, "kubeconfig": cluster.kubeconfig_json}
        for key, cluster in clusters.items()
    },
)
