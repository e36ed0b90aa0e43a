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


def flow_logs_trust_policy(arns: Arns) -> PolicyDocument:
    """VPC Flow Logs may assume the role only for flow logs of this account in this region.

    Without the conditions the service could be made to use the role for a flow log of any account
    (the confused deputy); the VPC user guide recommends pinning ``aws:SourceAccount`` to the flow log's
    owner and ``aws:SourceArn`` to its ARN (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
    The flow log's id is only known once it exists, and it names this role, so its ARN is matched with
    a wildcard for the id.
    """
    trust = service_trust_policy("vpc-flow-logs.amazonaws.com")
    trust["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": arns.account_id},
        "ArnLike": {
            "aws:SourceArn": f"arn:{arns.partition}:ec2:{arns.region}:{arns.account_id}:vpc-flow-log/*"
        },
    }
    return trust


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
