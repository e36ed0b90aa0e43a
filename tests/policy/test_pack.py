"""The CrossGuard adapters: the same rules, called the way the Pulumi engine calls a policy pack."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pulumi_policy = pytest.importorskip(
    "pulumi_policy", reason="pulumi-policy is not installed in this environment"
)

from google.protobuf import json_format, struct_pb2  # noqa: E402
from pulumi.runtime import proto  # noqa: E402
from pulumi_policy import (  # noqa: E402 - after the skip above
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: E402
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy  # noqa: E402

from policy import POLICY_PACK_DIR  # noqa: E402
from policy.crossmesh_policy import PACK_NAME, RULES, Level  # noqa: E402
from policy.crossmesh_policy import types as t  # noqa: E402
from policy.crossmesh_policy.pack import policies  # noqa: E402

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
Reported = list[tuple[str, str | None]]


def by_name() -> dict[str, Any]:
    return {p.name: p for p in policies()}


def validate_resource(
    name: str, type_: str, props: dict[str, Any], config: dict[str, Any] | None = None
) -> Reported:
    policy = by_name()[name]
    assert isinstance(policy, ResourceValidationPolicy)
    reported: Reported = []
    args = ResourceValidationArgs(
        type_,
        unknown_checking_proxy(props),
        f"urn:pulumi:dev::crossmesh::{type_}::subject",
        "subject",
        OPTS,
        None,
        config,
    )
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_one_policy_per_rule_with_its_level_and_remediation() -> None:
    found = policies()
    assert [p.name for p in found] == [r.id for r in RULES]
    for rule, policy in zip(RULES, found, strict=True):
        expected = EnforcementLevel.MANDATORY if rule.level is Level.MANDATORY else EnforcementLevel.ADVISORY
        assert policy.enforcement_level == expected
        assert policy.remediation_steps == rule.remediation
        assert isinstance(policy, StackValidationPolicy if rule.is_stack_rule else ResourceValidationPolicy)
        if rule.cis:
            assert policy.framework is not None
            assert policy.framework.reference == rule.cis


def test_resource_policy_reports_the_resource_the_problem_and_the_fix() -> None:
    reported = validate_resource("ecr-scan-on-push", t.ECR_REPOSITORY, {"imageTagMutability": "IMMUTABLE"})
    assert len(reported) == 1
    message, urn = reported[0]
    assert message.startswith(f"{t.ECR_REPOSITORY} subject: images are not scanned")
    assert "Fix: set imageScanningConfiguration.scanOnPush: true" in message
    assert urn is None  # resource policies always report against the resource being validated
    assert (
        validate_resource(
            "ecr-scan-on-push", t.ECR_REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": True}}
        )
        == []
    )


def test_resource_policy_reads_component_inputs() -> None:
    # pulumi-eks's Cluster is a component: the pack sees the inputs the program passed.
    reported = validate_resource("eks-control-plane-logs", t.EKS_CLUSTER, {"enabledClusterLogTypes": ["api"]})
    assert "not enabled: audit, authenticator, controllerManager, scheduler" in reported[0][0]


def test_values_unknown_during_preview_propagate_to_the_engine() -> None:
    # The engine turns UnknownValueError into an advisory "can't run during preview" note.
    with pytest.raises(UnknownValueError):
        validate_resource(
            "ecr-immutable-tags", t.ECR_REPOSITORY, {"imageTagMutability": UNKNOWN_STRING_VALUE}
        )


def _stack_resource(
    type_: str, name: str, props: dict[str, Any], provider: str | None = None
) -> PolicyResource:
    provider_resource = (
        PolicyProviderResource("pulumi:providers:kubernetes", {}, provider, provider) if provider else None
    )
    urn = f"urn:pulumi:dev::crossmesh::{type_}::{name}"
    return PolicyResource(
        type_, unknown_checking_proxy(props), urn, name, OPTS, provider_resource, None, [], {}
    )


def test_stack_policy_sees_every_resource_and_blames_one() -> None:
    policy = by_name()["k8s-network-policy-per-namespace"]
    assert isinstance(policy, StackValidationPolicy)
    resources = [
        _stack_resource(t.K8S_NAMESPACE, "apps-ns", {"metadata": {"name": "apps"}}, provider="c1"),
        _stack_resource(t.K8S_NAMESPACE, "ops-ns", {"metadata": {"name": "ops"}}, provider="c1"),
        _stack_resource(
            t.K8S_NETWORK_POLICY,
            "deny",
            {
                "metadata": {"name": "d", "namespace": "apps"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            },
            provider="c1",
        ),
    ]
    reported: Reported = []
    policy.validate(
        StackValidationArgs(resources, {}), lambda message, urn=None: reported.append((message, urn))
    )
    assert reported == [
        (
            f"{t.K8S_NAMESPACE} ops-ns: namespace ops has no NetworkPolicy: every pod in it accepts any traffic. "
            "Fix: add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] to the namespace "
            "(workloads/deploy/manifests.py network_policies, infra/mesh/common.py controller_network_policy)",
            f"urn:pulumi:dev::crossmesh::{t.K8S_NAMESPACE}::ops-ns",
        )
    ]


def test_stack_policy_follows_property_dependencies_and_policy_config() -> None:
    policy = by_name()["network-cross-cluster-app-port"]
    assert isinstance(policy, StackValidationPolicy)
    assert policy.config_schema is not None
    assert policy.config_schema.properties["appPort"]["default"] == 8080
    c1 = _stack_resource(t.EKS_CLUSTER, "eksc1-eks", {})
    c2 = _stack_resource(t.EKS_CLUSTER, "eksc2-eks", {})
    rule = _stack_resource(
        t.INGRESS_RULE,
        "cross",
        {
            "securityGroupId": "sg-2",
            "referencedSecurityGroupId": "sg-1",
            "ipProtocol": "tcp",
            "fromPort": 8080,
            "toPort": 8080,
        },
    )
    rule.property_dependencies = {"securityGroupId": [c2], "referencedSecurityGroupId": [c1]}
    reported: Reported = []
    policy.validate(
        StackValidationArgs([c1, c2, rule], {"appPort": 8080}), lambda m, u=None: reported.append((m, u))
    )
    assert reported == []
    policy.validate(
        StackValidationArgs([c1, c2, rule], {"appPort": 9090}), lambda m, u=None: reported.append((m, u))
    )
    assert len(reported) == 1
    assert "only TCP 9090 (the app port) may cross" in reported[0][0]


def test_pack_directory_is_a_python_policy_pack() -> None:
    assert Path(__file__).resolve().parents[2] / "policy" == POLICY_PACK_DIR
    document = yaml.safe_load((POLICY_PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python"
    requirements = (POLICY_PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements
    main = (POLICY_PACK_DIR / "__main__.py").read_text()
    assert "from crossmesh_policy.pack import serve" in main
    # The rules import only the standard library (and each other); only the adapters import Pulumi.
    for module in (POLICY_PACK_DIR / "crossmesh_policy").glob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
        third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
        assert third_party == ({"pulumi_policy"} if module.name == "pack.py" else set()), module


def _struct(value: dict[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    json_format.ParseDict(value, struct)
    return struct


def test_the_sdks_own_analyzer_serves_the_pack() -> None:
    # The servicer `PolicyPack` starts for the engine (an internal class of pulumi-policy): it must
    # describe every policy and turn our reports into mandatory diagnostics.
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.ADVISORY)
    info = servicer.GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == [r.id for r in RULES]
    assert [p.name for p in info.policies if p.HasField("configSchema")] == [
        "network-cross-cluster-app-port",
        "k8s-pod-security-labels",
    ]

    urn = "urn:pulumi:dev::crossmesh::aws:ecr/repository:Repository::repo"
    request = proto.AnalyzeRequest(
        type=t.ECR_REPOSITORY, properties=_struct({"imageTagMutability": "MUTABLE"}), urn=urn, name="repo"
    )
    diagnostics = {d.policyName: d for d in servicer.Analyze(request, None).diagnostics}
    assert set(diagnostics) == {"ecr-scan-on-push", "ecr-immutable-tags"}
    assert all(d.enforcementLevel == proto.MANDATORY for d in diagnostics.values())
    assert "repo: image tags can be overwritten" in diagnostics["ecr-immutable-tags"].message

    namespace = proto.AnalyzerResource(
        type=t.K8S_NAMESPACE,
        properties=_struct({"metadata": {"name": "apps"}}),
        urn="urn:pulumi:dev::crossmesh::kubernetes:core/v1:Namespace::apps",
        name="apps",
    )
    stack = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[namespace]), None)
    [diagnostic] = [d for d in stack.diagnostics if d.policyName == "k8s-network-policy-per-namespace"]
    assert diagnostic.urn == namespace.urn
    assert "namespace apps has no NetworkPolicy" in diagnostic.message
