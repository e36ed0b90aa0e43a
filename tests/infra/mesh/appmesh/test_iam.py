"""The App Mesh backend's IAM: least privilege, scoped to this stack's mesh, namespace and hosted zone."""

from __future__ import annotations

from typing import Any

import pytest

from infra import iam as account_iam
from infra.mesh.appmesh import iam

ARNS = account_iam.Arns(partition="aws", region="us-east-1", account_id="123456789012")


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def actions(document: dict[str, Any]) -> set[str]:
    return {
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


CONTROLLER = iam.controller_policy(
    ARNS,
    mesh="global",
    cloud_map_namespace_arn="arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1",
    hosted_zone_id="Z123",
)


def test_controller_manages_only_its_mesh() -> None:
    manage = statements(CONTROLLER)["ManageThisMesh"]
    assert manage["Resource"] == [
        "arn:aws:appmesh:us-east-1:123456789012:mesh/global",
        "arn:aws:appmesh:us-east-1:123456789012:mesh/global/*",
    ]
    assert "appmesh:CreateVirtualNode" in manage["Action"]
    assert "appmesh:DeleteVirtualRouter" in manage["Action"]
    assert "appmesh:ListRoutes" in manage["Action"]
    assert statements(CONTROLLER)["ListMeshes"] == {
        "Sid": "ListMeshes",
        "Effect": "Allow",
        "Action": ["appmesh:ListMeshes"],
        "Resource": "*",
    }


def test_controller_has_everything_the_published_policy_lists() -> None:
    # The upstream controller policy (aws-app-mesh-controller-for-k8s config/iam/controller-iam-policy.json):
    # every action it lists must be granted somewhere, or the controller fails at run time.
    kinds = ["VirtualRouter", "VirtualService", "Route", "GatewayRoute", "VirtualNode", "VirtualGateway"]
    upstream = {
        f"appmesh:{verb}{kind}" for kind in kinds for verb in ("Describe", "Create", "Update", "Delete")
    }
    upstream |= {f"appmesh:List{kind}s" for kind in kinds} | {"appmesh:ListMeshes"}
    upstream |= {f"appmesh:{verb}Mesh" for verb in ("Describe", "Create", "Update", "Delete")}
    upstream |= {
        "iam:CreateServiceLinkedRole",
        "acm:ListCertificates",
        "acm:DescribeCertificate",
        "acm-pca:DescribeCertificateAuthority",
        "acm-pca:ListCertificateAuthorities",
        "servicediscovery:CreateService",
        "servicediscovery:DeleteService",
        "servicediscovery:GetService",
        "servicediscovery:GetInstance",
        "servicediscovery:RegisterInstance",
        "servicediscovery:DeregisterInstance",
        "servicediscovery:ListInstances",
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListServices",
        "servicediscovery:GetInstancesHealthStatus",
        "servicediscovery:UpdateInstanceCustomHealthStatus",
        "servicediscovery:GetOperation",
        "route53:GetHealthCheck",
        "route53:CreateHealthCheck",
        "route53:UpdateHealthCheck",
        "route53:ChangeResourceRecordSets",
        "route53:DeleteHealthCheck",
    }
    assert upstream <= actions(CONTROLLER)
    assert actions(CONTROLLER) <= upstream  # and nothing more


def test_controller_scopes_cloud_map_and_dns_to_this_namespace() -> None:
    by_sid = statements(CONTROLLER)
    assert by_sid["DnsRecordsInNamespaceZone"]["Resource"] == "arn:aws:route53:::hostedzone/Z123"
    assert (
        by_sid["CloudMapManageInstances"]["Resource"]
        == "arn:aws:servicediscovery:us-east-1:123456789012:service/*"
    )
    slr = by_sid["CreateAppMeshServiceLinkedRole"]
    assert (
        slr["Resource"]
        == "arn:aws:iam::123456789012:role/aws-service-role/appmesh.amazonaws.com/AWSServiceRoleForAppMesh"
    )
    assert slr["Condition"] == {"StringLike": {"iam:AWSServiceName": ["appmesh.amazonaws.com"]}}


def test_controller_may_create_cloud_map_services_in_this_namespace_only() -> None:
    # servicediscovery:CreateService requires two resource types, namespace* and service* (Service
    # Authorization Reference, AWS Cloud Map): a statement naming the namespace alone is refused.
    assert statements(CONTROLLER)["CloudMapCreateServicesInNamespace"] == {
        "Sid": "CloudMapCreateServicesInNamespace",
        "Effect": "Allow",
        "Action": ["servicediscovery:CreateService"],
        "Resource": [
            "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1",
            "arn:aws:servicediscovery:us-east-1:123456789012:service/*",
        ],
    }


def test_controller_manages_health_checks_but_creates_them_on_star_only() -> None:
    by_sid = statements(CONTROLLER)
    # CreateHealthCheck has no resource type; the others are scoped to health checks.
    assert by_sid["CloudMapCreateHealthChecks"]["Action"] == ["route53:CreateHealthCheck"]
    assert by_sid["CloudMapCreateHealthChecks"]["Resource"] == "*"
    assert by_sid["CloudMapManageHealthChecks"]["Resource"] == "arn:aws:route53:::healthcheck/*"
    star = {a for s in CONTROLLER["Statement"] if s["Resource"] == "*" for a in s["Action"]}
    assert star == {
        "appmesh:ListMeshes",
        "acm:ListCertificates",
        "acm-pca:ListCertificateAuthorities",
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListServices",
        "servicediscovery:GetOperation",
        "route53:CreateHealthCheck",
    }


def test_envoy_gets_its_own_virtual_node_only() -> None:
    doc = iam.envoy_policy(ARNS, mesh="global", virtual_node="colorapp-blue_appmesh-demo", xray=False)
    assert doc["Statement"] == [
        {
            "Sid": "EnvoyConfigForThisNode",
            "Effect": "Allow",
            "Action": ["appmesh:StreamAggregatedResources"],
            "Resource": "arn:aws:appmesh:us-east-1:123456789012:mesh/global/virtualNode/colorapp-blue_appmesh-demo",
        }
    ]


def test_tracing_adds_xray_writes() -> None:
    doc = iam.envoy_policy(ARNS, mesh="global", virtual_node="front_appmesh-demo", xray=True)
    assert statements(doc)["XRayWrite"]["Action"] == [
        "xray:GetSamplingRules",
        "xray:GetSamplingStatisticSummaries",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]


@pytest.mark.parametrize(
    "document",
    [
        CONTROLLER,
        iam.envoy_policy(ARNS, mesh="global", virtual_node="front_appmesh-demo", xray=True),
    ],
)
def test_no_wildcard_actions(document: dict[str, Any]) -> None:
    for action in actions(document):
        assert "*" not in action, action


def test_china_partition_arns() -> None:
    arns = account_iam.Arns(partition="aws-cn", region="cn-north-1", account_id="123456789012")
    doc = iam.controller_policy(arns, mesh="m", cloud_map_namespace_arn="ns", hosted_zone_id="Z")
    slr = statements(doc)["CreateAppMeshServiceLinkedRole"]
    assert slr["Resource"].startswith(
        "arn:aws-cn:iam::123456789012:role/aws-service-role/appmesh.amazonaws.com.cn/"
    )
