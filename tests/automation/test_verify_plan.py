"""build_verify_plan: configuration + stack outputs -> the exact names and places verification checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.environment import load_environment
from automation.verify.model import VersionPods
from automation.verify_plan import PlanError, build_verify_plan
from infra.config import StackConfig
from infra.config_parse import parse_stack_file
from tests.support import PROJECT_DIR, stack_document, three_clusters, variant

KUBECONFIG = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []})


def dev() -> StackConfig:
    config, _ = load_environment(PROJECT_DIR, "appmesh")
    return config


def outputs_for(*clusters: str, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "region": "us-east-1",
        "frontUrl": "http://a1b2c3.us-east-1.elb.amazonaws.com/color",
        "cloudMapNamespace": {"name": "appmesh-demo.pvt.aws.local", "id": "ns-abc"},
        "clusters": {
            name: {"eksName": f"{name}-dev", "kubeconfig": KUBECONFIG.replace("[]", f'["{name}"]', 1)}
            for name in clusters
        },
    }
    return document | extra


def test_dev_plan_has_the_exact_aws_names_selectors_and_places() -> None:
    plan = build_verify_plan(dev(), outputs_for("eksc1", "eksc2"))
    assert plan.region == "us-east-1"
    assert plan.mesh_name == "global"
    assert plan.cloudmap_namespace == "appmesh-demo.pvt.aws.local"
    assert plan.service_name == "colorapp"
    assert plan.k8s_namespace == "appmesh-demo"
    assert dict(plan.weights) == {"blue": 50, "red": 50}
    assert dict(plan.virtual_node_names) == {
        "blue": "colorapp-blue_appmesh-demo",
        "red": "colorapp-red_appmesh-demo",
    }
    assert plan.router_name == "colorapp-router_appmesh-demo"
    assert plan.route_name == "color-route"
    assert plan.virtual_service_name == "colorapp.appmesh-demo.pvt.aws.local"
    assert plan.front_node_name == "front_appmesh-demo"
    assert plan.tracing is False
    assert plan.front_url == "http://a1b2c3.us-east-1.elb.amazonaws.com/color"
    assert {k: list(v) for k, v in plan.pod_selectors.items()} == {
        "eksc1": ["app=front"],
        "eksc2": ["app=colorapp"],
    }
    # each cluster gets its own kubeconfig, not a shared one
    assert json.loads(plan.kubeconfigs["eksc1"])["clusters"] == ["eksc1"]
    assert json.loads(plan.kubeconfigs["eksc2"])["clusters"] == ["eksc2"]


def test_three_clusters_front_blue_red_each_in_their_own() -> None:
    document = variant("appmesh", three_clusters)
    config = parse_stack_file(document, "appmesh")
    plan = build_verify_plan(config, outputs_for("eksc1", "eksc2", "eksc3"))
    assert {k: list(v) for k, v in plan.pod_selectors.items()} == {
        "eksc1": ["app=front"],
        "eksc2": ["app=colorapp"],
        "eksc3": ["app=colorapp"],
    }
    assert set(plan.kubeconfigs) == {"eksc1", "eksc2", "eksc3"}
    assert dict(plan.virtual_node_names) == {
        "blue": "colorapp-blue_appmesh-demo",
        "red": "colorapp-red_appmesh-demo",
    }
    assert plan.router_name == "colorapp-router_appmesh-demo"


def test_names_follow_the_configuration() -> None:
    def rename(config: dict[str, Any]) -> None:
        config["crossmesh:mesh"]["name"] = "shop"
        config["crossmesh:mesh"]["cloudMapNamespace"] = "shop.internal"
        config["crossmesh:mesh"]["tracing"] = "x-ray"
        workloads = config["crossmesh:workloads"]
        workloads["namespace"] = "store"
        workloads["colorapp"]["name"] = "paint"
        workloads["colorapp"]["versions"] = [
            {"color": "green", "cluster": "eksc2", "weight": 90},
            {"color": "gray", "cluster": "eksc2", "weight": 10},
        ]

    plan = build_verify_plan(
        parse_stack_file(variant("appmesh", rename), "appmesh"), outputs_for("eksc1", "eksc2")
    )
    assert plan.mesh_name == "shop"
    assert plan.tracing is True
    assert dict(plan.weights) == {"green": 90, "gray": 10}
    assert dict(plan.virtual_node_names) == {"green": "paint-green_store", "gray": "paint-gray_store"}
    assert plan.router_name == "paint-router_store"
    assert plan.virtual_service_name == "paint.shop.internal"
    assert plan.service_name == "paint"
    assert plan.k8s_namespace == "store"
    assert {k: list(v) for k, v in plan.pod_selectors.items()} == {
        "eksc1": ["app=front"],
        "eksc2": ["app=paint"],
    }


def test_region_comes_from_the_outputs_when_present_else_the_config() -> None:
    assert build_verify_plan(dev(), outputs_for("eksc1", "eksc2", region="eu-west-1")).region == "eu-west-1"
    without = outputs_for("eksc1", "eksc2")
    del without["region"]
    assert build_verify_plan(dev(), without).region == "us-east-1"


@pytest.mark.parametrize("url", ["http:///color", "", None])
def test_a_front_url_without_a_host_is_no_url(url: str | None) -> None:
    # Before the load balancer has a hostname the program exports "http:///color".
    assert build_verify_plan(dev(), outputs_for("eksc1", "eksc2", frontUrl=url)).front_url is None


def test_a_kubeconfig_given_as_an_object_is_serialised() -> None:
    outputs = outputs_for("eksc1", "eksc2")
    outputs["clusters"]["eksc2"]["kubeconfig"] = {"apiVersion": "v1", "kind": "Config"}
    plan = build_verify_plan(dev(), outputs)
    assert json.loads(plan.kubeconfigs["eksc2"]) == {"apiVersion": "v1", "kind": "Config"}


def test_missing_kubeconfig_names_the_output_key() -> None:
    with pytest.raises(PlanError, match=r"stack output clusters\.eksc2\.kubeconfig is missing"):
        build_verify_plan(dev(), outputs_for("eksc1"))


def test_missing_clusters_output_is_explained() -> None:
    outputs = outputs_for()
    del outputs["clusters"]
    with pytest.raises(PlanError, match="stack output clusters is missing"):
        build_verify_plan(dev(), outputs)


def test_the_committed_environments_all_build_a_plan() -> None:
    for env in ("appmesh", "staging", "prod"):
        config, _ = load_environment(PROJECT_DIR, env)
        clusters = [c.name for c in config.clusters]
        plan = build_verify_plan(config, outputs_for(*clusters))
        assert set(plan.pod_selectors) <= set(clusters)
        assert sum(plan.weights.values()) > 0
        assert stack_document(env)["config"]["crossmesh:mesh"].get("name", "global") == plan.mesh_name


def test_lattice_plan_checks_the_service_network_and_no_app_mesh_names() -> None:
    config, _ = load_environment(PROJECT_DIR, "dev")
    plan = build_verify_plan(config, outputs_for("eksc1", "eksc2"))
    assert plan.backend == "lattice"
    assert plan.service_network == "crossmesh-dev"
    assert plan.virtual_node_names == {}
    assert plan.front_node_name is None
    # the name front calls is the same for both backends
    assert plan.virtual_service_name == "colorapp.appmesh-demo.pvt.aws.local"
    assert plan.weights == {"blue": 50, "red": 50}
    assert {k: list(v) for k, v in plan.pod_selectors.items()} == {
        "eksc1": ["app=front"],
        "eksc2": ["app=colorapp"],
    }


def test_lattice_plan_names_fronts_role_for_the_auth_policy_check() -> None:
    """dev runs Lattice with IAM auth: the auth policies must name front's IRSA role, as the apps
    component names it (cluster prefix + app name); App Mesh has no such check."""
    from infra.naming import cluster_prefix
    from infra.topology import topology_of

    config, _ = load_environment(PROJECT_DIR, "dev")
    front = topology_of(config).front
    plan = build_verify_plan(config, outputs_for(*topology_of(config).clusters))
    assert plan.backend == "lattice"
    assert plan.invoker_role == f"{cluster_prefix(config.stack, front.cluster)}-{front.name}"
    assert plan.invoker_role == "crossmesh-dev-eksc1-front"
    assert build_verify_plan(dev(), outputs_for("eksc1", "eksc2")).invoker_role is None


def test_lattice_plan_knows_where_each_versions_pods_run_by_the_deployments_own_labels() -> None:
    """The targets check counts a version's Ready pods with this selector, in that version's cluster:
    it must be exactly the Deployment's matchLabels, so it matches that version's pods and no other."""
    from infra.topology import topology_of
    from workloads.deploy.manifests import deployment

    config, _ = load_environment(PROJECT_DIR, "dev")
    topology = topology_of(config)
    plan = build_verify_plan(config, outputs_for(*topology.clusters))
    assert dict(plan.version_pods) == {
        "blue": VersionPods("eksc2", "app=colorapp,version=blue"),
        "red": VersionPods("eksc2", "app=colorapp,version=red"),
    }
    for app in topology.colors:
        match = deployment(app, topology, image="i", env=[])["spec"]["selector"]["matchLabels"]
        where = plan.version_pods[str(app.version)]
        assert where.cluster == app.cluster
        assert dict(pair.split("=") for pair in where.selector.split(",")) == match


def test_the_vpc_comes_from_the_vpc_id_output() -> None:
    config, _ = load_environment(PROJECT_DIR, "dev")
    clusters = ("eksc1", "eksc2")
    assert build_verify_plan(config, outputs_for(*clusters, vpcId="vpc-0a1b2c3d4e5f60718")).vpc_id == (
        "vpc-0a1b2c3d4e5f60718"
    )
    # a stack without the output (or an empty one) judges every association of its network
    assert build_verify_plan(config, outputs_for(*clusters)).vpc_id is None
    assert build_verify_plan(config, outputs_for(*clusters, vpcId="")).vpc_id is None
    with pytest.raises(PlanError, match="stack output vpcId must be a string"):
        build_verify_plan(config, outputs_for(*clusters, vpcId=["vpc-1"]))


def test_lattice_plan_names_the_stacks_lattice_service() -> None:
    """Verification (and a shift's weights reader) find the stack's Lattice service by the name the
    route's service-name-override annotation gives it: its custom domain may be another stack's too."""
    from automation.shift.run import _lattice_observer  # pyright: ignore[reportPrivateUsage]
    from infra.mesh.lattice.objects import SERVICE_NAME_OVERRIDE, http_route
    from infra.topology import topology_of

    config, _ = load_environment(PROJECT_DIR, "dev")
    topology = topology_of(config)
    plan = build_verify_plan(config, outputs_for(*topology.clusters))
    route = http_route(topology, "crossmesh-dev", "colorapp-dev")
    assert plan.lattice_service == "colorapp-dev" == route["metadata"]["annotations"][SERVICE_NAME_OVERRIDE]
    observer = _lattice_observer(config, {})
    assert getattr(observer, "lattice_service", None) == "colorapp-dev"
    assert build_verify_plan(dev(), outputs_for("eksc1", "eksc2")).lattice_service is None
