"""IAM documents shared by every backend: trust policies, key policies, flow logs, managed policies.

Each mesh backend's own documents are tested beside it (tests/infra/mesh/<backend>/test_iam.py)."""

from __future__ import annotations

from typing import Any

from infra import iam

ARNS = iam.Arns(partition="aws", region="us-east-1", account_id="123456789012")


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def actions(document: dict[str, Any]) -> set[str]:
    return {
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


def test_irsa_trust_pins_service_account_and_audience() -> None:
    doc = iam.irsa_trust_policy(
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
        "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
        "appmesh-system",
        "appmesh-controller",
    )
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:appmesh-system:appmesh-controller",
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def test_logs_key_policy_admits_cloudwatch_logs_for_the_named_groups_only() -> None:
    doc = iam.logs_key_policy(ARNS, ["/aws/eks/c-dev/cluster"])
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountControlsKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsForTheseGroupsOnly",
                "Effect": "Allow",
                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
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
                            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/c-dev/cluster"
                        ]
                    }
                },
            },
        ],
    }
    china = iam.logs_key_policy(iam.Arns("aws-cn", "cn-north-1", "123456789012"), ["g"])
    assert china["Statement"][1]["Principal"] == {"Service": "logs.cn-north-1.amazonaws.com.cn"}
    assert china["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::123456789012:root"}


def test_no_wildcard_actions() -> None:
    for action in actions(iam.flow_logs_policy("arn:aws:logs:us-east-1:123456789012:log-group:/x")):
        assert "*" not in action, action


def test_managed_policies_are_never_full_access() -> None:
    for name in (*iam.NODE_MANAGED_POLICIES, iam.VPC_CNI_MANAGED_POLICY):
        assert "FullAccess" not in name
    assert "AmazonEC2ContainerRegistryReadOnly" in iam.NODE_MANAGED_POLICIES
