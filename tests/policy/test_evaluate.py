"""The report over a whole graph: passed, violated, relaxed and not applicable, per policy."""

from __future__ import annotations

from pathlib import Path

from policy.crossmesh_policy import BY_ID, RULES, Level, Status, evaluate
from policy.crossmesh_policy import types as t
from tests.policy.support import res

ECR = BY_ID["ecr-scan-on-push"]
PUBLIC = BY_ID["eks-endpoint-public-access-restricted"]
LOGS = BY_ID["eks-control-plane-logs"]


def test_statuses() -> None:
    resources = [
        res(t.ECR_REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": True}}, "repo"),
        res(t.EKS_CLUSTER, {"enabledClusterLogTypes": ["api"]}, "c"),
    ]
    report = evaluate([ECR, LOGS, BY_ID["kms-key-rotation"]], resources)
    assert [(r.rule.id, r.status) for r in report.results] == [
        ("ecr-scan-on-push", Status.PASSED),
        ("eks-control-plane-logs", Status.VIOLATED),
        ("kms-key-rotation", Status.NOT_APPLICABLE),
    ]
    assert not report.ok
    assert [v.resource_name for v in report.mandatory_violations] == ["c"]
    assert report.summary() == "3 policies: 1 passed, 1 violated, 1 not applicable"


def test_a_relaxed_advisory_rule_keeps_its_findings_but_does_not_count_as_violated() -> None:
    open_cluster = res(t.EKS_CLUSTER, {"endpointPublicAccess": True}, "c")
    report = evaluate([PUBLIC], [open_cluster], relaxations={PUBLIC.id: "operators' laptops"})
    result = report.result(PUBLIC.id)
    assert result.status is Status.RELAXED
    assert result.relaxation == "operators' laptops"
    assert [v.resource_name for v in result.violations] == ["c"]
    assert report.ok
    assert report.advisory_violations == []


def test_an_advisory_violation_does_not_fail_the_report() -> None:
    report = evaluate([PUBLIC], [res(t.EKS_CLUSTER, {}, "c")])
    assert report.result(PUBLIC.id).status is Status.VIOLATED
    assert report.ok
    assert [v.resource_name for v in report.advisory_violations] == ["c"]


def test_a_relaxation_with_nothing_to_relax_is_noted() -> None:
    closed = res(t.EKS_CLUSTER, {"endpointPublicAccess": False}, "c")
    report = evaluate([PUBLIC], [closed], relaxations={PUBLIC.id: "not needed any more"})
    assert report.result(PUBLIC.id).status is Status.PASSED
    assert report.notes == (
        f"{PUBLIC.id} is relaxed but has nothing to relax (passed); the relaxation can go",
    )


def test_catalogue() -> None:
    assert len(RULES) == len(BY_ID)
    assert [r.id for r in RULES if r.level is Level.ADVISORY] == ["eks-endpoint-public-access-restricted"]
    stack_rules = sorted(r.id for r in RULES if r.is_stack_rule)
    assert stack_rules == [
        "eks-nodes-private-subnets",
        "iam-irsa-per-service-account",
        "iam-node-role-ecr-read-only",
        "k8s-network-policy-per-namespace",
        "network-cross-cluster-app-port",
    ]


def test_docs_list_every_policy_with_its_cis_id_and_level() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.cis or '-'} | {rule.level} |" in docs, rule.id
