"""The VPC Lattice backend: same apps and name, no sidecars; objects valid against the CRDs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.recorder import Recording
from automation.validate import CrdSchemas, validate_objects
from infra import iam
from infra.config_parse import parse_stack_file
from infra.mesh import backend_for
from infra.mesh.lattice import iam as lattice_iam
from infra.mesh.lattice import objects
from infra.topology import topology_of
from tests.support import (
    REFERENCE_DIR,
    inputs,
    record_document,
    record_env,
    stack_document,
    three_clusters,
    variant,
)

LATTICE = topology_of(parse_stack_file(stack_document("lattice"), "lattice"))
ARNS = iam.Arns("aws", "us-east-1", "123456789012")


def every_object() -> list[dict[str, Any]]:
    colors = LATTICE.colors
    return [
        objects.gateway_class(),
        objects.gateway("crossmesh-lattice", LATTICE),
        *(objects.version_service(app, LATTICE) for app in colors),
        *(objects.service_export(app, LATTICE) for app in colors),
        *(objects.target_group_policy(app, LATTICE) for app in colors),
        *(objects.service_import(app, LATTICE, "eksc2-lattice") for app in colors),
        objects.http_route(LATTICE, "crossmesh-lattice"),
    ]


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason=f"CRD schemas not found at {REFERENCE_DIR}")
def test_every_object_is_valid_against_the_gateway_api_and_lattice_crds() -> None:
    crds = CrdSchemas.from_dir(REFERENCE_DIR)
    problems, notes = validate_objects(
        [("eksc1", o) for o in every_object()], kubernetes_version="1.34", crds=crds
    )
    assert problems == []
    assert notes == []
    assert crds.knows("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert crds.knows("application-networking.k8s.aws/v1alpha1", "ServiceExport")


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason=f"CRD schemas not found at {REFERENCE_DIR}")
def test_crd_validation_catches_a_wrong_export_route_type() -> None:
    export = objects.service_export(LATTICE.colors[0], LATTICE)
    export["spec"]["exportedPorts"][0]["routeType"] = "HTTPS"
    problems, _ = validate_objects(
        [("eksc2", export)], kubernetes_version="1.34", crds=CrdSchemas.from_dir(REFERENCE_DIR)
    )
    assert [p.field for p in problems] == ["spec.exportedPorts[0].routeType"]


def test_route_is_named_by_the_host_front_calls_and_weighs_the_imports() -> None:
    route = objects.http_route(LATTICE, "crossmesh-lattice")
    assert route["spec"] == {
        "hostnames": ["colorapp.appmesh-demo.pvt.aws.local"],
        "parentRefs": [{"name": "crossmesh-lattice", "sectionName": "http"}],
        "rules": [
            {
                "backendRefs": [
                    {
                        "group": "application-networking.k8s.aws",
                        "kind": "ServiceImport",
                        "name": "colorapp-blue",
                        "weight": 50,
                    },
                    {
                        "group": "application-networking.k8s.aws",
                        "kind": "ServiceImport",
                        "name": "colorapp-red",
                        "weight": 50,
                    },
                ]
            }
        ],
    }
    assert route["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.metadata.annotations.application-networking\\.k8s\\.aws/lattice-assigned-domain-name}"
    }


def test_export_carries_the_federation_annotation_the_controller_requires() -> None:
    export = objects.service_export(LATTICE.colors[0], LATTICE)
    assert export["metadata"]["annotations"] == {
        "application-networking.k8s.aws/federation": "amazon-vpc-lattice"
    }
    assert export["spec"] == {"exportedPorts": [{"port": 8080, "routeType": "HTTP"}]}


def test_each_version_gets_its_own_service_and_health_check() -> None:
    blue = LATTICE.colors[0]
    service = objects.version_service(blue, LATTICE)
    assert service["metadata"]["name"] == "colorapp-blue"
    assert service["spec"]["selector"] == {"app": "colorapp", "version": "blue"}
    policy = objects.target_group_policy(blue, LATTICE)
    assert policy["spec"]["targetRef"] == {
        "group": "application-networking.k8s.aws",
        "kind": "ServiceExport",
        "name": "colorapp-blue",
    }
    assert policy["spec"]["healthCheck"]["path"] == "/healthz"
    assert policy["spec"]["healthCheck"]["port"] == 8080


def test_imports_name_the_exporting_cluster() -> None:
    imported = objects.service_import(LATTICE.colors[1], LATTICE, "eksc2-lattice")
    assert imported["metadata"]["annotations"] == {
        "application-networking.k8s.aws/aws-eks-cluster-name": "eksc2-lattice"
    }
    assert imported["spec"] == {"type": "ClusterSetIP", "ports": [{"port": 8080, "protocol": "TCP"}]}


def test_controller_values_are_explicit_because_pods_cannot_reach_imds() -> None:
    values = objects.controller_values(
        region="us-east-1",
        account_id="1",
        vpc_id="vpc-1",
        cluster_name="eksc1-x",
        role_arn="arn:r",
        replicas=2,
    )
    assert (values["awsRegion"], values["awsAccountId"], values["clusterVpcId"], values["clusterName"]) == (
        "us-east-1",
        "1",
        "vpc-1",
        "eksc1-x",
    )
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:r"}
    assert "defaultServiceNetwork" not in values  # Pulumi owns the network and its one VPC association


def test_controller_policy_is_narrowed_and_scoped_to_the_account() -> None:
    document = lattice_iam.controller_policy(ARNS)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    scoped = by_sid["LatticeObjectsInThisAccount"]
    assert scoped["Resource"] == "arn:aws:vpc-lattice:us-east-1:123456789012:*"
    assert "vpc-lattice:CreateService" in scoped["Action"]
    assert "vpc-lattice:UpdateRule" in scoped["Action"]  # authorises BatchUpdateRule
    # Pulumi owns the service network and its VPC association: the controller only reads them
    assert "vpc-lattice:CreateServiceNetwork" not in scoped["Action"]
    assert "vpc-lattice:CreateServiceNetworkVpcAssociation" not in scoped["Action"]
    assert "vpc-lattice:PutAuthPolicy" not in scoped["Action"]
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert not [a for a in actions if a.startswith(("logs:", "s3:", "firehose:", "acm:"))]
    assert "vpc-lattice:*" not in actions
    assert by_sid["CreateLatticeServiceLinkedRole"]["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "vpc-lattice.amazonaws.com"}
    }


def test_assigned_domain_reads_the_controller_annotation() -> None:
    assert objects.assigned_domain({"annotations": {objects.ASSIGNED_DOMAIN: "x.on.aws"}}) == "x.on.aws"
    with pytest.raises(ValueError, match=r"no application-networking\.k8s\.aws/lattice-assigned-domain-name"):
        objects.assigned_domain({"annotations": {}})


def test_tracing_with_lattice_is_valid_input() -> None:
    # Tracing no longer comes from App Mesh's injected daemon: the apps export to a collector.
    config = parse_stack_file(
        variant("lattice", lambda c: c["crossmesh:mesh"].update(tracing="x-ray")), "lattice"
    )
    assert config.mesh.tracing.value == "x-ray"


# The program with the lattice backend --------------------------------------------------------------


def test_no_app_mesh_anywhere_and_a_lattice_controller_per_cluster() -> None:
    recording = record_env("lattice")
    assert not [r for r in recording if r.type.startswith("kubernetes:appmesh.k8s.aws")]
    releases = {r.name: dict(r.inputs) for r in recording.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"eksc1-mesh-controller-release", "eksc2-mesh-controller-release"}
    release = releases["eksc2-mesh-controller-release"]
    assert (
        release["chart"] == "oci://public.ecr.aws/aws-application-networking-k8s/aws-gateway-controller-chart"
    )
    assert release["version"] == "v2.1.3"
    assert release["namespace"] == "aws-application-networking-system"
    assert release["values"]["clusterName"] == "eksc2-lattice"
    assert release["values"]["clusterVpcId"] == "<network-vpc.id>"
    crds = inputs(recording, "kubernetes:yaml/v2:ConfigFile", "eksc2-mesh-controller-gateway-api-crds")
    assert (
        crds["file"]
        == "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.0/standard-install.yaml"
    )
    # CRDs and the IRSA role before the release; the GatewayClass after it
    rel = recording.named("kubernetes:helm.sh/v3:Release", "eksc2-mesh-controller-release")
    assert recording.depends_on(
        rel, recording.named("kubernetes:yaml/v2:ConfigFile", "eksc2-mesh-controller-gateway-api-crds")
    )
    assert recording.depends_on(
        rel, recording.named("aws:iam/rolePolicy:RolePolicy", "eksc2-mesh-controller-irsa-policy")
    )
    gateway_class = recording.named(
        "kubernetes:gateway.networking.k8s.io/v1:GatewayClass", "eksc2-mesh-controller-gateway-class"
    )
    assert recording.depends_on(gateway_class, rel)


def test_service_network_association_and_dns_name() -> None:
    recording = record_env("lattice")
    network = inputs(recording, "aws:vpclattice/serviceNetwork:ServiceNetwork", "mesh-service-network")
    assert network["name"] == "crossmesh-lattice"
    assert network["authType"] == "NONE"
    association = inputs(
        recording, "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation", "mesh-vpc"
    )
    assert association["vpcIdentifier"] == "<network-vpc.id>"
    record = inputs(recording, "aws:route53/record:Record", "mesh-dns")
    assert record["zoneId"] == "<discovery-namespace.hostedZone>"
    assert record["name"] == "colorapp.appmesh-demo.pvt.aws.local"
    assert record["type"] == "CNAME"
    # the CNAME target is what the controller wrote on the route
    assert record["records"] == ["<eksc1-httproute-colorapp.latticeDomain>.vpc-lattice-svcs.us-east-1.on.aws"]
    route = recording.named("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "eksc1-httproute-colorapp")
    assert recording.depends_on(recording.named("aws:route53/record:Record", "mesh-dns"), route)


def test_lattice_reaches_pods_through_its_prefix_list_on_the_app_port_only() -> None:
    recording = record_env("lattice")
    rules = [
        r
        for r in recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "lattice" in r.name
    ]
    assert [r.name for r in rules] == ["mesh-eksc2-from-lattice-8080"]
    rule = dict(rules[0].inputs)
    assert rule["securityGroupId"] == "<eksc2-eks.clusterSecurityGroupId>"
    assert rule["prefixListId"] == "<com.amazonaws.us-east-1.vpc-lattice.id>"
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 8080, 8080)
    assert "cidrIpv4" not in rule
    # and the prefix list was looked up by its documented name
    assert (
        "aws:ec2/getManagedPrefixList:getManagedPrefixList",
        {"name": "com.amazonaws.us-east-1.vpc-lattice"},
    ) in [(token, dict(args)) for token, args in recording.invokes]


def test_no_node_to_node_rule_on_lattice() -> None:
    # Calls cross clusters through Lattice: the App Mesh rule from front's nodes has no use here, and
    # the prefix-list rule is the only ingress rule of the whole stack.
    recording = record_env("lattice")
    rules = recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [r.name for r in rules] == ["mesh-eksc2-from-lattice-8080"]
    assert not any("referencedSecurityGroupId" in r.inputs for r in rules)
    config = parse_stack_file(stack_document("lattice"), "lattice")
    assert backend_for(config).cross_cluster_rules(topology_of(config)) == ()


def _placement(recording: Recording) -> set[tuple[str, str, str]]:
    def cluster(provider: str | None) -> str:
        return recording.by_urn(provider or "").name.removesuffix("-k8s")

    return {
        (r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"], cluster(r.provider))
        for r in recording
        if r.type.startswith(("kubernetes:application-networking", "kubernetes:gateway.networking"))
    }


def test_exports_where_pods_run_imports_and_route_where_front_runs() -> None:
    assert _placement(record_env("lattice")) == {
        ("GatewayClass", "amazon-vpc-lattice", "eksc1"),
        ("GatewayClass", "amazon-vpc-lattice", "eksc2"),
        ("Gateway", "crossmesh-lattice", "eksc1"),
        ("ServiceExport", "colorapp-blue", "eksc2"),
        ("ServiceExport", "colorapp-red", "eksc2"),
        ("TargetGroupPolicy", "colorapp-blue", "eksc2"),
        ("TargetGroupPolicy", "colorapp-red", "eksc2"),
        ("ServiceImport", "colorapp-blue", "eksc1"),
        ("ServiceImport", "colorapp-red", "eksc1"),
        ("HTTPRoute", "colorapp", "eksc1"),
    }


def test_apps_are_unchanged_no_sidecar_iam_and_restricted_namespace() -> None:
    lattice, dev = record_env("lattice"), record_env("dev")
    for name in ("eksc1-apps-front", "eksc2-apps-colorapp-blue"):
        left = inputs(lattice, "kubernetes:apps/v1:Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ][0]
        right = inputs(dev, "kubernetes:apps/v1:Deployment", name)["spec"]["template"]["spec"]["containers"][
            0
        ]
        # same env (the name front calls included), probes, security context; only the image's
        # repository differs, by stack
        assert left["env"] == right["env"]
        assert left["readinessProbe"] == right["readinessProbe"]
        assert left["securityContext"] == right["securityContext"]
    # no per-app IAM role: nothing in the pod calls AWS
    assert not [r for r in lattice.of_type("aws:iam/role:Role") if "-apps-" in r.name]
    account = inputs(lattice, "kubernetes:core/v1:ServiceAccount", "eksc1-apps-front-sa")
    assert "annotations" not in account["metadata"]
    namespace = inputs(lattice, "kubernetes:core/v1:Namespace", "eksc1-apps-namespace-namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert (
        namespace["metadata"]["labels"]["application-networking.k8s.aws/pod-readiness-gate-inject"]
        == "enabled"
    )
    assert "mesh" not in namespace["metadata"]["labels"]


def test_network_policies_admit_the_lattice_data_plane() -> None:
    recording = record_env("lattice")
    colorapp = inputs(
        recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "eksc2-apps-netpol-colorapp-from-the-mesh"
    )
    sources = [peer["ipBlock"]["cidr"] for peer in colorapp["spec"]["ingress"][0]["from"]]
    assert sources == ["172.17.0.0/16", "169.254.171.0/24"]


def test_three_clusters_with_lattice() -> None:
    recording = record_document(variant("lattice", three_clusters), "lattice")
    placement = _placement(recording)
    assert ("ServiceExport", "colorapp-red", "eksc3") in placement
    assert ("ServiceImport", "colorapp-red", "eksc1") in placement
    imported = inputs(
        recording,
        "kubernetes:application-networking.k8s.aws/v1alpha1:ServiceImport",
        "eksc1-serviceimport-colorapp-red",
    )
    assert imported["metadata"]["annotations"] == {
        "application-networking.k8s.aws/aws-eks-cluster-name": "eksc3-lattice"
    }
    rules = sorted(
        r.name
        for r in recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "lattice" in r.name
    )
    assert rules == ["mesh-eksc2-from-lattice-8080", "mesh-eksc3-from-lattice-8080"]


def test_controller_role_policy_is_the_narrowed_document() -> None:
    recording = record_env("lattice")
    policy = json.loads(
        inputs(recording, "aws:iam/rolePolicy:RolePolicy", "eksc1-mesh-controller-irsa-policy")["policy"]
    )
    assert policy == lattice_iam.controller_policy(ARNS)
