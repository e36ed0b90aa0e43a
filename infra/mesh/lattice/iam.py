"""IAM of the VPC Lattice backend: the AWS Gateway API controller's policy."""

from __future__ import annotations

from infra import iam

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
