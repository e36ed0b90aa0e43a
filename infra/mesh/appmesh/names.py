"""The physical names the App Mesh backend adds to the apps' own, for the configuration's name checks
(:mod:`infra.config_limits`): its controller's namespace, network policy and Helm release, the mesh
objects of every cluster, and the namespace's ``mesh`` label. Taken from the builders themselves."""

from __future__ import annotations

from collections.abc import Iterator

from infra.config import StackConfig
from infra.config_limits import (
    ComposedName,
    app_parts,
    colorapp_parts,
    config_key,
    helm_release,
    kubernetes_name,
    label_value,
    who,
)
from infra.mesh import common
from infra.mesh.appmesh import controller, objects
from infra.topology import Topology


def composed_names(config: StackConfig, topology: Topology) -> Iterator[ComposedName]:
    purpose = "the App Mesh controller"
    yield kubernetes_name(common.controller_namespace(controller.NAMESPACE, enforce="baseline"), (), purpose)
    yield kubernetes_name(
        common.controller_network_policy(controller.NAMESPACE, config.network.cidr), (), purpose
    )
    yield helm_release(controller.CHART, controller.NAMESPACE, purpose)
    mesh = config.mesh
    mesh_parts = ((config_key("mesh.name"), mesh.name),)
    for label, value in objects.namespace_labels(mesh.name).items():
        yield label_value(value, mesh_parts if value == mesh.name else (), label)
    apps = {app.name: app for app in topology.apps}
    for cluster in topology.clusters:
        for manifest in objects.cluster_objects(
            cluster,
            topology,
            arn_of=lambda kind, name: f"{kind}/{name}",
            mesh_name=mesh.name,
            egress_filter=mesh.egress_filter,
            route=mesh.route,
        ):
            kind = manifest["kind"]
            if kind == "Mesh":
                yield kubernetes_name(manifest, mesh_parts, "the mesh")
            elif kind == "VirtualNode":
                app = apps[manifest["metadata"]["name"]]
                yield kubernetes_name(manifest, app_parts(config, app), f"{who(app)}'s mesh node")
            elif kind == "VirtualRouter":
                yield kubernetes_name(manifest, colorapp_parts(config), "colorapp's router")
            else:
                cloud_map = (config_key("mesh.cloudMapNamespace"), mesh.cloud_map_namespace)
                yield kubernetes_name(manifest, (*colorapp_parts(config), cloud_map), "the name front calls")
