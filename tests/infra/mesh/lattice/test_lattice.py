"""The VPC Lattice backend: same apps and name, no sidecars; objects valid against the CRDs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

import botocore.session
import pytest
import yaml

from automation.recorder import Recording
from automation.validate import CrdSchemas, validate_objects
from infra import iam
from infra.config_parse import ConfigError, parse_stack_file
from infra.mesh import backend_for
from infra.mesh.lattice import iam as lattice_iam
from infra.mesh.lattice import objects
from infra.topology import topology_of
from tests.support import (
    REFERENCE_DIR,
    env_values,
    inputs,
    record_document,
    record_env,
    stack_document,
    three_clusters,
    variant,
)
from workloads.runtime.common.settings import ServerSettings

LATTICE = topology_of(parse_stack_file(stack_document("dev"), "dev"))
ARNS = iam.Arns("aws", "us-east-1", "123456789012")


def every_object() -> list[dict[str, Any]]:
    colors = LATTICE.colors
    return [
        objects.gateway_class(),
        objects.gateway("crossmesh-dev", LATTICE),
        *(objects.version_service(app, LATTICE) for app in colors),
        *(objects.service_export(app, LATTICE) for app in colors),
        *(objects.target_group_policy(app, LATTICE) for app in colors),
        *(objects.service_import(app, LATTICE, "eksc2-dev") for app in colors),
        objects.http_route(LATTICE, "crossmesh-dev", "colorapp-dev"),
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
    route = objects.http_route(LATTICE, "crossmesh-dev", "colorapp-dev")
    assert route["spec"] == {
        "hostnames": ["colorapp.appmesh-demo.pvt.aws.local"],
        "parentRefs": [{"name": "crossmesh-dev", "sectionName": "http"}],
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
        "pulumi.com/waitFor": "jsonpath={.metadata.annotations.application-networking\\.k8s\\.aws/lattice-assigned-domain-name}",
        # The Lattice service is named per stack (names are unique per account), not <route>-<namespace>.
        "application-networking.k8s.aws/service-name-override": "colorapp-dev",
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
    imported = objects.service_import(LATTICE.colors[1], LATTICE, "eksc2-dev")
    assert imported["metadata"]["annotations"] == {
        "application-networking.k8s.aws/aws-eks-cluster-name": "eksc2-dev"
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


def _values(replicas: int) -> dict[str, Any]:
    return objects.controller_values(
        region="us-east-1",
        account_id="1",
        vpc_id="vpc-1",
        cluster_name="c",
        role_arn="arn:r",
        replicas=replicas,
    )


def test_a_node_drain_evicts_one_controller_replica_at_a_time() -> None:
    # The chart ships pdb.enabled: false; without a budget a drain evicts both replicas together, and
    # while none runs the readiness-gate webhook (failurePolicy: Fail) refuses every colorapp pod,
    # the replacements of the pods drained with them included.
    values = _values(2)
    assert values["pdb"] == {"enabled": True, "maxUnavailable": 1}
    spread = values["deployment"]["topologySpreadConstraints"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in spread] == [
        ("topology.kubernetes.io/zone", "ScheduleAnyway"),
        ("kubernetes.io/hostname", "ScheduleAnyway"),
    ]
    # The chart's Deployment selects its pods by these two labels (helm/templates/deployment.yaml).
    assert {json.dumps(c["labelSelector"], sort_keys=True) for c in spread} == {
        json.dumps(
            {
                "matchLabels": {
                    "app.kubernetes.io/instance": "gateway-api-controller",
                    "app.kubernetes.io/name": "aws-gateway-controller-chart",
                }
            },
            sort_keys=True,
        )
    }
    assert values["deployment"]["replicas"] == 2
    # One replica: a budget could only block drains, so none.
    assert _values(1)["pdb"] == {"enabled": False}


def _unknown_keys(values: Mapping[str, Any], defaults: Mapping[str, Any], path: str = "") -> list[str]:
    """Keys of ``values`` the chart's values.yaml does not have; free-form maps ({} by default) end
    the walk."""
    unknown: list[str] = []
    for key, value in values.items():
        where = f"{path}{key}"
        default = defaults.get(key, KeyError)
        if default is KeyError:
            unknown.append(where)
        elif isinstance(value, Mapping) and isinstance(default, Mapping) and default:
            unknown += _unknown_keys(
                cast(Mapping[str, Any], value), cast(Mapping[str, Any], default), f"{where}."
            )
    return unknown


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason=f"chart values not found at {REFERENCE_DIR}")
def test_every_controller_value_is_a_key_of_the_pinned_chart() -> None:
    # A misspelled key is ignored by Helm without a word; the chart's own values.yaml names them all.
    defaults = yaml.safe_load((REFERENCE_DIR / "lattice-controller-values.yaml").read_text())
    assert defaults["image"]["tag"] == "v2.1.3"
    for replicas in (1, 2):
        assert _unknown_keys(_values(replicas), defaults) == []


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
    # exactly the auth-policy calls the IAMAuthPolicy on the route needs, on services only: the
    # service network's policy is Pulumi's, and the controller may not replace or delete it
    assert not [a for a in scoped["Action"] if "AuthPolicy" in a]
    auth = by_sid["AuthPoliciesOfServicesOnly"]
    assert auth["Resource"] == "arn:aws:vpc-lattice:us-east-1:123456789012:service/*"
    assert set(auth["Action"]) == {
        "vpc-lattice:GetAuthPolicy",
        "vpc-lattice:PutAuthPolicy",
        "vpc-lattice:DeleteAuthPolicy",
    }
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert not [a for a in actions if a.startswith(("logs:", "s3:", "firehose:", "acm:"))]
    assert "vpc-lattice:*" not in actions
    assert by_sid["CreateLatticeServiceLinkedRole"]["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "vpc-lattice.amazonaws.com"}
    }


def test_every_lattice_action_granted_is_an_operation_of_the_lattice_api() -> None:
    # IAM takes an action that does not exist without complaint; Access Analyzer flags it. Lattice's IAM
    # actions are its API operations (vpc-lattice-svcs:Invoke aside), as botocore's model lists them.
    import botocore.session

    operations = set(botocore.session.get_session().get_service_model("vpc-lattice").operation_names)
    document = lattice_iam.controller_policy(ARNS)
    granted = {a for s in document["Statement"] for a in s["Action"] if a.startswith("vpc-lattice:")}
    assert granted
    assert sorted(a for a in granted if a.removeprefix("vpc-lattice:") not in operations) == []


def test_assigned_domain_reads_the_controller_annotation() -> None:
    assert objects.assigned_domain({"annotations": {objects.ASSIGNED_DOMAIN: "x.on.aws"}}) == "x.on.aws"
    with pytest.raises(ValueError, match=r"no application-networking\.k8s\.aws/lattice-assigned-domain-name"):
        objects.assigned_domain({"annotations": {}})


def test_tracing_with_lattice_is_valid_input() -> None:
    # Tracing no longer comes from App Mesh's injected daemon: the apps export to a collector.
    config = parse_stack_file(variant("dev", lambda c: c["crossmesh:mesh"].update(tracing="x-ray")), "dev")
    assert config.mesh.tracing.value == "x-ray"
    assert backend_for(config).config_problems() == []  # and the Lattice backend takes it


# The program with the lattice backend --------------------------------------------------------------


def test_no_app_mesh_anywhere_and_a_lattice_controller_per_cluster() -> None:
    recording = record_env("dev")
    assert not [r for r in recording if r.type.startswith("kubernetes:appmesh.k8s.aws")]
    releases = {r.name: dict(r.inputs) for r in recording.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"eksc1-mesh-controller-release", "eksc2-mesh-controller-release"}
    release = releases["eksc2-mesh-controller-release"]
    assert (
        release["chart"] == "oci://public.ecr.aws/aws-application-networking-k8s/aws-gateway-controller-chart"
    )
    assert release["version"] == "v2.1.3"
    assert release["namespace"] == "aws-application-networking-system"
    assert release["values"]["clusterName"] == "eksc2-dev"
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
    recording = record_env("dev")
    network = inputs(recording, "aws:vpclattice/serviceNetwork:ServiceNetwork", "mesh-service-network")
    assert network["name"] == "crossmesh-dev"
    # IAM auth: Lattice denies every call no auth policy allows (LatticeAuthPolicies)
    assert network["authType"] == "AWS_IAM"
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


def test_renaming_the_service_network_moves_the_vpc_association_old_one_first() -> None:
    # A new mesh.lattice.serviceNetwork replaces the service network (its name is force-new), and with
    # it the association (serviceNetworkIdentifier is force-new). A VPC joins one service network
    # through an association, so the new association can only be made once the old one is gone.
    association_type = "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation"
    renamed = record_document(
        variant("dev", lambda c: c["crossmesh:mesh"]["lattice"].update(serviceNetwork="crossmesh-blue"))
    )
    network = inputs(renamed, "aws:vpclattice/serviceNetwork:ServiceNetwork", "mesh-service-network")
    assert network["name"] == "crossmesh-blue"
    for recording in (record_env("dev"), renamed):
        association = recording.named(association_type, "mesh-vpc")
        assert association.delete_before_replace
        assert association.property_dependencies["serviceNetworkIdentifier"] == (
            recording.named("aws:vpclattice/serviceNetwork:ServiceNetwork", "mesh-service-network").urn,
        )
    # Nothing else Pulumi owns in Lattice needs it: the auth policy and the access log subscription
    # hang off the new network, which has none yet.
    for type_, name in (
        ("aws:vpclattice/authPolicy:AuthPolicy", "mesh-auth-service-network"),
        ("aws:vpclattice/accessLogSubscription:AccessLogSubscription", "mesh-access-log-subscription"),
    ):
        assert not renamed.named(type_, name).delete_before_replace


def test_lattice_reaches_pods_through_its_prefix_list_on_the_app_port_only() -> None:
    recording = record_env("dev")
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
    recording = record_env("dev")
    rules = recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [r.name for r in rules] == ["mesh-eksc2-from-lattice-8080"]
    assert not any("referencedSecurityGroupId" in r.inputs for r in rules)
    config = parse_stack_file(stack_document("dev"), "dev")
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
    assert _placement(record_env("dev")) == {
        ("GatewayClass", "amazon-vpc-lattice", "eksc1"),
        ("GatewayClass", "amazon-vpc-lattice", "eksc2"),
        ("Gateway", "crossmesh-dev", "eksc1"),
        ("ServiceExport", "colorapp-blue", "eksc2"),
        ("ServiceExport", "colorapp-red", "eksc2"),
        ("TargetGroupPolicy", "colorapp-blue", "eksc2"),
        ("TargetGroupPolicy", "colorapp-red", "eksc2"),
        ("ServiceImport", "colorapp-blue", "eksc1"),
        ("ServiceImport", "colorapp-red", "eksc1"),
        ("HTTPRoute", "colorapp", "eksc1"),
        # the colorapp service's auth policy, beside the route it targets
        ("IAMAuthPolicy", "colorapp-invoke", "eksc1"),
    }


def test_apps_are_unchanged_no_sidecar_iam_and_restricted_namespace() -> None:
    lattice, dev = record_env("dev"), record_env("appmesh")
    for name in ("eksc1-apps-front", "eksc2-apps-colorapp-blue"):
        left = inputs(lattice, "kubernetes:apps/v1:Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ][0]
        right = inputs(dev, "kubernetes:apps/v1:Deployment", name)["spec"]["template"]["spec"]["containers"][
            0
        ]
        # same env (the name front calls included) apart from what the backend adds (front's upstream
        # client settings on Lattice), probes, security context; only the image's repository differs
        added = {"UPSTREAM_AUTH", "UPSTREAM_SIGV4_SERVICE", "AWS_REGION", "UPSTREAM_TIMEOUT_MS"}
        added |= {"UPSTREAM_PER_TRY_TIMEOUT_MS", "UPSTREAM_MAX_RETRIES", "UPSTREAM_RETRY_BUDGET_PERCENT"}
        added |= {"HEADER_READ_TIMEOUT_MS"}  # colorapp outlasts Lattice's idle connections
        # (App Mesh's front gets the same variables with Envoy's share: no retries of its own)
        assert [e for e in left["env"] if e["name"] not in added] == [
            e for e in right["env"] if e["name"] not in added
        ]
        assert left["readinessProbe"] == right["readinessProbe"]
        assert left["securityContext"] == right["securityContext"]
    # only front has a role (it signs its calls); colorapp's pods call nothing
    assert [r.name for r in lattice.of_type("aws:iam/role:Role") if "-apps-" in r.name] == [
        "eksc1-apps-front-irsa-role"
    ]
    account = inputs(lattice, "kubernetes:core/v1:ServiceAccount", "eksc2-apps-colorapp-blue-sa")
    assert "annotations" not in account["metadata"]
    gate = "application-networking.k8s.aws/pod-readiness-gate-inject"
    labels = {
        key: inputs(lattice, "kubernetes:core/v1:Namespace", f"{key}-apps-namespace-namespace")["metadata"][
            "labels"
        ]
        for key in ("eksc1", "eksc2")
    }
    for cluster_labels in labels.values():
        assert cluster_labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert "mesh" not in cluster_labels
    # Readiness gates where colorapp's Services are exported (eksc2) and nowhere else: the label sends
    # every pod of the namespace through the controller's fail-closed webhook, which gates only pods
    # behind an exported Service, so on eksc1 it could only stop front's pods from being created.
    assert labels["eksc2"][gate] == "enabled"
    assert gate not in labels["eksc1"]


def test_network_policies_admit_the_lattice_data_plane() -> None:
    recording = record_env("dev")
    colorapp = inputs(
        recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "eksc2-apps-netpol-colorapp-from-the-mesh"
    )
    sources = [peer["ipBlock"]["cidr"] for peer in colorapp["spec"]["ingress"][0]["from"]]
    # exactly Lattice's data-plane range: nothing else calls colorapp
    assert sources == ["169.254.171.0/24"]
    front = inputs(
        recording,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "eksc1-apps-netpol-front-ingress-and-upstream",
    )
    assert [peer["ipBlock"]["cidr"] for peer in front["spec"]["egress"][0]["to"]] == ["169.254.171.0/24"]


def test_three_clusters_with_lattice() -> None:
    recording = record_document(variant("dev", three_clusters), "dev")
    placement = _placement(recording)
    assert ("ServiceExport", "colorapp-red", "eksc3") in placement
    assert ("ServiceImport", "colorapp-red", "eksc1") in placement
    imported = inputs(
        recording,
        "kubernetes:application-networking.k8s.aws/v1alpha1:ServiceImport",
        "eksc1-serviceimport-colorapp-red",
    )
    assert imported["metadata"]["annotations"] == {
        "application-networking.k8s.aws/aws-eks-cluster-name": "eksc3-dev"
    }
    rules = sorted(
        r.name
        for r in recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "lattice" in r.name
    )
    assert rules == ["mesh-eksc2-from-lattice-8080", "mesh-eksc3-from-lattice-8080"]


def test_controller_role_policy_is_the_narrowed_document() -> None:
    recording = record_env("dev")
    policy = json.loads(
        inputs(recording, "aws:iam/rolePolicy:RolePolicy", "eksc1-mesh-controller-irsa-policy")["policy"]
    )
    assert policy == lattice_iam.controller_policy(ARNS)


# Zero-trust calls, access logs, health checks, a first deploy that cannot hang ------------------------

FRONT_ROLE = "arn:aws:iam::123456789012:role/crossmesh-dev-eksc1-front"
AUTH_POLICY = "aws:vpclattice/authPolicy:AuthPolicy"
IAM_AUTH_POLICY = "kubernetes:application-networking.k8s.aws/v1alpha1:IAMAuthPolicy"


def _only_front_may_invoke(document: dict[str, Any]) -> None:
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeFromTheseRolesOnly",
                "Effect": "Allow",
                "Principal": {"AWS": [FRONT_ROLE]},
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                # from the shared VPC only: a session of front's role used from any other VPC that
                # joins the network is refused
                "Condition": {"StringEquals": {"vpc-lattice-svcs:SourceVpc": "<network-vpc.id>"}},
            }
        ],
    }


def test_auth_policies_on_the_network_and_the_service_name_front_only() -> None:
    recording = record_env("dev")
    # the role front's pods run as is the one the policies name, and the VPC is the stack's
    front_role = recording.named("aws:iam/role:Role", "eksc1-apps-front-irsa-role")
    assert front_role.outputs["arn"] == FRONT_ROLE
    (vpc,) = recording.of_type("aws:ec2/vpc:Vpc")
    assert vpc.id == "<network-vpc.id>"
    network_policy = inputs(recording, AUTH_POLICY, "mesh-auth-service-network")
    assert network_policy["resourceIdentifier"] == "<mesh-service-network.id>"
    _only_front_may_invoke(json.loads(network_policy["policy"]))
    service_policy = inputs(recording, IAM_AUTH_POLICY, "mesh-auth-service")
    assert service_policy["spec"]["targetRef"] == {
        "group": "gateway.networking.k8s.io",
        "kind": "HTTPRoute",
        "name": "colorapp",
    }
    _only_front_may_invoke(json.loads(service_policy["spec"]["policy"]))
    # both come after the role exists (a policy naming a missing role is refused) and after the route
    role_policy = recording.named("aws:iam/rolePolicy:RolePolicy", "eksc1-apps-front-irsa-policy")
    route = recording.named("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "eksc1-httproute-colorapp")
    for policy in (AUTH_POLICY, IAM_AUTH_POLICY):
        name = "mesh-auth-service-network" if policy == AUTH_POLICY else "mesh-auth-service"
        assert recording.depends_on(recording.named(policy, name), role_policy)
    assert recording.depends_on(recording.named(IAM_AUTH_POLICY, "mesh-auth-service"), route)
    # no wildcard principal anywhere in the stack's documents
    for registration in recording:
        assert '"Principal": "*"' not in json.dumps(registration.inputs)
        assert '"AWS": "*"' not in json.dumps(registration.inputs)


def test_front_role_may_invoke_lattice_services_only() -> None:
    recording = record_env("dev")
    policy = json.loads(
        inputs(recording, "aws:iam/rolePolicy:RolePolicy", "eksc1-apps-front-irsa-policy")["policy"]
    )
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeLatticeServices",
                "Effect": "Allow",
                "Action": ["vpc-lattice-svcs:Invoke"],
                "Resource": "arn:aws:vpc-lattice:us-east-1:123456789012:service/*",
            }
        ],
    }
    account = inputs(recording, "kubernetes:core/v1:ServiceAccount", "eksc1-apps-front-sa")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": FRONT_ROLE}


def test_auth_none_turns_iam_auth_off_everywhere() -> None:
    recording = record_document(variant("dev", lambda c: c["crossmesh:mesh"]["lattice"].update(auth="none")))
    network = inputs(recording, "aws:vpclattice/serviceNetwork:ServiceNetwork", "mesh-service-network")
    assert network["authType"] == "NONE"
    assert recording.of_type(AUTH_POLICY) == []
    assert recording.of_type(IAM_AUTH_POLICY) == []
    assert not [r for r in recording.of_type("aws:iam/role:Role") if "-apps-" in r.name]
    env = _front_env(recording)
    assert env["UPSTREAM_AUTH"] == "none"


def test_auth_policy_refuses_wildcard_or_missing_principals() -> None:
    with pytest.raises(ValueError, match="named roles"):
        lattice_iam.invoke_auth_policy(["*"], "vpc-1")
    with pytest.raises(ValueError, match="named roles"):
        lattice_iam.invoke_auth_policy([], "vpc-1")


def _front_env(recording: Recording) -> dict[str, str]:
    deployment = inputs(recording, "kubernetes:apps/v1:Deployment", "eksc1-apps-front")
    return env_values(deployment["spec"]["template"]["spec"]["containers"][0]["env"])


def test_front_applies_the_route_settings_and_signs_its_calls() -> None:
    env = _front_env(record_env("dev"))
    assert {k: v for k, v in env.items() if k.startswith(("UPSTREAM_", "AWS_REGION"))} == {
        "UPSTREAM_AUTH": "sigv4",
        "UPSTREAM_SIGV4_SERVICE": "vpc-lattice-svcs",
        "AWS_REGION": "us-east-1",
        "UPSTREAM_TIMEOUT_MS": "3000",
        "UPSTREAM_PER_TRY_TIMEOUT_MS": "1000",
        "UPSTREAM_MAX_RETRIES": "2",
        "UPSTREAM_RETRY_BUDGET_PERCENT": "20",
    }
    # on App Mesh, Envoy retries: front does not (so retries never multiply)
    appmesh = _front_env(record_env("appmesh"))
    assert appmesh["UPSTREAM_MAX_RETRIES"] == "0"
    assert "UPSTREAM_AUTH" not in appmesh


def test_colorapp_keeps_idle_connections_open_past_lattices_idle_timeout() -> None:
    """Lattice pools connections to targets and closes them after the service's idleTimeoutSeconds
    (botocore's CreateService: 60 by default, and 60 at least); colorapp must not close first."""
    shape = botocore.session.get_session().get_service_model("vpc-lattice")
    idle = shape.operation_model("CreateService").input_shape.members["idleTimeoutSeconds"]
    default = re.search(r"the default is (\d+) seconds", idle.documentation)
    assert default is not None
    assert objects.LATTICE_TARGET_IDLE_TIMEOUT_SECONDS == int(default.group(1)) == idle.metadata["min"]
    recording = record_env("dev")
    for name in ("eksc2-apps-colorapp-blue", "eksc2-apps-colorapp-red"):
        deployment = inputs(recording, "kubernetes:apps/v1:Deployment", name)
        env = env_values(deployment["spec"]["template"]["spec"]["containers"][0]["env"])
        assert env["HEADER_READ_TIMEOUT_MS"] == "61000"
    # The apps' settings take it (their bound is checked where it is declared).
    bounds = ServerSettings.model_fields["header_read_timeout_ms"].metadata
    assert objects.target_keep_alive_ms() <= next(b.le for b in bounds if hasattr(b, "le"))
    # front's own keep-alive is the load balancer's business, not Lattice's.
    assert _front_env(recording)["HEADER_READ_TIMEOUT_MS"] == "6000"


def test_access_logs_go_to_an_encrypted_group_with_the_configured_retention() -> None:
    recording = record_env("prod")
    subscription = inputs(
        recording,
        "aws:vpclattice/accessLogSubscription:AccessLogSubscription",
        "mesh-access-log-subscription",
    )
    assert subscription["resourceIdentifier"] == "<mesh-service-network.id>"
    assert subscription["destinationArn"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/crossmesh/prod/vpc-lattice-access"
    )
    group = inputs(recording, "aws:cloudwatch/logGroup:LogGroup", "mesh-access-logs")
    assert group["name"] == "/crossmesh/prod/vpc-lattice-access"
    assert group["retentionInDays"] == 365
    assert group["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/<mesh-access-logs-key.keyId>"
    off = record_document(
        variant("dev", lambda c: c["crossmesh:mesh"]["lattice"].update(accessLogs={"enabled": False}))
    )
    assert off.of_type("aws:vpclattice/accessLogSubscription:AccessLogSubscription") == []


def test_health_checks_come_from_config() -> None:
    def tuned(config: dict[str, Any]) -> None:
        config["crossmesh:mesh"]["lattice"]["healthCheck"] = {
            "path": "/ping",
            "intervalSeconds": 30,
            "timeoutSeconds": 3,
        }

    policy = inputs(
        record_document(variant("dev", tuned)),
        "kubernetes:application-networking.k8s.aws/v1alpha1:TargetGroupPolicy",
        "eksc2-targetgrouppolicy-colorapp-blue",
    )
    check = policy["spec"]["healthCheck"]
    assert (check["path"], check["intervalSeconds"], check["timeoutSeconds"]) == ("/ping", 30, 3)
    assert (check["healthyThresholdCount"], check["unhealthyThresholdCount"], check["statusMatch"]) == (
        2,
        3,
        "200",
    )
    with pytest.raises(ConfigError, match="timeoutSeconds: got 30; expected less than intervalSeconds"):
        parse_stack_file(
            variant(
                "dev",
                lambda c: c["crossmesh:mesh"]["lattice"].update(
                    healthCheck={"intervalSeconds": 10, "timeoutSeconds": 30}
                ),
            ),
            "dev",
        )


def test_controller_resyncs_periodically() -> None:
    values = inputs(record_env("dev"), "kubernetes:helm.sh/v3:Release", "eksc2-mesh-controller-release")[
        "values"
    ]
    assert values["reconcileDefaultResyncSeconds"] == 300


def test_colorapp_pods_start_after_their_export_is_wired_to_the_route() -> None:
    recording = record_env("dev")
    for color in ("blue", "red"):
        pods = recording.named("kubernetes:apps/v1:Deployment", f"eksc2-apps-colorapp-{color}")
        for type_, name in (
            ("kubernetes:core/v1:Service", f"eksc2-service-colorapp-{color}"),
            (
                "kubernetes:application-networking.k8s.aws/v1alpha1:ServiceExport",
                f"eksc2-serviceexport-colorapp-{color}",
            ),
            (
                "kubernetes:application-networking.k8s.aws/v1alpha1:TargetGroupPolicy",
                f"eksc2-targetgrouppolicy-colorapp-{color}",
            ),
            ("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "eksc1-httproute-colorapp"),
            ("kubernetes:helm.sh/v3:Release", "eksc2-mesh-controller-release"),
        ):
            assert recording.depends_on(pods, recording.named(type_, name)), (color, name)
    # and the route itself waits only for the exports (through the imports), never for pods
    route = recording.named("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "eksc1-httproute-colorapp")
    for color in ("blue", "red"):
        pods = recording.named("kubernetes:apps/v1:Deployment", f"eksc2-apps-colorapp-{color}")
        assert not recording.depends_on(route, pods)


NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _aws_api_selectors(recording: Recording) -> dict[str, object]:
    return {
        r.name: dict(r.inputs)["spec"]["podSelector"]
        for r in recording.of_type(NETWORK_POLICY)
        if r.name.endswith("to-aws-apis") or r.name.endswith("allow-aws-apis")
    }


def test_only_the_pods_that_call_aws_apis_may_open_https() -> None:
    # Lattice has no sidecar: front calls STS for its signing role, colorapp calls no AWS API.
    front_only = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["front"]}]}
    assert _aws_api_selectors(record_env("dev")) == {"eksc1-apps-netpol-allow-aws-apis": front_only}
    # The collector exports to X-Ray with its own role, from both clusters.
    collector = {"matchLabels": {"app": "otel-collector"}}
    assert _aws_api_selectors(record_env("staging")) == {
        "eksc1-apps-netpol-allow-aws-apis": front_only,
        "eksc1-trace-collector-netpol-otel-collector-to-aws-apis": collector,
        "eksc2-trace-collector-netpol-otel-collector-to-aws-apis": collector,
    }
    # Unsigned calls need no credentials: no app pod opens HTTPS.
    unsigned = record_document(variant("dev", lambda c: c["crossmesh:mesh"]["lattice"].update(auth="none")))
    assert _aws_api_selectors(unsigned) == {}
    # On App Mesh every app's Envoy calls the mesh's control plane.
    assert _aws_api_selectors(record_env("appmesh")) == {
        "eksc1-apps-netpol-allow-aws-apis": front_only,
        "eksc2-apps-netpol-allow-aws-apis": {
            "matchExpressions": [{"key": "app", "operator": "In", "values": ["colorapp"]}]
        },
    }
