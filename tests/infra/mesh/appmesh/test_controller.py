"""AppMeshController: one Helm release per mesh cluster, its IRSA role, and the order between them."""

from __future__ import annotations

import json
from typing import Any

from infra.config import Tracing
from infra.mesh.appmesh.controller import controller_values
from tests.support import inputs, record_document, record_env, variant

RELEASE = "kubernetes:helm.sh/v3:Release"


def test_release_is_the_pinned_eks_chart_with_exact_values() -> None:
    release = inputs(record_env("appmesh"), RELEASE, "eksc2-mesh-controller-release")
    assert release == {
        "name": "appmesh-controller",
        "chart": "appmesh-controller",
        "version": "1.13.3",
        "repositoryOpts": {"repo": "https://aws.github.io/eks-charts"},
        "namespace": "appmesh-system",
        "skipCrds": False,
        "atomic": True,
        "cleanupOnFail": True,
        "timeout": 600,
        "maxHistory": 10,
        "compat": "true",
        "values": {
            "region": "us-east-1",
            "accountId": "123456789012",
            "clusterName": "eksc2-appmesh",
            "replicaCount": 1,
            "serviceAccount": {
                "create": True,
                "name": "appmesh-controller",
                "annotations": {
                    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/crossmesh-appmesh-eksc2-appmesh-controller"
                },
            },
            "sidecar": {"waitUntilProxyReady": True, "logLevel": "info"},
            "tracing": {"enabled": False, "provider": "x-ray", "port": 2000, "samplingRate": 0.05},
            "log": {"level": "info"},
        },
    }


def test_one_controller_per_mesh_cluster_and_no_deprecated_injector() -> None:
    recording = record_env("appmesh")
    releases = recording.of_type(RELEASE)
    assert sorted(r.name for r in releases) == [
        "eksc1-mesh-controller-release",
        "eksc2-mesh-controller-release",
    ]
    assert all(r.inputs["chart"] != "appmesh-inject" for r in releases)
    providers = {r.name: recording.by_urn(r.provider or "").name for r in releases}
    assert providers == {
        "eksc1-mesh-controller-release": "eksc1-k8s",
        "eksc2-mesh-controller-release": "eksc2-k8s",
    }


def test_release_waits_for_its_irsa_role_and_policy() -> None:
    recording = record_env("appmesh")
    release = recording.named(RELEASE, "eksc1-mesh-controller-release")
    role = recording.named("aws:iam/role:Role", "eksc1-mesh-controller-irsa-role")
    policy = recording.named("aws:iam/rolePolicy:RolePolicy", "eksc1-mesh-controller-irsa-policy")
    namespace = recording.named("kubernetes:core/v1:Namespace", "eksc1-mesh-controller-namespace")
    assert recording.depends_on(release, role)
    assert recording.depends_on(release, policy)
    assert recording.depends_on(release, namespace)
    # and not on the other cluster's role
    other = recording.named("aws:iam/role:Role", "eksc2-mesh-controller-irsa-role")
    assert not recording.depends_on(release, other)


def test_controller_role_trusts_only_its_service_account() -> None:
    recording = record_env("appmesh")
    role = inputs(recording, "aws:iam/role:Role", "eksc1-mesh-controller-irsa-role")
    assert role["name"] == "crossmesh-appmesh-eksc1-appmesh-controller"
    statement = json.loads(role["assumeRolePolicy"])["Statement"][0]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/<eksc1-eks.oidcId>"
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"}
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:appmesh-system:appmesh-controller",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    policy = json.loads(
        inputs(recording, "aws:iam/rolePolicy:RolePolicy", "eksc1-mesh-controller-irsa-policy")["policy"]
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["CloudMapCreateServicesInNamespace"]["Resource"] == [
        "arn:aws:servicediscovery:us-east-1:123456789012:namespace/<discovery-namespace.id>",
        "arn:aws:servicediscovery:us-east-1:123456789012:service/*",
    ]
    assert (
        by_sid["DnsRecordsInNamespaceZone"]["Resource"]
        == "arn:aws:route53:::hostedzone/<discovery-namespace.hostedZone>"
    )


def test_no_managed_full_access_policy_anywhere() -> None:
    recording = record_env("appmesh")
    for attachment in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert "FullAccess" not in attachment.inputs["policyArn"]


def _traced(config: dict[str, Any]) -> None:
    # What staging and prod ran with on App Mesh before they moved to Lattice.
    config["crossmesh:mesh"].update(tracing="x-ray", controllerReplicas=2)


def test_tracing_and_two_replicas_when_configured() -> None:
    recording = record_document(variant("appmesh", _traced), "appmesh")
    values = inputs(recording, RELEASE, "eksc1-mesh-controller-release")["values"]
    assert values["tracing"] == {"enabled": True, "provider": "x-ray", "port": 2000, "samplingRate": 0.05}
    assert values["replicaCount"] == 2
    assert values["podDisruptionBudget"] == {"minAvailable": 1}


def test_controller_values_single_replica_has_no_pdb() -> None:
    values = controller_values(
        region="eu-west-1", account_id="1", cluster_name="c", role_arn="r", tracing=Tracing.NONE, replicas=1
    )
    assert "podDisruptionBudget" not in values


def test_controller_namespace_has_pod_security_labels() -> None:
    namespace = inputs(
        record_env("appmesh"), "kubernetes:core/v1:Namespace", "eksc1-mesh-controller-namespace"
    )
    assert namespace["metadata"] == {
        "name": "appmesh-system",
        "labels": {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
    }
