"""The mesh and the apps as the program registers them: providers, IAM, images and the order of things."""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.recorder import Recording, Registration
from tests.support import env_values, inputs, record_document, record_env, three_clusters, variant

CR = "kubernetes:appmesh.k8s.aws/v1beta2"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
CLOUD_MAP = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"


def cluster_of(recording: Recording, registration: Registration) -> str:
    return recording.by_urn(registration.provider or "").name.removesuffix("-k8s")


def crs(recording: Recording) -> list[Registration]:
    return [r for r in recording if r.type.startswith(CR)]


def test_every_mesh_object_uses_its_own_cluster_provider() -> None:
    recording = record_env("appmesh")
    placement = {
        (r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"], cluster_of(recording, r))
        for r in crs(recording)
    }
    assert placement == {
        ("Mesh", "global", "eksc1"),
        ("Mesh", "global", "eksc2"),
        ("VirtualNode", "front", "eksc1"),
        ("VirtualNode", "colorapp-blue", "eksc2"),
        ("VirtualNode", "colorapp-red", "eksc2"),
        ("VirtualRouter", "colorapp-router", "eksc2"),
        ("VirtualService", "colorapp.appmesh-demo.pvt.aws.local", "eksc2"),
    }


def test_mesh_objects_wait_for_their_controller_and_the_cloud_map_namespace() -> None:
    recording = record_env("appmesh")
    cloud_map = recording.named(CLOUD_MAP, "discovery-namespace")
    for resource in crs(recording):
        cluster = cluster_of(recording, resource)
        release = recording.named(RELEASE, f"{cluster}-mesh-controller-release")
        assert recording.depends_on(resource, release), resource.name
        assert recording.depends_on(resource, cloud_map), resource.name
        other = "eksc2" if cluster == "eksc1" else "eksc1"
        other_release = recording.named(RELEASE, f"{other}-mesh-controller-release")
        # A Mesh waits only for its own cluster; every node, router and service waits for every Mesh of
        # the stack (so destroy never deletes a mesh another cluster still has objects in), and
        # through it for the other cluster's controller.
        expected = not resource.type.endswith(":Mesh")
        assert recording.depends_on(resource, other_release) is expected, resource.name


def test_app_namespace_goes_after_the_controller_so_destroy_removes_it_first() -> None:
    recording = record_env("appmesh")
    for cluster in ("eksc1", "eksc2"):
        namespace = recording.named(NAMESPACE, f"{cluster}-apps-namespace-namespace")
        assert namespace.inputs["metadata"]["name"] == "appmesh-demo"
        assert recording.depends_on(namespace, recording.named(RELEASE, f"{cluster}-mesh-controller-release"))


def test_pods_start_only_after_their_virtual_node_and_the_injector() -> None:
    recording = record_env("appmesh")
    for name, cluster in (("front", "eksc1"), ("colorapp-blue", "eksc2"), ("colorapp-red", "eksc2")):
        deployment = recording.named(DEPLOYMENT, f"{cluster}-apps-{name}")
        node = recording.named(f"{CR}:VirtualNode", f"{cluster}-virtualnode-{name}")
        assert recording.depends_on(deployment, node)
        assert recording.depends_on(
            deployment, recording.named(RELEASE, f"{cluster}-mesh-controller-release")
        )


def test_cross_cluster_order_router_after_remote_nodes_and_front_after_service() -> None:
    recording = record_document(variant("appmesh", three_clusters))
    router = recording.named(f"{CR}:VirtualRouter", "eksc2-virtualrouter-colorapp-router")
    red = recording.named(f"{CR}:VirtualNode", "eksc3-virtualnode-colorapp-red")
    assert recording.depends_on(router, red)
    service = recording.named(
        f"{CR}:VirtualService", "eksc2-virtualservice-colorapp.appmesh-demo.pvt.aws.local"
    )
    front = recording.named(f"{CR}:VirtualNode", "eksc1-virtualnode-front")
    assert recording.depends_on(front, service)
    assert recording.depends_on(service, router)
    # and the route targets red in eksc3 by ARN
    targets = router.inputs["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]
    assert targets[1]["virtualNodeARN"] == (
        "arn:aws:appmesh:us-east-1:123456789012:mesh/global/virtualNode/colorapp-red_appmesh-demo"
    )
    # three clusters, three controllers, three rules-worth of topology
    assert sorted(r.name for r in recording.of_type(RELEASE)) == [
        "eksc1-mesh-controller-release",
        "eksc2-mesh-controller-release",
        "eksc3-mesh-controller-release",
    ]


def _policy(recording: Recording, name: str) -> dict[str, Any]:
    return json.loads(inputs(recording, "aws:iam/rolePolicy:RolePolicy", name)["policy"])


def test_each_app_has_its_own_irsa_role_limited_to_its_virtual_node() -> None:
    recording = record_env("appmesh")
    for cluster, app in (("eksc1", "front"), ("eksc2", "colorapp-blue"), ("eksc2", "colorapp-red")):
        role = inputs(recording, "aws:iam/role:Role", f"{cluster}-apps-{app}-irsa-role")
        assert role["name"] == f"crossmesh-appmesh-{cluster}-{app}"
        condition = json.loads(role["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
        issuer = f"oidc.eks.us-east-1.amazonaws.com/id/<{cluster}-eks.oidcId>"
        assert condition[f"{issuer}:sub"] == f"system:serviceaccount:appmesh-demo:{app}"
        policy = _policy(recording, f"{cluster}-apps-{app}-irsa-policy")
        assert policy["Statement"] == [
            {
                "Sid": "EnvoyConfigForThisNode",
                "Effect": "Allow",
                "Action": ["appmesh:StreamAggregatedResources"],
                "Resource": f"arn:aws:appmesh:us-east-1:123456789012:mesh/global/virtualNode/{app}_appmesh-demo",
            }
        ]
        account = inputs(recording, "kubernetes:core/v1:ServiceAccount", f"{cluster}-apps-{app}-sa")
        assert account["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/crossmesh-appmesh-{cluster}-{app}"
        }


def test_tracing_grants_xray_and_sets_the_controller_and_app_env() -> None:
    recording = record_document(
        variant("appmesh", lambda c: c["crossmesh:mesh"].update(tracing="x-ray")), "appmesh"
    )
    policy = _policy(recording, "eksc1-apps-front-irsa-policy")
    assert [s["Sid"] for s in policy["Statement"]] == ["EnvoyConfigForThisNode", "XRayWrite"]
    deployment = inputs(recording, DEPLOYMENT, "eksc1-apps-front")
    env = env_values(deployment["spec"]["template"]["spec"]["containers"][0]["env"])
    # The apps export OpenTelemetry spans to the cluster's collector, which sends them to X-Ray.
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.appmesh-demo.svc.cluster.local:4318"
    assert env["OTEL_PROPAGATORS"] == "tracecontext,xray"
    # Nothing in the apps reads the X-Ray daemon's address any more; the injected daemon carries
    # Envoy's own spans, which the controller's tracing setting turns on.
    assert [name for name in env if "XRAY" in name] == []
    # Envoy retries on App Mesh, so front does not.
    assert env["UPSTREAM_MAX_RETRIES"] == "0"
    assert inputs(recording, RELEASE, "eksc1-mesh-controller-release")["values"]["tracing"]["enabled"] is True


def test_images_are_built_into_scanned_immutable_repositories_and_used_by_digest() -> None:
    recording = record_env("dev")
    for app in ("front", "colorapp"):
        repo = inputs(recording, "aws:ecr/repository:Repository", f"images-{app}")
        assert repo["name"] == f"crossmesh-dev/{app}"
        assert repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        image = inputs(recording, "docker-build:index:Image", f"images-{app}")
        assert image["push"] is True
        assert image["context"] == {"location": "."}
        # One Dockerfile for both apps; the app is its build argument.
        assert image["dockerfile"] == {"location": "workloads/Dockerfile"}
        assert image["buildArgs"] == {"APP": app}
        assert image["platforms"] == ["linux/amd64"]
        assert image["tags"][0].startswith(
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/crossmesh-dev/{app}:src-"
        )
    digest = recording.named("docker-build:index:Image", "images-front").outputs["digest"]
    front = inputs(recording, DEPLOYMENT, "eksc1-apps-front")
    image_ref = front["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image_ref == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/crossmesh-dev/front@{digest}"


def test_prebuilt_images_skip_ecr_and_docker() -> None:
    blue = "public.ecr.aws/example/colorapp@sha256:" + "b" * 64
    front = "public.ecr.aws/example/front@sha256:" + "f" * 64

    def prebuilt(c: dict[str, Any]) -> None:
        c["crossmesh:workloads"]["images"] = {"build": False, "front": front, "colorapp": blue}

    recording = record_document(variant("appmesh", prebuilt))
    assert recording.of_type("docker-build:index:Image") == []
    assert recording.of_type("aws:ecr/repository:Repository") == []
    deployment = inputs(recording, DEPLOYMENT, "eksc2-apps-colorapp-red")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == blue


def test_front_url_is_exported_from_the_load_balancer() -> None:
    outputs = record_env("appmesh").outputs
    assert (
        outputs["frontUrl"]
        == "http://<eksc1-apps-front-service.loadBalancer>.elb.us-east-1.amazonaws.com/color"
    )


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_replicas_and_pdbs_outside_dev(env: str) -> None:
    recording = record_env(env)
    budgets = {r.name for r in recording.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    assert budgets == {"eksc1-apps-front-pdb", "eksc2-apps-colorapp-blue-pdb", "eksc2-apps-colorapp-red-pdb"}


def test_dev_runs_single_replicas_without_pdbs() -> None:
    assert record_env("appmesh").of_type("kubernetes:policy/v1:PodDisruptionBudget") == []


def test_every_namespace_we_create_has_a_network_policy() -> None:
    recording = record_env("appmesh")
    namespaces = {
        (cluster_of(recording, r), r.inputs["metadata"]["name"]) for r in recording.of_type(NAMESPACE)
    }
    with_policy = {
        (cluster_of(recording, r), r.inputs["metadata"]["namespace"])
        for r in recording.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert namespaces == {
        ("eksc1", "appmesh-demo"),
        ("eksc1", "appmesh-system"),
        ("eksc2", "appmesh-demo"),
        ("eksc2", "appmesh-system"),
    }
    assert namespaces <= with_policy
    controller = inputs(
        recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "eksc1-mesh-controller-netpol"
    )
    assert controller["metadata"] == {
        "name": "controller-vpc-ingress-https-egress",
        "namespace": "appmesh-system",
    }
    assert controller["spec"] == CONTROLLER_POLICY_SPEC


# Both ways isolated: webhook calls from the VPC in; DNS through CoreDNS and HTTPS (the Kubernetes and
# AWS APIs) out, so the controller cannot reach the node's instance metadata (port 80) or the apps.
CONTROLLER_POLICY_SPEC = {
    "podSelector": {},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{"from": [{"ipBlock": {"cidr": "172.16.0.0/16"}}]}],
    "egress": [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"ports": [{"protocol": "TCP", "port": 443}]},
    ],
}


@pytest.mark.parametrize(
    ("env", "namespace"), [("dev", "aws-application-networking-system"), ("appmesh", "appmesh-system")]
)
def test_the_controller_namespace_is_isolated_both_ways(env: str, namespace: str) -> None:
    recording = record_env(env)
    for cluster in ("eksc1", "eksc2"):
        policy = inputs(
            recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{cluster}-mesh-controller-netpol"
        )
        assert policy["metadata"]["namespace"] == namespace
        assert policy["spec"] == CONTROLLER_POLICY_SPEC
