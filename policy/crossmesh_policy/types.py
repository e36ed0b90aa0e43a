"""Pulumi type tokens the rules read.

pulumi-eks's ``Cluster`` and ``ManagedNodeGroup`` are remote components: the render and CrossGuard's
resource checks see their inputs. At deploy time the pack also sees what they create inside
(``aws:eks/cluster:Cluster``, ``aws:eks/nodeGroup:NodeGroup``), so rules read both shapes.
"""

from __future__ import annotations

EKS_CLUSTER = "eks:index:Cluster"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
AWS_EKS_CLUSTER = "aws:eks/cluster:Cluster"
AWS_EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_GROUPS = frozenset({EKS_MANAGED_NODE_GROUP, AWS_EKS_NODE_GROUP})
CLUSTERS = frozenset({EKS_CLUSTER, AWS_EKS_CLUSTER})

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUPS = frozenset({SECURITY_GROUP, DEFAULT_SECURITY_GROUP})

IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
IAM_GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_ATTACHMENTS = frozenset(
    {
        IAM_ROLE_POLICY_ATTACHMENT,
        IAM_USER_POLICY_ATTACHMENT,
        IAM_GROUP_POLICY_ATTACHMENT,
        IAM_POLICY_ATTACHMENT,
    }
)
IAM_DOCUMENTS = frozenset({IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY})

ECR_REPOSITORY = "aws:ecr/repository:Repository"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"

K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
K8S_WORKLOADS = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
        "kubernetes:batch/v1:Job",
        K8S_CRON_JOB,
        K8S_POD,
    }
)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHARTS = frozenset({HELM_RELEASE, "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"})

# Kinds that live outside namespaces (the App Mesh ``Mesh`` and Gateway API ``GatewayClass`` are
# cluster-scoped custom resources).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "Mesh",
        "GatewayClass",
    }
)


def is_kubernetes_object(resource_type: str) -> bool:
    """A Kubernetes API object (not a provider, not a Helm chart, not a YAML/kustomize component)."""
    if not resource_type.startswith("kubernetes:") or resource_type in HELM_CHARTS:
        return False
    module = resource_type.split(":")[1]
    return not module.startswith(("yaml", "kustomize", "helm.sh"))
