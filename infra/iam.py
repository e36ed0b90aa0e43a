"""IAM policy documents as pure functions: least privilege, scoped to this stack's resources.

Each builder returns the JSON-ready dict AWS receives. Components pass the dict through ``Output`` when
an ARN is only known at deploy time. No ``*FullAccess`` managed policy is used anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PolicyDocument = dict[str, Any]

VERSION = "2012-10-17"


@dataclass(frozen=True)
class Arns:
    """Where ARNs of this stack live. ``partition`` is ``aws``, ``aws-cn`` or ``aws-us-gov``."""

    partition: str
    region: str
    account_id: str

    def appmesh_mesh(self, mesh: str) -> str:
        return f"arn:{self.partition}:appmesh:{self.region}:{self.account_id}:mesh/{mesh}"

    def appmesh(self, mesh: str, kind: str, aws_name: str) -> str:
        """ARN of an object inside a mesh; ``kind`` is ``virtualNode``, ``virtualService``, ... ."""
        return f"{self.appmesh_mesh(mesh)}/{kind}/{aws_name}"

    def managed_policy(self, name: str) -> str:
        return f"arn:{self.partition}:iam::aws:policy/{name}"

    def dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition:
        body["Condition"] = condition
    return body


def document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def service_trust_policy(*services: str) -> PolicyDocument:
    """Trust policy letting AWS services (``eks.amazonaws.com``, ``ec2.amazonaws.com``) assume a role."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": sorted(services)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def irsa_trust_policy(
    oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str
) -> PolicyDocument:
    """Trust policy for IAM Roles for Service Accounts: exactly one service account of one cluster.

    ``oidc_issuer`` is the issuer without ``https://``. Both the subject and the audience are pinned,
    as the EKS user guide recommends (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
    """
    issuer = oidc_issuer.removeprefix("https://")
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


# App Mesh ------------------------------------------------------------------------------------------

_APPMESH_KINDS = ("VirtualRouter", "VirtualService", "Route", "GatewayRoute", "VirtualNode", "VirtualGateway")


def appmesh_controller_policy(
    arns: Arns, *, mesh: str, cloud_map_namespace_arn: str, hosted_zone_id: str
) -> PolicyDocument:
    """What the App Mesh controller (eks-charts appmesh-controller 1.13.3) calls, for one mesh.

    The action list follows the controller's published policy (config/iam/controller-iam-policy.json in
    aws/aws-app-mesh-controller-for-k8s), narrowed: App Mesh actions only on this mesh and what is in it,
    Cloud Map service creation only in this namespace, DNS record changes only in its hosted zone.
    Cloud Map's RegisterInstance/DeregisterInstance also need the Route 53 calls listed here
    (https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-api-permissions-ref.html).
    """
    mesh_arn = arns.appmesh_mesh(mesh)
    appmesh_actions = [
        "appmesh:DescribeMesh",
        "appmesh:CreateMesh",
        "appmesh:UpdateMesh",
        "appmesh:DeleteMesh",
        *(
            f"appmesh:{verb}{kind}"
            for kind in _APPMESH_KINDS
            for verb in ("Describe", "Create", "Update", "Delete")
        ),
        *(f"appmesh:List{kind}s" for kind in _APPMESH_KINDS if kind != "Route"),
        "appmesh:ListRoutes",
    ]
    service_arns = f"arn:{arns.partition}:servicediscovery:{arns.region}:{arns.account_id}:service/*"
    return document(
        # ListMeshes has no resource type: it can only be granted on "*".
        statement("ListMeshes", ["appmesh:ListMeshes"], "*"),
        statement("ManageThisMesh", sorted(set(appmesh_actions)), [mesh_arn, f"{mesh_arn}/*"]),
        statement(
            "CreateAppMeshServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{arns.partition}:iam::{arns.account_id}:role/aws-service-role/appmesh.{arns.dns_suffix()}/AWSServiceRoleForAppMesh",
            {"StringLike": {"iam:AWSServiceName": [f"appmesh.{arns.dns_suffix()}"]}},
        ),
        # The controller reads certificates only when a listener or backend uses TLS.
        statement("ListCertificates", ["acm:ListCertificates", "acm-pca:ListCertificateAuthorities"], "*"),
        statement(
            "ReadCertificates",
            ["acm:DescribeCertificate", "acm-pca:DescribeCertificateAuthority"],
            [
                f"arn:{arns.partition}:acm:{arns.region}:{arns.account_id}:certificate/*",
                f"arn:{arns.partition}:acm-pca:{arns.region}:{arns.account_id}:certificate-authority/*",
            ],
        ),
        statement(
            "CloudMapReadAnywhere",
            [
                "servicediscovery:ListNamespaces",
                "servicediscovery:ListServices",
                "servicediscovery:GetOperation",
            ],
            "*",
        ),
        statement(
            "CloudMapCreateServicesInNamespace", ["servicediscovery:CreateService"], cloud_map_namespace_arn
        ),
        statement(
            "CloudMapManageInstances",
            [
                "servicediscovery:DeleteService",
                "servicediscovery:GetService",
                "servicediscovery:GetInstance",
                "servicediscovery:RegisterInstance",
                "servicediscovery:DeregisterInstance",
                "servicediscovery:ListInstances",
                "servicediscovery:GetInstancesHealthStatus",
                "servicediscovery:UpdateInstanceCustomHealthStatus",
            ],
            service_arns,
        ),
        statement(
            "DnsRecordsInNamespaceZone",
            ["route53:ChangeResourceRecordSets"],
            f"arn:{arns.partition}:route53:::hostedzone/{hosted_zone_id}",
        ),
        # Route 53 health-check calls are made by Cloud Map on RegisterInstance. CreateHealthCheck
        # supports no resource-level permissions; reading, changing and deleting one are scoped to
        # health checks (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonroute53.html).
        statement("CloudMapCreateHealthChecks", ["route53:CreateHealthCheck"], "*"),
        statement(
            "CloudMapManageHealthChecks",
            ["route53:GetHealthCheck", "route53:UpdateHealthCheck", "route53:DeleteHealthCheck"],
            f"arn:{arns.partition}:route53:::healthcheck/*",
        ),
    )


def envoy_policy(arns: Arns, *, mesh: str, virtual_node: str, xray: bool) -> PolicyDocument:
    """What an app pod's injected sidecars need: Envoy's xDS stream for its own virtual node only,
    and X-Ray writes when tracing is on (the daemon sidecar uses the pod's credentials)."""
    statements = [
        statement(
            "EnvoyConfigForThisNode",
            ["appmesh:StreamAggregatedResources"],
            arns.appmesh(mesh, "virtualNode", virtual_node),
        )
    ]
    if xray:
        statements.append(
            statement(
                "XRayWrite",
                [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "*",  # X-Ray write APIs have no resource types
            )
        )
    return document(*statements)


# KMS key policies ----------------------------------------------------------------------------------


def key_admin_statement(arns: Arns) -> dict[str, Any]:
    """The statement AWS puts in a key created without a policy: the account controls the key, so IAM
    policies decide who may use it (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {
        "Sid": "AccountControlsKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{arns.partition}:iam::{arns.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def kms_key_policy(arns: Arns) -> PolicyDocument:
    """AWS's default key policy, written out so the key's access is visible in review and in scans."""
    return {"Version": VERSION, "Statement": [key_admin_statement(arns)]}


def log_group_arn(arns: Arns, name: str) -> str:
    return f"arn:{arns.partition}:logs:{arns.region}:{arns.account_id}:log-group:{name}"


def logs_key_policy(arns: Arns, log_group_names: Sequence[str]) -> PolicyDocument:
    """A key CloudWatch Logs may use for these log groups only.

    CloudWatch Logs encrypts a group's data with the key as the regional service principal, passing the
    group's ARN as encryption context; the condition holds the key to exactly these groups
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    """
    return {
        "Version": VERSION,
        "Statement": [
            key_admin_statement(arns),
            {
                "Sid": "CloudWatchLogsForTheseGroupsOnly",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{arns.region}.{arns.dns_suffix()}"},
                "Action": [
                    "kms:Decrypt*",
                    "kms:Describe*",
                    "kms:Encrypt*",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            log_group_arn(arns, name) for name in log_group_names
                        ]
                    }
                },
            },
        ],
    }


def flow_logs_policy(log_group_arn: str) -> PolicyDocument:
    """VPC Flow Logs delivery into one log group (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html)."""
    return document(
        statement(
            "DeliverToOneLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [log_group_arn, f"{log_group_arn}:*"],
        ),
        statement("DescribeLogGroups", ["logs:DescribeLogGroups"], "*"),
    )


# Managed policies the node role and the VPC CNI need; none of them is a *FullAccess policy.
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    # Read-only pulls from ECR (CIS EKS 5.1.3); nodes never push.
    "AmazonEC2ContainerRegistryReadOnly",
)
VPC_CNI_MANAGED_POLICY = "AmazonEKS_CNI_Policy"


# VPC Lattice ----------------------------------------------------------------------------------------

# What the AWS Gateway API controller v2.1.3 calls (aws/aws-application-networking-k8s,
# pkg/aws/services/vpclattice.go), instead of the upstream recommended "vpc-lattice:*". Resources stay
# "*": the controller lists every target group of the account to resolve ServiceImports and creates
# Lattice objects under generated names.
_LATTICE_OWNED = ("Service", "Listener", "Rule", "TargetGroup", "ServiceNetworkServiceAssociation")
# Pulumi creates the service network and its VPC association (one VPC can join only one network);
# the controller only looks them up. It reads access-log subscriptions but is given no AccessLogPolicy.
_LATTICE_READ = ("ServiceNetwork", "ServiceNetworkVpcAssociation", "AccessLogSubscription")
_LATTICE_SCOPED = tuple(
    sorted(
        {
            *(
                f"vpc-lattice:{verb}{kind}"
                for kind in _LATTICE_OWNED
                for verb in ("Create", "Get", "Update", "Delete")
            ),
            *(f"vpc-lattice:Get{kind}" for kind in _LATTICE_READ),
            "vpc-lattice:RegisterTargets",
            "vpc-lattice:DeregisterTargets",
            # Auth policies are written only for IAMAuthPolicy objects, which crossmesh does not use.
            "vpc-lattice:GetAuthPolicy",
            "vpc-lattice:ListTagsForResource",
            "vpc-lattice:TagResource",
            "vpc-lattice:UntagResource",
        }
    )
)
# Top-level lists have no resource type in IAM: they can only be granted on "*". Lists under a parent
# (a service's listeners, a listener's rules, a target group's targets) are scoped like the parent.
# The BatchUpdateRule API is authorised by vpc-lattice:UpdateRule, and Create* calls also need
# vpc-lattice:TagResource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_vpc-lattice.html).
LATTICE_LIST_ACTIONS = (
    "vpc-lattice:ListServiceNetworkServiceAssociations",
    "vpc-lattice:ListServiceNetworkVpcAssociations",
    "vpc-lattice:ListServiceNetworks",
    "vpc-lattice:ListServices",
    "vpc-lattice:ListTargetGroups",
)
LATTICE_CONTROLLER_ACTIONS = tuple(
    sorted(
        {
            *_LATTICE_SCOPED,
            "vpc-lattice:ListListeners",
            "vpc-lattice:ListRules",
            "vpc-lattice:ListTargets",
            "vpc-lattice:ListAccessLogSubscriptions",
        }
    )
)


def lattice_controller_policy(arns: Arns) -> PolicyDocument:
    """The Gateway API controller's policy for HTTP routes without access logs.

    Narrowed from the upstream recommended policy (../shared/reference/lattice-controller-iam-policy.json):
    no logs/firehose/s3 (only AccessLogPolicy needs them), no acm:ListCertificates (only HTTPS
    listeners), no ec2:DescribeTags (only needed when clusterName is not given, and it always is).
    """
    return document(
        # Lattice objects get generated names, so the scope is every Lattice object of this account
        # and region: the same reach as the upstream "*", minus other accounts and regions.
        statement(
            "LatticeObjectsInThisAccount",
            LATTICE_CONTROLLER_ACTIONS,
            f"arn:{arns.partition}:vpc-lattice:{arns.region}:{arns.account_id}:*",
        ),
        statement("ListLattice", LATTICE_LIST_ACTIONS, "*"),
        # Read-only lookups Lattice makes when VPCs and security groups are associated.
        statement(
            "DescribeNetwork", ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], "*"
        ),
        statement("FindByTags", ["tag:GetResources", "tag:TagResources", "tag:UntagResources"], "*"),
        statement(
            "CreateLatticeServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{arns.partition}:iam::{arns.account_id}:role/aws-service-role/vpc-lattice.{arns.dns_suffix()}/AWSServiceRoleForVpcLattice",
            {"StringLike": {"iam:AWSServiceName": f"vpc-lattice.{arns.dns_suffix()}"}},
        ),
    )
