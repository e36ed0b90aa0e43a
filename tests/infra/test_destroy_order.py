"""The order `destroy` takes, read off the recorded graph of the real program.

The engine deletes a resource only after everything that depends on it, and a resource depends on
its explicit dependencies, on everything inside a component it depends on, and on its provider (a
provider is deleted after the resources it manages: https://github.com/pulumi/pulumi/pull/15322).
``destroy_order`` below is that rule applied to the recording; the tests assert what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from automation.recorder import Recording, Registration
from tests.support import inputs, record_env

K8S_PROVIDER = "pulumi:providers:kubernetes"
NODE_GROUP = "eks:index:ManagedNodeGroup"
GATE = "pulumi-python:dynamic:Resource"
RELEASE = "kubernetes:helm.sh/v3:Release"
APPMESH = "kubernetes:appmesh.k8s.aws/v1beta2"
LATTICE_KINDS = (
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    "kubernetes:application-networking.k8s.aws/v1alpha1:ServiceExport",
    "kubernetes:application-networking.k8s.aws/v1alpha1:ServiceImport",
    "kubernetes:application-networking.k8s.aws/v1alpha1:TargetGroupPolicy",
)


def _edges(recording: Recording, resource: Registration) -> Iterator[str]:
    yield from resource.dependencies
    if resource.provider:
        yield resource.provider
    for dependency in resource.dependencies:
        try:
            node = recording.by_urn(dependency)
        except KeyError:
            continue
        yield from (d.urn for d in recording.descendants(node))


def waits_for(recording: Recording, dependent: Registration, dependency: Registration) -> bool:
    """True when the engine creates ``dependency`` before ``dependent`` (and destroys it after)."""
    seen: set[str] = set()
    frontier = list(_edges(recording, dependent))
    while frontier:
        urn = frontier.pop()
        if urn == dependency.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        try:
            frontier.extend(_edges(recording, recording.by_urn(urn)))
        except KeyError:
            continue
    return False


def destroy_order(recording: Recording) -> list[str]:
    """Custom resources in an order `destroy` may take: every resource before what it waits for."""
    custom = [r for r in recording if r.custom or r.remote or r.type.startswith("pulumi:providers:")]
    urns = {r.urn for r in custom}
    waits = {r.urn: {u for u in _closure(recording, r) if u in urns} for r in custom}
    order: list[str] = []
    remaining = dict(waits)
    while remaining:
        # Deletable now: nothing still standing waits for it.
        ready = sorted(u for u in remaining if not any(u in deps for v, deps in remaining.items() if v != u))
        assert ready, "cycle in the recorded graph"
        order.extend(ready)
        for urn in ready:
            del remaining[urn]
    return order


def _closure(recording: Recording, resource: Registration) -> set[str]:
    seen: set[str] = set()
    frontier = list(_edges(recording, resource))
    while frontier:
        urn = frontier.pop()
        if urn in seen:
            continue
        seen.add(urn)
        try:
            frontier.extend(_edges(recording, recording.by_urn(urn)))
        except KeyError:
            continue
    return seen


def _cluster_of(recording: Recording, resource: Registration) -> str:
    return recording.by_urn(resource.provider or "").name.removesuffix("-k8s")


def _kubernetes_objects(recording: Recording) -> list[Registration]:
    return [r for r in recording if r.type.startswith("kubernetes:") and r.provider]


@pytest.mark.parametrize("env", ["appmesh", "dev"])
def test_every_kubernetes_object_and_release_waits_for_its_nodes_and_the_endpoint_gate(env: str) -> None:
    recording = record_env(env)
    objects = _kubernetes_objects(recording)
    assert len(objects) > 20
    assert any(r.type == RELEASE for r in objects)
    for resource in objects:
        cluster = _cluster_of(recording, resource)
        nodes = recording.named(NODE_GROUP, f"{cluster}-nodes")
        gate = recording.named(GATE, f"{cluster}-endpoint-ready")
        assert waits_for(recording, resource, nodes), resource.name
        assert waits_for(recording, resource, gate), resource.name


def test_the_gate_waits_for_the_cluster_and_reads_its_endpoint_from_the_kubeconfig() -> None:
    recording = record_env("dev")
    gate = recording.named(GATE, "eksc1-endpoint-ready")
    assert waits_for(recording, gate, recording.named("eks:index:Cluster", "eksc1-eks"))
    assert gate.inputs["clusterName"] == "eksc1-dev"
    assert '"server": "https://<eksc1-eks.endpoint>"' in gate.inputs["kubeconfig"]
    assert "kubeconfig" in gate.secret_paths
    provider = recording.named(K8S_PROVIDER, "eksc1-k8s")
    assert gate.urn in provider.dependencies
    assert recording.named(NODE_GROUP, "eksc1-nodes").urn in provider.dependencies


def test_destroy_removes_objects_then_releases_then_nodes() -> None:
    recording = record_env("appmesh")  # App Mesh's custom resources carry the controller's finalizers
    order = destroy_order(recording)
    position = {urn: index for index, urn in enumerate(order)}
    for cluster in ("eksc1", "eksc2"):
        release = recording.named(RELEASE, f"{cluster}-mesh-controller-release")
        nodes = recording.named(NODE_GROUP, f"{cluster}-nodes")
        provider = recording.named(K8S_PROVIDER, f"{cluster}-k8s")
        mesh_objects = [
            r for r in recording if r.type.startswith(APPMESH) and _cluster_of(recording, r) == cluster
        ]
        assert mesh_objects
        for resource in mesh_objects:
            assert position[resource.urn] < position[release.urn], resource.name
        assert position[release.urn] < position[provider.urn] < position[nodes.urn]


def test_appmesh_nodes_routers_and_services_go_before_every_mesh_of_the_stack() -> None:
    recording = record_env("appmesh")
    meshes = recording.of_type(f"{APPMESH}:Mesh")
    assert len(meshes) == 2
    others = [r for r in recording if r.type.startswith(APPMESH) and not r.type.endswith(":Mesh")]
    assert {r.type.rsplit(":", 1)[-1] for r in others} == {"VirtualNode", "VirtualRouter", "VirtualService"}
    order = destroy_order(recording)
    for resource in others:
        for mesh in meshes:
            assert waits_for(recording, resource, mesh), (resource.name, mesh.name)
            assert order.index(resource.urn) < order.index(mesh.urn)


def test_lattice_route_exports_imports_and_policies_go_before_every_controller() -> None:
    recording = record_env("dev")
    releases = recording.of_type(RELEASE)
    assert len(releases) == 2
    objects = [r for r in recording if r.type in LATTICE_KINDS]
    assert {r.type for r in objects} == set(LATTICE_KINDS)
    order = destroy_order(recording)
    for resource in objects:
        own = recording.named(RELEASE, f"{_cluster_of(recording, resource)}-mesh-controller-release")
        # Its own cluster's controller deletes the Lattice service or target group it made.
        assert waits_for(recording, resource, own), resource.name
        assert order.index(resource.urn) < order.index(own.urn)


def test_front_load_balancer_goes_before_the_internet_gateway_and_public_routes() -> None:
    recording = record_env("dev")
    service = recording.named("kubernetes:core/v1:Service", "eksc1-apps-front-service")
    assert inputs(recording, "kubernetes:core/v1:Service", "eksc1-apps-front-service")["spec"]["type"] == (
        "LoadBalancer"
    )
    path = [
        recording.named("aws:ec2/internetGateway:InternetGateway", "network-igw"),
        recording.named("aws:ec2/routeTable:RouteTable", "network-public"),
        *(
            r
            for r in recording.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
            if r.name.startswith("network-public-")
        ),
    ]
    assert len(path) == 4
    order = destroy_order(recording)
    for resource in path:
        assert waits_for(recording, service, resource), resource.name
        assert order.index(service.urn) < order.index(resource.urn)


def test_ecr_repositories_are_deleted_with_their_images() -> None:
    recording = record_env("dev")
    repositories = recording.of_type("aws:ecr/repository:Repository")
    assert {r.inputs["name"] for r in repositories} == {"crossmesh-dev/front", "crossmesh-dev/colorapp"}
    assert all(r.inputs["forceDelete"] is True for r in repositories)


def test_image_tags_change_with_the_target_platforms() -> None:
    from infra.topology import AppKind
    from tests.support import PROJECT_DIR
    from workloads.deploy.images import source_tag

    amd = source_tag(PROJECT_DIR, AppKind.FRONT, ["linux/amd64"])
    both = source_tag(PROJECT_DIR, AppKind.FRONT, ["linux/arm64", "linux/amd64"])
    assert amd != both
    assert both == source_tag(PROJECT_DIR, AppKind.FRONT, ["linux/amd64", "linux/arm64"])
    assert amd == source_tag(PROJECT_DIR, AppKind.FRONT)


def test_access_entries_are_keyed_by_principal_not_position() -> None:
    from infra.cluster import admin_principals

    ops, oncall = "arn:aws:iam::111122223333:role/ops", "arn:aws:iam::111122223333:role/team/oncall"
    before = admin_principals([ops], [oncall])
    after = admin_principals([], [oncall])  # the first admin removed
    assert after == {k: v for k, v in before.items() if v == oncall}
    assert [k.rsplit("-", 1)[0] for k in sorted(before)] == ["role-oncall", "role-ops"]
    # The same role written with or without its path is one entry (EKS allows one per principal).
    assert len(admin_principals(["arn:aws:iam::111122223333:role/oncall"], [oncall])) == 1
