"""The configuration model: committed environments parse, and every kind of bad input is named precisely."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import LatticeAuth, MeshBackendKind, NatGatewayMode, StackConfig, Tracing
from infra.config_parse import ConfigError, parse_config, parse_stack_file
from tests.support import PROJECT_DIR, flat, stack_document, variant

Change = Callable[[dict[str, Any]], None]


def parse(env: str, change: Change | None = None) -> StackConfig:
    document = variant(env, change) if change else stack_document(env)
    return parse_stack_file(document, env)


def problems(change: Change, env: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(env, change)
    return [str(p) for p in caught.value.problems]


# The committed environments -------------------------------------------------------------------------


def test_dev_reproduces_the_blog() -> None:
    config = parse("dev")
    assert config.region == "us-east-1"
    assert config.network.cidr == "172.16.0.0/16"
    assert [(c.name, c.nodes.desired) for c in config.clusters] == [("eksc1", 2), ("eksc2", 3)]
    assert config.workloads.front.cluster == "eksc1"
    assert [(v.color, v.cluster, v.weight) for v in config.workloads.colorapp.versions] == [
        ("blue", "eksc2", 50),
        ("red", "eksc2", 50),
    ]
    assert config.mesh.name == "global"
    assert config.mesh.cloud_map_namespace == "appmesh-demo.pvt.aws.local"
    assert config.workloads.namespace == "appmesh-demo"
    assert config.mesh_clusters == ("eksc1", "eksc2")
    assert config.eks_name("eksc1") == "eksc1-dev"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_are_hardened_like_a_real_team_would(env: str) -> None:
    config = parse(env)
    assert config.network.az_count == 3
    assert config.network.nat_gateways is NatGatewayMode.PER_AZ
    assert config.deletion_protection is True
    # on Lattice, traced: OpenTelemetry spans to X-Ray through a collector per cluster
    assert config.mesh.backend is MeshBackendKind.LATTICE
    assert config.mesh.tracing is Tracing.XRAY
    assert config.mesh.lattice.controller_replicas == 2
    assert config.mesh.lattice.auth is LatticeAuth.IAM
    dev = parse("dev")
    for cluster in config.clusters:
        assert cluster.nodes.desired >= 3
        assert cluster.nodes.instance_types != dev.cluster(cluster.name).nodes.instance_types
        # the API endpoint is never open to the world outside dev
        assert not cluster.endpoint.public_access or "0.0.0.0/0" not in cluster.endpoint.public_access_cidrs
    assert all(v.replicas >= 2 for v in config.workloads.colorapp.versions)


def test_defaults_are_the_blogs_names() -> None:
    config = parse_config(
        {"aws:region": "eu-west-1", "crossmesh:clusters": '[{"name": "eksc1"}, {"name": "eksc2"}]'}, "qa"
    )
    assert (config.mesh.name, config.mesh.cloud_map_namespace) == ("global", "appmesh-demo.pvt.aws.local")
    assert (config.workloads.front.name, config.workloads.front.cluster) == ("front", "eksc1")
    assert [(v.color, v.cluster, v.weight) for v in config.workloads.colorapp.versions] == [
        ("blue", "eksc2", 50),
        ("red", "eksc2", 50),
    ]


def test_defaults_place_workloads_on_eksc1_and_eksc2_so_other_names_must_say_where() -> None:
    expected = r"crossmesh:workloads\.front\.cluster: got \(the default\); unknown cluster 'eksc1'"
    with pytest.raises(ConfigError, match=expected):
        parse_config({"aws:region": "eu-west-1", "crossmesh:clusters": '[{"name": "a"}]'}, "qa")


def test_string_keys_stay_strings() -> None:
    config = parse("dev", lambda c: c.update({"crossmesh:kubernetesVersion": "1.32"}))
    assert config.kubernetes_version == "1.32"


# One test per error message -------------------------------------------------------------------------


def _cluster(index: int, **values: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][index].update(values)

    return change


def _nodes(index: int, **values: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][index]["nodes"].update(values)

    return change


def _network(**values: Any) -> Change:
    return lambda config: config["crossmesh:network"].update(values)


def _version(index: int, **values: Any) -> Change:
    return lambda config: config["crossmesh:workloads"]["colorapp"]["versions"][index].update(values)


def _health_check(**values: Any) -> Change:
    return lambda config: config["crossmesh:mesh"].setdefault("lattice", {}).update(healthCheck=values)


_CODES = "expected an HTTP code between 200 and 499, or a range of them low-high, like 200-299"


def _tags(tags: dict[str, str]) -> Change:
    return lambda config: config.update({"crossmesh:tags": tags})


CASES: list[tuple[str, Change, str]] = [
    (
        "cidr-host-bits",
        _network(cidr="172.16.0.1/16"),
        "crossmesh:network.cidr: got '172.16.0.1/16'; expected an IPv4 CIDR block with no host bits set",
    ),
    (
        "cidr-garbage",
        _network(cidr="172.16.0.0/33"),
        "crossmesh:network.cidr: got '172.16.0.0/33'; expected an IPv4",
    ),
    (
        "service-cidr-overlaps-vpc",
        _network(serviceCidr="172.16.128.0/20"),
        "crossmesh:network.serviceCidr: got '172.16.128.0/20'; overlaps the VPC block 172.16.0.0/16",
    ),
    (
        "service-cidr-public",
        _network(serviceCidr="8.8.0.0/16"),
        "crossmesh:network.serviceCidr: got '8.8.0.0/16'; expected a block inside 10.0.0.0/8",
    ),
    (
        "subnets-dont-fit",
        _network(azCount=3, privateSubnetPrefix=17),
        "crossmesh:network.privateSubnetPrefix: got 17; subnets don't fit: 3 private /17 and 3 public /24",
    ),
    (
        "subnet-bigger-than-vpc",
        _network(cidr="10.0.0.0/20", privateSubnetPrefix=19),
        "crossmesh:network.privateSubnetPrefix: got 19; a /19 subnet is larger than the /20 VPC",
    ),
    ("az-count-one", _network(azCount=1), "crossmesh:network.azCount: got 1; expected a number >= 2"),
    ("nodes-zero", _nodes(1, min=0), "crossmesh:clusters[1].nodes.min: got 0; expected a number >= 1"),
    (
        "desired-zero",
        _nodes(0, desired=0),
        "crossmesh:clusters[0].nodes.desired: got 0; expected a number >= 1",
    ),
    ("min-above-max", _nodes(1, min=5), "crossmesh:clusters[1].nodes.min: got 5; expected min <= max (4)"),
    (
        "desired-outside",
        _nodes(0, desired=9),
        "crossmesh:clusters[0].nodes.desired: got 9; expected desired between min (2) and max (3)",
    ),
    (
        "instance-type-empty",
        _nodes(0, instanceTypes=[""]),
        "crossmesh:clusters[0].nodes.instanceTypes[0]: got ''; expected an EC2 instance type",
    ),
    (
        "instance-types-none",
        _nodes(0, instanceTypes=[]),
        "crossmesh:clusters[0].nodes.instanceTypes: got []; expected at least 1 item(s)",
    ),
    (
        "instance-types-mixed-arch",
        _nodes(0, instanceTypes=["m6i.large", "m7g.large"]),
        'crossmesh:clusters[0].nodes.instanceTypes: got ["m6i.large", "m7g.large"]; '
        "expected instance types of one architecture",
    ),
    (
        "region-unknown",
        lambda c: c.update({"aws:region": "us-esat-1"}),
        "aws:region: got 'us-esat-1'; expected an AWS region where EKS is available, as botocore knows them "
        "(did you mean 'us-east-1'?)",
    ),
    ("region-missing", lambda c: c.pop("aws:region"), "aws:region: got (missing); expected the AWS region"),
    (
        "cluster-name-not-dns",
        _cluster(0, name="EKS_1"),
        "crossmesh:clusters[0].name: got 'EKS_1'; expected 1-31 lowercase letters and digits",
    ),
    (
        "cluster-name-with-hyphen",
        _cluster(0, name="eks-1"),
        "crossmesh:clusters[0].name: got 'eks-1'; expected 1-31 lowercase letters and digits starting with "
        "a letter, without '-'",
    ),
    (
        "operator-not-a-role",
        lambda c: c.__setitem__("crossmesh:operators", ["arn:aws:sts::111122223333:assumed-role/ops/me"]),
        "crossmesh:operators[0]: got 'arn:aws:sts::111122223333:assumed-role/ops/me'; expected an IAM role ARN",
    ),
    (
        "mesh-name-not-dns",
        lambda c: c["crossmesh:mesh"].update(name="Global Mesh"),
        "crossmesh:mesh.name: got 'Global Mesh'; expected a DNS label",
    ),
    (
        "cloud-map-namespace-not-dns",
        lambda c: c["crossmesh:mesh"].update(cloudMapNamespace="local"),
        "crossmesh:mesh.cloudMapNamespace: got 'local'; expected a lowercase DNS name of at least two labels",
    ),
    (
        "k8s-namespace-not-dns",
        lambda c: c["crossmesh:workloads"].update(namespace="AppMesh"),
        "crossmesh:workloads.namespace: got 'AppMesh'; expected a DNS label",
    ),
    (
        "duplicate-cluster",
        _cluster(1, name="eksc1"),
        "crossmesh:clusters[1].name: got 'eksc1'; expected a name no other cluster uses",
    ),
    (
        "front-unknown-cluster",
        lambda c: c["crossmesh:workloads"]["front"].update(cluster="eksc9"),
        "crossmesh:workloads.front.cluster: got 'eksc9'; unknown cluster 'eksc9'; expected one of eksc1, eksc2",
    ),
    (
        "version-unknown-cluster",
        _version(1, cluster="eksc9"),
        "crossmesh:workloads.colorapp.versions[1].cluster: got 'eksc9'; unknown cluster 'eksc9'",
    ),
    (
        "weight-fraction",
        _version(0, weight=50.5),
        "crossmesh:workloads.colorapp.versions[0].weight: got 50.5; expected a whole number",
    ),
    (
        "weight-string",
        _version(0, weight="50"),
        "crossmesh:workloads.colorapp.versions[0].weight: got '50'; expected a whole number",
    ),
    (
        "weight-above-100",
        _version(1, weight=101),
        "crossmesh:workloads.colorapp.versions[1].weight: got 101; expected a number <= 100",
    ),
    (
        "weight-negative",
        _version(1, weight=-1),
        "crossmesh:workloads.colorapp.versions[1].weight: got -1; expected a number >= 0",
    ),
    (
        "weights-all-zero",
        lambda c: [v.update(weight=0) for v in c["crossmesh:workloads"]["colorapp"]["versions"]],
        "crossmesh:workloads.colorapp.versions: got [{",
    ),
    (
        "duplicate-color",
        _version(1, color="blue"),
        "crossmesh:workloads.colorapp.versions[1].color: got 'blue'; expected a color not used by another version",
    ),
    (
        "port-zero",
        lambda c: c["crossmesh:workloads"].update(port=0),
        "crossmesh:workloads.port: got 0; expected a number >= 1",
    ),
    (
        "port-too-high",
        lambda c: c["crossmesh:workloads"].update(port=70000),
        "crossmesh:workloads.port: got 70000; expected a number <= 65535",
    ),
    (
        "unknown-top-level-key",
        lambda c: c.update({"crossmesh:netwrok": {}}),
        "crossmesh:netwrok: got {}; unknown key; did you mean 'crossmesh:network'?",
    ),
    (
        "unknown-nested-key",
        _cluster(0, nodez={"min": 1}),
        "crossmesh:clusters[0].nodez: got {\"min\": 1}; unknown key; did you mean 'nodes'?",
    ),
    (
        "unknown-deep-key",
        _version(0, wieght=10),
        "crossmesh:workloads.colorapp.versions[0].wieght: got 10; unknown key; did you mean 'weight'?",
    ),
    (
        "availability-zones-wrong-count",
        _network(availabilityZones=["us-east-1a"]),
        'crossmesh:network.availabilityZones: got ["us-east-1a"]; expected exactly azCount (2) zones',
    ),
    (
        "kubernetes-version-unsupported",
        lambda c: c.update({"crossmesh:kubernetesVersion": "1.12"}),
        "crossmesh:kubernetesVersion: got '1.12'; expected one of 1.32, 1.33, 1.34, 1.35",
    ),
    (
        "backend-unknown",
        lambda c: c["crossmesh:mesh"].update(backend="istio"),
        "crossmesh:mesh.backend: got 'istio'; expected 'appmesh'",
    ),
    (
        "admin-arn-invalid",
        _cluster(0, adminPrincipalArns=["admin"]),
        "crossmesh:clusters[0].adminPrincipalArns[0]: got 'admin'; expected an IAM role or user ARN",
    ),
    *(
        (
            f"tag-of-the-program-{key}",
            _tags({"team": "a", key: "other"}),
            f"crossmesh:tags.{key}: got 'other'; {key!r} is a tag the program sets itself (it finds and "
            "names this stack's resources by them); expected a key other than project, environment, "
            "managed-by, Name, crossmesh/tier and not under kubernetes.io/",
        )
        for key in (
            "project",
            "environment",
            "managed-by",
            "Name",
            "crossmesh/tier",
            "kubernetes.io/cluster/x",
        )
    ),
    (
        "traffic-weights-unknown-color",
        lambda c: c.update({"crossmesh:trafficWeights": {"blue": 70, "green": 30}}),
        "crossmesh:trafficWeights.green: got 30; no version is 'green'; expected a weight for each version "
        "and no other: blue, red",
    ),
    (
        "traffic-weights-missing-color",
        lambda c: c.update({"crossmesh:trafficWeights": {"blue": 100}}),
        'crossmesh:trafficWeights: got {"blue": 100}; expected a weight for each version and no other: '
        "blue, red",
    ),
    (
        "traffic-weights-sum",
        lambda c: c.update({"crossmesh:trafficWeights": {"blue": 70, "red": 70}}),
        'crossmesh:trafficWeights: got {"blue": 70, "red": 70}; weights add up to 140; expected weights '
        "summing to 100",
    ),
    *(
        (
            f"status-match-{name}",
            _health_check(statusMatch=given),
            f"crossmesh:mesh.lattice.healthCheck.statusMatch: got {given!r}; {expected}",
        )
        for name, given, expected in (
            ("reversed", "299-200", f"a reversed range; {_CODES} (write 200-299)"),
            ("above-499", "200-599", f"codes outside 200-499; {_CODES}"),
            ("below-200", "100", f"codes outside 200-499; {_CODES}"),
            ("not-a-code", "2xx", _CODES),
        )
    ),
    (
        "router-cluster-without-colorapp",
        lambda c: c["crossmesh:workloads"]["colorapp"].update(routerCluster="eksc1"),
        "crossmesh:workloads.colorapp.routerCluster: got 'eksc1'; 'eksc1' runs no colorapp version",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in CASES], ids=[i for i, _, _ in CASES])
def test_bad_config_is_named_precisely(change: Change, expected: str) -> None:
    found = problems(change)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    def many(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["name"] = "Bad_Name"
        config["crossmesh:clusters"][1]["nodes"]["min"] = 0
        config["crossmesh:workloads"]["port"] = 0

    found = problems(many)
    assert len(found) == 3, found


def test_missing_clusters_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"aws:region": "us-east-1"}, "dev")
    assert [str(p) for p in caught.value.problems] == [
        "crossmesh:clusters: got (missing); expected a list of clusters, each with at least a name"
    ]


def test_error_message_names_the_file() -> None:
    with pytest.raises(
        ConfigError, match=r"invalid configuration in Pulumi\.dev\.yaml:\n  - crossmesh:workloads"
    ):
        parse_stack_file(
            variant("dev", lambda c: c["crossmesh:workloads"].update(port=0)), "dev", source="Pulumi.dev.yaml"
        )


# A value of the wrong kind is answered with what to write, in words ---------------------------------

_MESH_KEYS = (
    "backend, name, cloudMapNamespace, egressFilter, tracing, controllerChartVersion, controllerReplicas, "
    "route, lattice"
)
_CLUSTER_KEYS = (
    "name, kubernetesVersion, nodes, endpoint, adminPrincipalArns, logRetentionDays (name required)"
)


def _relax(**values: Any) -> Change:
    return lambda config: config["crossmesh:policy"]["relax"][0].update(values)


WRONG_KIND: list[tuple[str, Change, str]] = [
    (
        "scalar-for-mapping",
        lambda c: c.update({"crossmesh:mesh": 5}),
        f"crossmesh:mesh: got 5; expected a mapping with keys {_MESH_KEYS}",
    ),
    (
        "list-for-mapping",
        lambda c: c.update({"crossmesh:network": ["10.0.0.0/16"]}),
        'crossmesh:network: got ["10.0.0.0/16"]; expected a mapping with keys cidr, azCount, '
        "privateSubnetPrefix, publicSubnetPrefix, natGateways, flowLogs, flowLogRetentionDays, serviceCidr, "
        "availabilityZones",
    ),
    (
        "mapping-for-list",
        lambda c: c.update({"crossmesh:clusters": {"name": "eksc1"}}),
        'crossmesh:clusters: got {"name": "eksc1"}; expected a list, each item a mapping with keys '
        + _CLUSTER_KEYS,
    ),
    (
        "scalar-for-list-item",
        lambda c: c["crossmesh:clusters"].__setitem__(0, "eksc1"),
        f"crossmesh:clusters[0]: got 'eksc1'; expected a mapping with keys {_CLUSTER_KEYS}",
    ),
    (
        "scalar-for-list-of-strings",
        _nodes(0, instanceTypes="t3.medium"),
        "crossmesh:clusters[0].nodes.instanceTypes: got 't3.medium'; expected a list, each item an EC2 "
        "instance type such as t3.medium or m6i.large",
    ),
    (
        "scalar-for-list-of-zones",
        _network(availabilityZones="us-east-1a"),
        "crossmesh:network.availabilityZones: got 'us-east-1a'; expected a list, each item a zone name, "
        "like us-east-1a",
    ),
    (
        "mapping-for-string",
        lambda c: c["crossmesh:mesh"].update(name={"value": "global"}),
        'crossmesh:mesh.name: got {"value": "global"}; expected a DNS label: 1-63 lowercase letters, '
        "digits and '-', like appmesh-demo",
    ),
    (
        "list-for-tags",
        lambda c: c.update({"crossmesh:tags": ["team"]}),
        'crossmesh:tags: got ["team"]; expected a mapping of names to values, each value a string',
    ),
    (
        "health-check-path-not-a-path",
        _health_check(path="healthz"),
        "crossmesh:mesh.lattice.healthCheck.path: got 'healthz'; expected a path starting with / of at most "
        "2048 characters, made of letters, digits and @ : % _ + . ~ # ? & / = - (what VPC Lattice takes; "
        "percent-encode anything else), like /healthz",
    ),
    (
        "health-check-path-with-space",
        _health_check(path="/health z"),
        "crossmesh:mesh.lattice.healthCheck.path: got '/health z'; expected a path starting with / of at most "
        "2048 characters, made of letters, digits and @ : % _ + . ~ # ? & / = - (what VPC Lattice takes; "
        "percent-encode anything else), like /healthz",
    ),
    (
        "relaxed-policy-not-an-id",
        _relax(policy="No SSH"),
        "crossmesh:policy.relax[0].policy: got 'No SSH'; expected a policy id: lowercase letters, digits "
        "and '-', starting with a letter or digit, like eks-endpoint-public-access-restricted "
        "(docs/security.md lists them)",
    ),
    (
        "relax-reason-too-short",
        _relax(reason="because"),
        "crossmesh:policy.relax[0].reason: got 'because'; expected at least 10 character(s)",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in WRONG_KIND], ids=[i for i, _, _ in WRONG_KIND]
)
def test_a_value_of_the_wrong_kind_says_what_to_write(change: Change, expected: str) -> None:
    found = problems(change)
    assert found == [expected]
    # Nothing of pydantic's own vocabulary or a regular expression reaches the user.
    for leaked in ("valid tuple", "valid dictionary", "instance of", "should match pattern", "^", "$"):
        assert leaked not in found[0]


# Pulumi passes a mapping or a list as JSON text: text that is not JSON is said to be so ----------------

_NOT_JSON = "expected a JSON object {...} or array [...], which is how Pulumi passes a mapping or a list"
# Python 3.13 names a trailing comma itself (and points at the comma); 3.11 and 3.12 expected another key.
_TRAILING_COMMA = (
    'illegal trailing comma before end of object at line 1 column 22 (near \'end": "lattice",}\'); '
    if sys.version_info >= (3, 13)
    else 'expecting property name enclosed in double quotes at line 1 column 23 (near \'nd": "lattice",}\'); '
)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        (
            "crossmesh:mesh",
            '{"backend": "lattice",}',
            'crossmesh:mesh: got \'{"backend": "lattice",}\'; not valid JSON: ' + _TRAILING_COMMA + _NOT_JSON,
        ),
        (
            "crossmesh:clusters",
            '[{"name": "eksc1"',
            "crossmesh:clusters: got '[{\"name\": \"eksc1\"'; not valid JSON: expecting ',' delimiter at "
            'line 1 column 18 (near \'"name": "eksc1"\'); ' + _NOT_JSON,
        ),
        (
            # Past the 80 characters a value is shown with, the snippet still points at the fault.
            "crossmesh:workloads",
            '{"namespace": "appmesh-demo", "port": 8080,\n "front": {"cluster": "eksc1", "replicas": 1 }},',
            'crossmesh:workloads: got \'{"namespace": "appmesh-demo", "port": 8080,\\n "front": '
            '{"cluster": "eksc1", ...; not valid JSON: extra data at line 2 column 48 '
            "(near 'replicas\": 1 }},'); " + _NOT_JSON,
        ),
    ],
    ids=["trailing-comma", "unterminated", "long"],
)
def test_a_value_that_is_not_json_is_named_so(key: str, text: str, expected: str) -> None:
    raw = {**flat(stack_document("dev")), key: text}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "dev")
    assert [str(p) for p in caught.value.problems] == [expected]


# A YAML boolean or number where text belongs says how YAML made it -------------------------------------

_DNS_LABEL = "expected a DNS label: 1-63 lowercase letters, digits and '-', like appmesh-demo"
_BOOLEANS = "unquoted true and false are booleans: quote it"


def _yaml(path: str, text: str) -> Change:
    """Set the mapping at ``path`` (keys joined by '/') to ``text`` as YAML reads it."""

    def change(config: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = config
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = yaml.safe_load(text)

    return change


YAML_SCALARS: list[tuple[str, Change, str]] = [
    (
        "true",
        _yaml("crossmesh:workloads/colorapp/versions/0", "{color: true, cluster: eksc2, weight: 50}"),
        "crossmesh:workloads.colorapp.versions[0].color: got true, a YAML boolean "
        f"({_BOOLEANS}, e.g. color: 'true'); {_DNS_LABEL}",
    ),
    (
        "false",
        _yaml("crossmesh:workloads/colorapp/versions/1", "{color: false, cluster: eksc2, weight: 50}"),
        "crossmesh:workloads.colorapp.versions[1].color: got false, a YAML boolean "
        f"({_BOOLEANS}, e.g. color: 'false'); {_DNS_LABEL}",
    ),
    (
        "true-as-a-tag-value",
        _yaml("crossmesh:tags", "{team: true}"),
        f"crossmesh:tags.team: got true, a YAML boolean ({_BOOLEANS}, e.g. team: 'true'); expected a string",
    ),
    (
        "false-for-one-of-words",
        _yaml("crossmesh:mesh/tracing", "false"),
        f"crossmesh:mesh.tracing: got false, a YAML boolean ({_BOOLEANS}, e.g. tracing: 'false'); "
        "expected 'none' or 'x-ray'",
    ),
    (
        "whole-number",
        _yaml("crossmesh:mesh/name", "5"),
        f"crossmesh:mesh.name: got 5, a YAML number (quote it: name: '5'); {_DNS_LABEL}",
    ),
    (
        "decimal-version",
        _yaml("crossmesh:clusters/0/kubernetesVersion", "1.30"),
        "crossmesh:clusters[0].kubernetesVersion: got 1.3, a YAML number (quote it as written: unquoted, "
        "1e3 reads as 1000 and 1.30 as 1.3); expected one of 1.32, 1.33, 1.34, 1.35 (a quoted string)",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in YAML_SCALARS], ids=[i for i, _, _ in YAML_SCALARS]
)
def test_a_yaml_boolean_or_number_where_text_belongs_says_to_quote_it(change: Change, expected: str) -> None:
    assert problems(change) == [expected]


def test_only_text_gets_the_word_about_quoting() -> None:
    # A boolean where a number belongs is not a quoting slip: the port is told what it needs, the
    # color how YAML read it.
    def both(config: dict[str, Any]) -> None:
        _yaml("crossmesh:workloads/port", "true")(config)
        _yaml("crossmesh:workloads/colorapp/versions/0/color", "true")(config)

    assert problems(both) == [
        "crossmesh:workloads.port: got true; expected a whole number",
        f"crossmesh:workloads.colorapp.versions[0].color: got true, a YAML boolean ({_BOOLEANS}, e.g. "
        f"color: 'true'); {_DNS_LABEL}",
    ]


# A value directly under config: reaches the program as the text written (Pulumi's rule) ---------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [("true", True), ("True", True), ("TRUE", True), ("False", False), ("FALSE", False)],
)
def test_deletion_protection_takes_every_spelling_yaml_reads_as_a_boolean(
    written: str, expected: bool
) -> None:
    # `pulumi up` hands the program `True` as the text True (config/value.go tries a string first).
    raw = {**flat(stack_document("dev")), "crossmesh:deletionProtection": written}
    assert parse_config(raw, "dev").deletion_protection is expected


@pytest.mark.parametrize("written", ["yes", "on", "1", ""])
def test_deletion_protection_refuses_what_yaml_does_not_read_as_a_boolean(written: str) -> None:
    raw = {**flat(stack_document("dev")), "crossmesh:deletionProtection": written}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "dev")
    assert [p.key for p in caught.value.problems] == ["crossmesh:deletionProtection"]
    assert str(caught.value.problems[0]).endswith("expected true or false")


def test_an_unquoted_version_pulumi_would_pass_as_another_number_is_refused(tmp_path: Path) -> None:
    from automation.environment import read_stack_document

    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    assert 'crossmesh:kubernetesVersion: "1.35"' in text
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        text.replace('kubernetesVersion: "1.35"', "kubernetesVersion: 1.30"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        parse_stack_file(read_stack_document(stack_file), "dev")
    # Pulumi would pass the number 1.3 to the program, not the text 1.30.
    assert [str(p) for p in caught.value.problems] == [
        "Pulumi.dev.yaml:8:32: got '1.30'; expected crossmesh:kubernetesVersion written as Pulumi passes it "
        "to the program, 1.3, or in quotes if the text 1.30 is meant: directly under config:, Pulumi's YAML "
        "reader turns an unquoted number into its own form of it"
    ]
    # A supported version written unquoted is the same version.
    stack_file.write_text(
        text.replace('kubernetesVersion: "1.35"', "kubernetesVersion: 1.34"), encoding="utf-8"
    )
    assert parse_stack_file(read_stack_document(stack_file), "dev").kubernetes_version == "1.34"


# Node counts stay within EKS's quota of nodes per managed node group ---------------------------------

_NODES_QUOTA = (
    "expected at most 450 nodes: Amazon EKS's default quota of nodes per managed node group "
    "(Service Quotas, 'Nodes per managed node group')"
)


def test_a_node_group_beyond_the_eks_quota_is_refused() -> None:
    def huge(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["nodes"] = {"min": 1, "desired": 1_000_000, "max": 1_000_000}

    assert problems(huge) == [
        f"crossmesh:clusters[0].nodes.desired: got 1000000; {_NODES_QUOTA}",
        f"crossmesh:clusters[0].nodes.max: got 1000000; {_NODES_QUOTA}",
    ]


@pytest.mark.parametrize("key", ["min", "desired", "max"])
def test_each_node_count_is_bounded_by_the_quota(key: str) -> None:
    # 450 itself is within the quota: only the key at 451 is named.
    sizes = {"min": 1, "desired": 1, "max": 450, key: 451}
    assert problems(_nodes(1, **sizes)) == [f"crossmesh:clusters[1].nodes.{key}: got 451; {_NODES_QUOTA}"]


def test_lattice_resync_below_the_controllers_floor_is_refused_before_deploy() -> None:
    """The Gateway API controller v2.1.3 exits at start-up when RECONCILE_DEFAULT_RESYNC_SECONDS (the
    chart's reconcileDefaultResyncSeconds) is between 1 and 59 ("must be 0 (disabled) or at least 60
    seconds": pkg/config/controller_config.go in aws/aws-application-networking-k8s), which would leave
    the release crash-looping; the configuration refuses it first, naming the key."""

    def resync(seconds: int) -> Change:
        return lambda config: config["crossmesh:mesh"].setdefault("lattice", {}).update(resyncSeconds=seconds)

    assert problems(resync(59)) == ["crossmesh:mesh.lattice.resyncSeconds: got 59; expected a number >= 60"]
    assert parse("dev", resync(60)).mesh.lattice.resync_seconds == 60
