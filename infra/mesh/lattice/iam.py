"""IAM of the VPC Lattice backend: the AWS Gateway API controller's policy."""

from __future__ import annotations

from collections.abc import Sequence

from infra import iam

# What the AWS Gateway API controller v2.1.3 calls (aws/aws-application-networking-k8s,
# pkg/aws/services/vpclattice.go), instead of the upstream recommended "vpc-lattice:*". Resources stay
# "*": the controller lists every target group of the account to resolve ServiceImports and creates
# Lattice objects under generated names.
_LATTICE_OWNED = ("Service", "Listener", "Rule", "TargetGroup")
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
            # A service's association with the network is made and removed, never updated: Lattice
            # has no UpdateServiceNetworkServiceAssociation (only the VPC association has an update).
            *(f"vpc-lattice:{verb}ServiceNetworkServiceAssociation" for verb in ("Create", "Get", "Delete")),
            *(f"vpc-lattice:Get{kind}" for kind in _LATTICE_READ),
            "vpc-lattice:RegisterTargets",
            "vpc-lattice:DeregisterTargets",
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
# The IAMAuthPolicy on the colorapp route: the controller reads, puts and deletes the service's auth
# policy (and sets its authType through UpdateService, above). Services only: the service network's
# policy is Pulumi's (LatticeAuthPolicies), and the controller may not replace it.
LATTICE_AUTH_POLICY_ACTIONS = (
    "vpc-lattice:DeleteAuthPolicy",
    "vpc-lattice:GetAuthPolicy",
    "vpc-lattice:PutAuthPolicy",
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


def controller_policy(arns: iam.Arns) -> iam.PolicyDocument:
    """The Gateway API controller's policy for HTTP routes without access logs.

    Narrowed from the upstream recommended policy (../shared/reference/lattice-controller-iam-policy.json):
    no logs/firehose/s3 (only AccessLogPolicy needs them), no acm:ListCertificates (only HTTPS
    listeners), no ec2:DescribeTags (only needed when clusterName is not given, and it always is).
    """
    return iam.document(
        # Lattice objects get generated names, so the scope is every Lattice object of this account
        # and region: the same reach as the upstream "*", minus other accounts and regions.
        iam.statement(
            "LatticeObjectsInThisAccount",
            LATTICE_CONTROLLER_ACTIONS,
            f"arn:{arns.partition}:vpc-lattice:{arns.region}:{arns.account_id}:*",
        ),
        iam.statement(
            "AuthPoliciesOfServicesOnly",
            LATTICE_AUTH_POLICY_ACTIONS,
            f"arn:{arns.partition}:vpc-lattice:{arns.region}:{arns.account_id}:service/*",
        ),
        iam.statement("ListLattice", LATTICE_LIST_ACTIONS, "*"),
        # Read-only lookups Lattice makes when VPCs and security groups are associated.
        iam.statement(
            "DescribeNetwork", ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], "*"
        ),
        iam.statement("FindByTags", ["tag:GetResources", "tag:TagResources", "tag:UntagResources"], "*"),
        iam.statement(
            "CreateLatticeServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{arns.partition}:iam::{arns.account_id}:role/aws-service-role/vpc-lattice.{arns.dns_suffix()}/AWSServiceRoleForVpcLattice",
            {"StringLike": {"iam:AWSServiceName": f"vpc-lattice.{arns.dns_suffix()}"}},
        ),
    )


INVOKE = "vpc-lattice-svcs:Invoke"


SOURCE_VPC = "vpc-lattice-svcs:SourceVpc"


def invoke_auth_policy(caller_role_arns: Sequence[str], source_vpc: str) -> iam.PolicyDocument:
    """An auth policy (on the service network or a service) that lets exactly these roles invoke, from
    ``source_vpc`` only: a session of the role used from another VPC that joins the network later is
    refused (the condition key: https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html).

    With authType AWS_IAM, Lattice denies every request no auth policy allows, and requests must be
    SigV4-signed (https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html). The principal
    is named role by role: never ``*``. ``Resource: *`` is the resource the policy is attached to (and,
    on the network, the services in it).
    """
    if not caller_role_arns or any("*" in arn for arn in caller_role_arns):
        raise ValueError(f"auth policy principals must be named roles, got {list(caller_role_arns)}")
    return {
        "Version": iam.VERSION,
        "Statement": [
            {
                "Sid": "InvokeFromTheseRolesOnly",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(caller_role_arns)},
                "Action": INVOKE,
                "Resource": "*",
                "Condition": {"StringEquals": {SOURCE_VPC: source_vpc}},
            }
        ],
    }


def invoke_policy(arns: iam.Arns) -> iam.PolicyDocument:
    """The caller's own policy (front's IRSA role): Invoke on this account's Lattice services. The
    service's ARN is generated by the controller, so the scope is the account and region; the auth
    policies on the network and the service are what name the caller."""
    return iam.document(
        iam.statement(
            "InvokeLatticeServices",
            [INVOKE],
            f"arn:{arns.partition}:vpc-lattice:{arns.region}:{arns.account_id}:service/*",
        )
    )


def role_arn(arns: iam.Arns, role_name: str) -> str:
    return f"arn:{arns.partition}:iam::{arns.account_id}:role/{role_name}"
