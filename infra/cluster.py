"""EksCluster: one EKS cluster (pulumi-eks 4.x) with a managed node group in private subnets.

Hardened by default: API authentication with access entries, all five control-plane log types in a
KMS-encrypted log group with a retention period, envelope encryption of Secrets with a customer-managed
KMS key, IMDSv2 required with a hop limit of 1 (pods cannot reach the node's credentials), encrypted
gp3 root volumes, no SSH key and no remote access, the VPC CNI on its own IRSA role instead of the node
role. The component exposes a Kubernetes provider built from this cluster's own kubeconfig, never the
ambient one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from infra import iam
from infra.account import arns_for
from infra.config import architecture_of
from infra.endpoint import EndpointGate, EndpointGateArgs
from infra.iam import Arns
from infra.irsa import IrsaRole, IrsaRoleArgs
from infra.log_group import EncryptedLogGroup, EncryptedLogGroupArgs
from infra.naming import TYPE_PREFIX, access_entry_key, child, control_plane_log_group, role_name_of

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


def admin_principals(operators: Sequence[str], admins: Sequence[str]) -> dict[str, str]:
    """Access-entry key -> principal ARN for the operators and the cluster's own admins, each once."""
    found: dict[str, str] = {}
    for arn in (*operators, *admins):
        found.setdefault(access_entry_key(arn), arn)
    return dict(sorted(found.items()))


def ami_type_for(instance_types: Sequence[str]) -> str:
    """The EKS-optimized Amazon Linux 2023 AMI type matching the instance types' architecture."""
    architectures = {architecture_of(t) for t in instance_types}
    if architectures == {"arm64"}:
        return "AL2023_ARM_64_STANDARD"
    if architectures == {"x86_64"}:
        return "AL2023_x86_64_STANDARD"
    raise ValueError(f"instance types mix arm64 and x86_64: {', '.join(instance_types)}")


@dataclass(frozen=True)
class NodeGroupArgs:
    instance_types: Sequence[str]
    desired: int
    min: int
    max: int
    disk_size_gib: int = 20
    capacity_type: str = "ON_DEMAND"


@dataclass(frozen=True)
class EksClusterArgs:
    eks_name: str
    """Physical EKS cluster name (``<key>-<stack>``)."""
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Control-plane ENIs and nodes go here; load balancers find public subnets by their tags."""
    nodes: NodeGroupArgs
    partition: pulumi.Input[str]
    """``aws``, ``aws-cn`` or ``aws-us-gov``: access policy ARNs depend on it."""
    role_prefix: str
    """Prefix of physical IAM names, e.g. ``crossmesh-dev-eksc1``."""
    service_cidr: str = "172.20.0.0/16"
    endpoint_private_access: bool = True
    endpoint_public_access: bool = True
    public_access_cidrs: Sequence[str] = ("0.0.0.0/0",)
    admin_principal_arns: Sequence[str] = ()
    """Extra cluster admins of this cluster (roles or users)."""
    operators: Sequence[str] = ()
    """IAM roles given cluster admin on every cluster (``crossmesh:operators``); never the creator, whom
    EKS makes admin at creation (bootstrapClusterCreatorAdminPermissions)."""
    endpoint_wait_seconds: int = 300
    """How long a new cluster's API endpoint may take to answer from the deploying machine."""
    log_retention_days: int = 90
    deletion_protection: bool = False
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster that depends on nothing but the network: clusters are created in parallel."""

    eks_name: str
    provider: k8s.Provider
    kubeconfig_json: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    """The EKS-created cluster security group, which is the group managed-node-group nodes wear."""
    node_group: pulumi.Resource
    """The managed node group: everything applied in the cluster waits for it (and, on destroy, goes
    before it), through the Kubernetes provider."""
    endpoint_gate: pulumi.Resource
    """Exists once the API endpoint answered from the deploying machine; the provider waits for it."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:EksCluster", name, None, opts)
        tags = dict(args.tags)
        here = pulumi.ResourceOptions(parent=self)
        protect = pulumi.ResourceOptions(parent=self, protect=args.deletion_protection)
        self.eks_name = args.eks_name

        arns = arns_for(self)
        secrets_key = aws.kms.Key(
            child(name, "secrets"),
            description=f"Envelope encryption of Kubernetes Secrets in {args.eks_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # AWS's default policy, stated: the cluster role uses the key through its IAM permissions.
            policy=pulumi.Output.json_dumps(arns.apply(iam.kms_key_policy)),
            tags=tags,
            opts=protect,
        )
        aws.kms.Alias(
            child(name, "secrets"),
            name=f"alias/{args.role_prefix}-secrets",
            target_key_id=secrets_key.key_id,
            opts=here,
        )
        # EKS writes control-plane logs (audit logs included) to this group; creating it first sets the
        # retention and the encryption (and keeps the logs from living forever in an auto-created group).
        log_group = EncryptedLogGroup(
            child(name, "control-plane"),
            EncryptedLogGroupArgs(
                group_name=control_plane_log_group(args.eks_name),
                key_alias=f"{args.role_prefix}-logs",
                description=f"Encryption of the control-plane logs of {args.eks_name}",
                retention_days=args.log_retention_days,
                tags=tags,
                protect=args.deletion_protection,
            ),
            opts=here,
        )

        access_entries = {
            key: eks.AccessEntryArgs(
                principal_arn=self._with_path(arn),
                access_policies={
                    "cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=pulumi.Output.concat(
                            "arn:", args.partition, f":eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}"
                        ),
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for key, arn in admin_principals(args.operators, args.admin_principal_arns).items()
        }
        cluster = eks.Cluster(
            child(name, "eks"),
            eks.ClusterArgs(
                name=args.eks_name,
                version=args.kubernetes_version,
                vpc_id=args.vpc_id,
                private_subnet_ids=args.private_subnet_ids,
                node_associate_public_ip_address=False,
                skip_default_node_group=True,
                # Only managed node groups here, and they wear the EKS-created cluster security group,
                # so pulumi-eks's extra groups would be unused; with them skipped, nodeSecurityGroupId
                # *is* that cluster security group (see node_security_group_id below).
                skip_default_security_groups=True,
                authentication_mode=eks.AuthenticationMode.API,
                access_entries=access_entries,
                create_oidc_provider=True,
                enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
                encryption_config_key_arn=secrets_key.arn,
                endpoint_private_access=args.endpoint_private_access,
                endpoint_public_access=args.endpoint_public_access,
                public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
                kubernetes_service_ip_address_range=args.service_cidr,
                # The VPC CNI is installed below as an add-on with its own IRSA role, so the node role
                # needs no CNI permissions (CIS EKS 5.2.1).
                use_default_vpc_cni=True,
                deletion_protection=args.deletion_protection,
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.deletion_protection, depends_on=[log_group]
            ),
        )
        self.kubeconfig_json = pulumi.Output.secret(cluster.kubeconfig_json)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        # Managed node groups whose launch template names no security group get the cluster security
        # group that EKS creates ("Managed node groups use this security group for control-plane-to-data-
        # plane communication", VpcConfigResponse.clusterSecurityGroupId,
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_VpcConfigResponse.html). pulumi-eks
        # returns exactly that group as nodeSecurityGroupId when skipDefaultSecurityGroups is set
        # (nodejs/eks/cluster/cluster.ts:
        #  `nodeSecurityGroupId: nodeSecurityGroup?.id ?? core.cluster.vpcConfig.clusterSecurityGroupId`).
        self.node_security_group_id = cluster.node_security_group_id

        cni_role = IrsaRole(
            child(name, "vpc-cni"),
            IrsaRoleArgs(
                role_name=f"{args.role_prefix}-vpc-cni",
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                namespace="kube-system",
                service_account="aws-node",
                managed_policies=[iam.VPC_CNI_MANAGED_POLICY],
                partition=args.partition,
                tags=tags,
            ),
            opts=here,
        )
        vpc_cni = aws.eks.Addon(
            child(name, "vpc-cni"),
            cluster_name=args.eks_name,
            addon_name="vpc-cni",
            service_account_role_arn=cni_role.arn,
            # Network policy enforcement is off in the VPC CNI unless asked for; the workloads ship
            # NetworkPolicies (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html).
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            # EKS installed aws-node itself when the cluster was created; adopt it as a managed add-on.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )

        node_role = aws.iam.Role(
            child(name, "nodes"),
            name=f"{args.role_prefix}-nodes",
            description=f"Managed node group of {args.eks_name}",
            assume_role_policy=json.dumps(iam.service_trust_policy("ec2.amazonaws.com")),
            tags=tags,
            opts=here,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                child(name, f"nodes-{policy}"),
                role=node_role.name,
                policy_arn=pulumi.Output.concat("arn:", args.partition, f":iam::aws:policy/{policy}"),
                opts=here,
            )
            for policy in iam.NODE_MANAGED_POLICIES
        ]

        launch_template = aws.ec2.LaunchTemplate(
            child(name, "nodes"),
            name=f"{args.role_prefix}-nodes",
            description=f"Hardened nodes of {args.eks_name}",
            # No key_name and no vpc_security_group_ids: no SSH, and EKS attaches the cluster SG.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 1 keeps IMDS replies from crossing into pod network namespaces; pods use IRSA instead.
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # root volume of Amazon Linux 2023 EKS AMIs
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.nodes.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={**tags, "Name": f"{args.eks_name}-node"}
                )
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            tags=tags,
            opts=here,
        )
        self.node_group = eks.ManagedNodeGroup(
            child(name, "nodes"),
            cluster=cluster,
            node_group_name_prefix=f"{args.eks_name}-",
            node_role_arn=node_role.arn,
            subnet_ids=args.private_subnet_ids,
            instance_types=list(args.nodes.instance_types),
            ami_type=ami_type_for(args.nodes.instance_types),
            capacity_type=args.nodes.capacity_type,
            version=args.kubernetes_version,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=args.nodes.desired, min_size=args.nodes.min, max_size=args.nodes.max
            ),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id, version=launch_template.latest_version.apply(str)
            ),
            labels={"crossmesh.dev/cluster": name},
            tags=tags,
            # The CNI must run on its IRSA role before the first node joins, and the node role must
            # hold its policies before EKS checks it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster, vpc_cni, *node_policies]),
        )

        self.endpoint_gate = EndpointGate(
            child(name, "endpoint-ready"),
            EndpointGateArgs(
                cluster_name=args.eks_name,
                kubeconfig=self.kubeconfig_json,
                wait_seconds=args.endpoint_wait_seconds,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        # Every Kubernetes object and Helm release of this cluster uses this provider, and the engine
        # orders a resource after its provider and deletes it before (a provider is a dependency of
        # the resources it manages; https://github.com/pulumi/pulumi/pull/15322). So on `up` nothing
        # is applied before the nodes exist and the endpoint answers, and on `destroy` every object and
        # release is gone while the nodes still run the controllers that clear their finalizers.
        self.provider = k8s.Provider(
            child(name, "k8s"),
            kubeconfig=self.kubeconfig_json,
            # Lets `destroy` finish when the cluster is already gone instead of failing on every object.
            # A cluster that exists but does not answer from the deploying machine is taken for gone
            # as well (its objects dropped from the state undeleted): `python -m automation destroy`
            # and `refresh` refuse that case first (automation/preflight.py, check_endpoints_for_cleanup).
            delete_unreachable=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[cluster, self.node_group, self.endpoint_gate]
            ),
        )
        self.register_outputs(
            {
                "eksName": args.eks_name,
                "accessEntries": sorted(access_entries),
                "oidcProviderArn": self.oidc_provider_arn,
                "nodeSecurityGroupId": self.node_security_group_id,
            }
        )

    def _with_path(self, arn: str) -> pulumi.Input[str]:
        """A role's ARN as IAM has it, path included (iam:GetRole). A configured ARN often has no path
        (it is copied from an STS assumed-role ARN, which never shows one), while the access entry must
        name the role itself, path and all; an entry for an STS session principal is refused
        (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html)."""
        role = role_name_of(arn)
        if role is None:
            return arn
        account = arn.split(":")[4]

        # GetRole looks a name up in the deploying account only; a role of another account stays as given.
        def resolve(arns: Arns) -> pulumi.Input[str]:
            if arns.account_id != account:
                return arn
            return aws.iam.get_role_output(name=role, opts=pulumi.InvokeOutputOptions(parent=self)).arn

        return arns_for(self).apply(resolve)
